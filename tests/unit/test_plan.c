/* Unit tests for plan's output: what a hostile file name or message can do. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gitsyncd/plan.h"
#include "gitsyncd/util.h"

static struct plan
sample(void)
{
    static char *fields[] = { "name", "raw" };
    static struct plan_item items[] = {
        { "model", "m1", "models/m1.yaml", PLAN_UPDATE, fields, 2, true },
        { "model", "m5", "models/m5.yaml", PLAN_CREATE, NULL, 0, false },
        { "model", "m9", "models/m9.yaml", PLAN_UNCHANGED, NULL, 0, false },
    };
    static struct plan_error errors[] = {
        { "models/bad.yaml", 3, 1,
          "name: <img src=x onerror=alert(1)> | [click](http://evil) `code` @all\nsecond line" },
    };
    struct plan p;

    memset(&p, 0, sizeof p);
    p.workspace = "w";
    p.source = "refs/pull/7/head";
    strcpy(p.head, "0123456789abcdef0123456789abcdef01234567");
    p.items = items;
    p.nitems = 3;
    p.errors = errors;
    p.nerrors = 1;
    p.creates = 1;
    p.updates = 1;
    p.unchanged = 1;
    p.drifted = 1;
    p.max_deletes = 10;
    return p;
}

/* A message cannot break the table, open HTML, link, mention or add lines. */
static void
test_markdown_escapes(void **state)
{
    struct plan p = sample();
    char *md = plan_markdown(&p), *line;

    (void)state;
    assert_null(strstr(md, "<img"));
    assert_non_null(strstr(md, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(md, "\\| \\[click\\](http://evil) \\`code\\` \\@all second line"));
    line = strstr(md, "- models/bad.yaml:3:1: ");
    assert_non_null(line);
    assert_null(strchr(line, '\n') == NULL ? NULL : strstr(strchr(line, '\n'), "second line"));
    /* The table: one row per change, the unchanged one left out. */
    assert_non_null(strstr(md, "| update (changed on the platform since the base) | model m1 | models/m1.yaml | name, raw |\n"));
    assert_non_null(strstr(md, "| create | model m5 | models/m5.yaml |  |\n"));
    assert_null(strstr(md, "m9"));
    assert_non_null(strstr(md, ": **failed**"));
    free(md);
}

static void
test_summary_and_ok(void **state)
{
    struct plan p = sample();
    char *s = plan_summary(&p);

    (void)state;
    assert_string_equal(s, "1 to create, 1 to update, 0 to delete; 1 invalid file; "
                           "1 changed on the platform since the base");
    free(s);
    assert_false(plan_ok(&p));
    p.nerrors = 0;
    assert_true(plan_ok(&p));
    p.deletes = 11;
    p.guard = true;
    assert_false(plan_ok(&p));
    s = plan_summary(&p);
    assert_string_equal(s, "1 to create, 1 to update, 11 to delete; 11 deletions exceed max_deletes 10; "
                           "1 changed on the platform since the base");
    free(s);
}

/* A huge plan stays within what a comment may hold. */
static void
test_markdown_bounded(void **state)
{
    struct plan p = sample();
    struct plan_item *many = xcalloc(5000, sizeof *many);
    char *md;
    size_t i;

    (void)state;
    for (i = 0; i < 5000; i++) {
        many[i].kind = "model";
        many[i].slug = "a-rather-long-slug-of-a-resource-in-a-big-repository";
        many[i].path = "models/a-rather-long-slug-of-a-resource-in-a-big-repository.yaml";
        many[i].action = PLAN_DELETE;
    }
    p.items = many;
    p.nitems = 5000;
    p.deletes = 5000;
    md = plan_markdown(&p);
    assert_true(strlen(md) < 60000);
    assert_non_null(strstr(md, "| ... | and 4800 more | | |"));
    free(md);
    free(many);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_escapes),
        cmocka_unit_test(test_summary_and_ok),
        cmocka_unit_test(test_markdown_bounded),
    };

    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
