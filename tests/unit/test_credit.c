/* Unit tests for credit: identities Git can hold, whatever the platform says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gitsyncd/credit.h"

/* clean(in) == want */
static void
check_clean(const char *in, const char *want)
{
    char *got = credit_clean(in);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
test_clean_class(void **state)
{
    (void)state;
    assert_null(credit_clean(NULL));
    check_clean("", "");
    check_clean("Ada Lovelace", "Ada Lovelace");
    check_clean("  Ada \t Lovelace  ", "Ada Lovelace");
    check_clean("Eve <evil>", "Eve evil");
    check_clean("<>", "");
    check_clean("Nl\nGitsyncd-Event: forged", "Nl Gitsyncd-Event: forged");
    check_clean("cr\r\nlf", "cr lf");
    check_clean("del\x7f" "x", "del x");
    check_clean("nel\xc2\x85" "x", "nel x");           /* U+0085, a C1 control */
    check_clean("Zo\xc3\xab \xe6\x9d\xb1", "Zo\xc3\xab \xe6\x9d\xb1"); /* UTF-8 kept */
    check_clean("bad\xff" "byte", "bad?byte");
    check_clean("over\xc0\xaflong", "over??long");    /* an overlong '/' */
    check_clean("sur\xed\xa0\x80" "x", "sur???x");     /* a surrogate */
    check_clean("cut\xe6\x9d", "cut??");               /* truncated at the end */
}

static void
test_identity(void **state)
{
    char *n, *e, *t;

    (void)state;
    credit_identity("Ada", "ada@example.com", &n, &e, &t);
    assert_string_equal(n, "Ada");
    assert_string_equal(e, "ada@example.com");
    assert_string_equal(t, "Ada <ada@example.com>");
    free(n), free(e), free(t);

    credit_identity("Mallory", "", &n, &e, &t);
    assert_null(n);
    assert_null(e);
    assert_string_equal(t, "Mallory");
    free(t);

    credit_identity(NULL, "x@example.com", &n, &e, &t);
    assert_null(n);
    assert_string_equal(t, "<x@example.com>");
    free(t);

    credit_identity("\n", "<>", &n, &e, &t);
    assert_null(n);
    assert_null(e);
    assert_null(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_class),
        cmocka_unit_test(test_identity),
    };

    return cmocka_run_group_tests_name("credit", tests, NULL, NULL);
}
