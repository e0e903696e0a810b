/*
 * libFuzzer target: jload against json_loadb, the loader it stands in for.
 * Input: a flags byte (bit 0: JSON_REJECT_DUPLICATES, bit 1:
 * JSON_DECODE_ANY, bit 2: jload_only, see only()), then the JSON text.  Both must accept or both refuse,
 * and what they accept must be the same values in the same order (compared
 * as jansson's compact dump); anything else aborts.  A NUL byte is never
 * valid JSON and jload refuses it anywhere, while jansson takes some as the
 * end of the text ("[1\0]" loads): such inputs must only be refused.
 * At the end of each input no region may be left.
 */
#include "fuzz.h"

#include <jansson.h>

#include "gitsyncd/jload.h"

#include "../jload-filter.h"

/* With flag bit 2: jload_only with these paths, against jfilter. */
static const char *const paths[] = {
    "ref", "a", "repository/full_name", "commits/*/added", "*/b", "*/*", "x/y/z", NULL,
};

static char *
dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* jload's values in regions, as in the daemon (ASan sees released ones). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (jload_init() != 0)
        abort();
    return 0;
}

/* Abort unless a and b dump alike. */
static void
same(const char *what, const json_t *a, const json_t *b)
{
    char *da = dump(a), *db = dump(b);

    if (da == NULL || db == NULL || strcmp(da, db) != 0) {
        fprintf(stderr, "%s: %s\njson_loadb: %s\n", what, da ? da : "(null)", db ? db : "(null)");
        abort();
    }
    free(da);
    free(db);
}

/*
 * jload_only checks the members it does not build by yajl's rules only,
 * so it may accept what json_loadb refuses there; what json_loadb
 * accepts, it must accept, with the same members on the paths.
 */
static void
only(json_t *a, const json_error_t *e1, json_t *b)
{
    json_t *fa, *fb;

    if (b != NULL && a == NULL) {
        fprintf(stderr, "jload_only: %s, json_loadb accepts\n", e1->text);
        abort();
    }
    if (a != NULL && b != NULL) {
        fa = jfilter(a, paths);
        fb = jfilter(b, paths);
        same("jload_only, filtered", fa, fb);
        json_decref(fa);
        json_decref(fb);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;
    json_error_t e1, e2;
    json_t *a, *b;
    size_t flags = 0;
    bool pruned;

    if (size < 1)
        return 0;
    if (data[0] & 1)
        flags |= JSON_REJECT_DUPLICATES;
    if (data[0] & 2)
        flags |= JSON_DECODE_ANY;
    pruned = (data[0] & 4) != 0;
    if (pruned) /* duplicates are refused only where built */
        flags &= ~(size_t)JSON_REJECT_DUPLICATES;
    a = pruned ? jload_only(text, size - 1, flags, paths, &e1) : jload(text, size - 1, flags, &e1);
    if (memchr(text, '\0', size - 1) != NULL) {
        if (a != NULL) {
            fprintf(stderr, "a text with a NUL byte is accepted\n");
            abort();
        }
        return 0;
    }
    b = json_loadb(text, size - 1, flags, &e2);
    if (pruned) {
        only(a, &e1, b);
    } else if ((a == NULL) != (b == NULL)) {
        fprintf(stderr, "jload %s, json_loadb %s\n", a ? "accepts" : e1.text, b ? "accepts" : e2.text);
        abort();
    } else if (a != NULL) {
        same("jload", a, b);
    }
    json_decref(a);
    json_decref(b);
    if (jload_regions_live() != 0) {
        fprintf(stderr, "a region outlives its values\n");
        abort();
    }
    return 0;
}
