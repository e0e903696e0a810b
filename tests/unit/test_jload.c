/*
 * Unit tests for jload: the same values as json_loadb for every webhook
 * fixture and for the corners of JSON, and errors that point at the fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gitsyncd/jload.h"

#include "../jload-filter.h"

static char *
dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* jload and json_loadb agree on text (both load it, to the same dump). */
static void
assert_same(const char *text, size_t len, size_t flags)
{
    json_error_t e1, e2;
    json_t *a = jload(text, len, flags, &e1);
    json_t *b = json_loadb(text, len, flags, &e2);
    char *da, *db;

    if (a == NULL)
        fail_msg("jload refuses %.60s: %s", text, e1.text);
    assert_non_null(b);
    da = dump(a);
    db = dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    json_decref(a);
    json_decref(b);
}

/*
 * jload refuses text; the error is at line:column (just after the token at
 * fault) and says why.
 */
static void
assert_refused(const char *text, size_t len, size_t flags, int line, int column, const char *why)
{
    json_error_t e;
    json_t *v = jload(text, len, flags, &e);

    if (v != NULL)
        fail_msg("jload accepts %.60s", text);
    if (strstr(e.text, why) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", e.text, why);
    assert_int_equal(e.line, line);
    assert_int_equal(e.column, column);
    /* and so does jansson (which may word it otherwise) */
    v = json_loadb(text, len, flags, &e);
    assert_null(v);
}

/* Call fn with the name and text of every webhook fixture; how many. */
static size_t
each_fixture(void (*fn)(const char *name, const char *text, size_t len))
{
    char dir[2048], path[2400], *text;
    const char *fixtures = getenv("FIXTURES");
    struct dirent *d;
    size_t len, n = 0;
    DIR *dp;
    FILE *f;

    snprintf(dir, sizeof dir, "%s/webhooks", fixtures != NULL ? fixtures : "tests/fixtures");
    dp = opendir(dir);
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL) {
        if (strstr(d->d_name, ".json") == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
        f = fopen(path, "rb");
        assert_non_null(f);
        text = malloc(1 << 20);
        len = fread(text, 1, 1 << 20, f);
        fclose(f);
        fn(d->d_name, text, len);
        free(text);
        n++;
    }
    closedir(dp);
    return n;
}

static void
fixture_same(const char *name, const char *text, size_t len)
{
    (void)name;
    assert_same(text, len, 0);
    assert_same(text, len, JSON_REJECT_DUPLICATES);
}

static void
test_fixtures(void **state)
{
    (void)state;
    assert_true(each_fixture(fixture_same) >= 10);
}

static void
test_values(void **state)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ",
        "{\"b\":1,\"a\":2,\"c\":{\"z\":[],\"y\":{}}}",
        "[0,-0,1,-1,9223372036854775807,-9223372036854775808]",
        "[0.5,-1.5e10,1E-5,2e+3,1e308,4.9e-324,1e-400,123456789012345678901234567890.0]",
        "[true,false,null,\"\",\"x\"]",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u0041\\u00e9\\u20ac\"]",
        "[\"caf\xc3\xa9\",\"\xf0\x9f\x98\x80\"]",
        "[\"\\ud83d\\ude00\"]",
        "{\"a\":1,\"a\":2,\"b\":3}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
        assert_same(texts[i], strlen(texts[i]), 0);
    assert_same("1", 1, JSON_DECODE_ANY);
    assert_same(" \"s\" ", 5, JSON_DECODE_ANY);
    assert_same("null", 4, JSON_DECODE_ANY);
    assert_same("-2.5e3\n", 7, JSON_DECODE_ANY);
}

static void
test_duplicates(void **state)
{
    json_error_t e;
    json_t *v;

    (void)state;
    v = jload("{\"a\":1,\"b\":2,\"a\":3}", 19, 0, &e);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 3);
    assert_int_equal(json_object_size(v), 2);
    json_decref(v);
    assert_refused("{\"a\":1,\n\"a\":3}", 14, JSON_REJECT_DUPLICATES, 2, 4, "duplicate object key \"a\"");
    /* the same key in two objects is no duplicate */
    assert_same("[{\"a\":1},{\"a\":2}]", 17, JSON_REJECT_DUPLICATES);
}

static void
test_refused(void **state)
{
    (void)state;
    assert_refused("", 0, 0, 1, 1, "premature EOF");
    assert_refused("  \n ", 4, 0, 2, 2, "premature EOF");
    assert_refused("1", 1, 0, 1, 2, "'[' or '{' expected");
    assert_refused("\"x\"", 3, 0, 1, 4, "'[' or '{' expected");
    assert_refused("{\n  \"a\": tru\n}", 14, 0, 2, 11, "invalid");
    assert_refused("{\"a\" 1}", 7, 0, 1, 7, "separated by a colon");
    assert_refused("[1,]", 4, 0, 1, 5, "unallowed token");
    assert_refused("{\"a\":1", 6, 0, 1, 7, "premature EOF");
    assert_refused("{} x", 4, 0, 1, 5, "trailing garbage");
    assert_refused("{} \"abc", 7, 0, 1, 4, "end of file expected");
    assert_refused("[1] [2]", 7, 0, 1, 6, "trailing garbage");
    assert_refused("[01]", 4, 0, 1, 4, "expect ',' or ']'");
    assert_refused("[9223372036854775808]", 21, 0, 1, 21, "too big integer");
    assert_refused("[-9223372036854775809]", 22, 0, 1, 22, "too big negative integer");
    assert_refused("[1e400]", 7, 0, 1, 7, "real number overflow");
    assert_refused("[\"a\\u0000b\"]", 12, 0, 1, 12, "\\u0000");
    assert_refused("{\"a\\u0000\":1}", 13, 0, 1, 11, "NUL byte in object key");
    assert_refused("[\"a\0b\"]", 7, 0, 1, 4, "invalid character inside string");
    assert_refused("[1,\v2]", 6, 0, 1, 4, "0x0b");
    assert_refused("[1,\f2]", 6, 0, 1, 4, "0x0c");
    assert_refused("[\"\xc0\x80\"]", 6, 0, 1, 6, "UTF-8");
    assert_refused("[\"\xed\xa0\x80\"]", 7, 0, 1, 7, "UTF-8");
    assert_refused("{\"\xff\":1}", 7, 0, 1, 4, "invalid bytes in UTF8");
    assert_refused("[// c\n1]", 8, 0, 1, 2, "comment");
    assert_refused("[NaN]", 5, 0, 1, 3, "invalid char");
    /* a lone surrogate goes to json_loadb, which refuses it */
    assert_refused("[\"\\ud800\"]", 10, 0, 1, 9, "invalid Unicode");
}

/* JLOAD_MARK_OUT_OF_RANGE: a number out of range fails its value, not the text. */
static void
test_out_of_range_marked(void **state)
{
    static const char text[] =
        "{\"data\": [{\"id\": 1, \"n\": 18446744073709551615},"
        " {\"id\": 2, \"t\": {\"deep\": [-99999999999999999999]}},"
        " {\"id\": 3, \"s\": \"18446744073709551615\", \"big\": 9223372036854775807}]}";
    const char *num = NULL, *key;
    json_error_t err;
    json_t *v, *items;

    (void)state;
    v = jload(text, sizeof text - 1, 0, &err);
    assert_null(v);
    v = jload(text, sizeof text - 1, JLOAD_MARK_OUT_OF_RANGE, &err);
    assert_non_null(v);
    items = json_object_get(v, "data");
    assert_int_equal(json_array_size(items), 3);
    assert_true(jload_out_of_range(json_object_get(json_array_get(items, 0), "n")));
    key = jload_find_out_of_range(json_array_get(items, 0), NULL, &num);
    assert_non_null(key);
    assert_string_equal(key, "n");
    assert_string_equal(num, "18446744073709551615");
    key = jload_find_out_of_range(json_array_get(items, 1), NULL, &num);
    assert_non_null(key);
    assert_string_equal(key, "deep");
    assert_string_equal(num, "-99999999999999999999");
    /* The same digits in a string, and the largest integer, are no marker. */
    assert_null(jload_find_out_of_range(json_array_get(items, 2), NULL, &num));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 2), "big")),
                     INT64_MAX);
    json_decref(v);
}

static void
test_depth(void **state)
{
    char text[2 * 2049 + 1];
    json_error_t e;
    json_t *v;

    (void)state;
    memset(text, '[', 2048);
    memset(text + 2048, ']', 2048);
    v = jload(text, 2 * 2048, 0, &e);
    assert_non_null(v);
    json_decref(v);
    memset(text, '[', 2049);
    memset(text + 2049, ']', 2049);
    assert_refused(text, 2 * 2049, 0, 1, 2050, "maximum parsing depth");
}

static const char doc_text[] = "{\"name\":\"daily users\",\"tags\":[\"a\",\"b\"],"
                               "\"owner\":{\"email\":\"ops@example.com\"},\"n\":1}";

/* A region lives exactly as long as the last of its values. */
static void
test_region_lifetime(void **state)
{
    json_t *doc, *kept, *made;
    json_error_t e;
    char *text;
    int i;

    (void)state;
    assert_int_equal(jload_regions_live(), 0);
    doc = jload(doc_text, strlen(doc_text), 0, &e);
    assert_non_null(doc);
    assert_int_equal(jload_regions_live(), 1);
    json_decref(doc);
    assert_int_equal(jload_regions_live(), 0);

    /* a value kept keeps its region, and only it */
    doc = jload(doc_text, strlen(doc_text), 0, &e);
    kept = json_incref(json_object_get(doc, "owner"));
    json_decref(doc);
    assert_int_equal(jload_regions_live(), 1);
    assert_string_equal(json_string_value(json_object_get(kept, "email")), "ops@example.com");
    json_decref(kept);
    assert_int_equal(jload_regions_live(), 0);

    /* values changed and grown after the parse (malloc's blocks among the region's) */
    doc = jload(doc_text, strlen(doc_text), 0, &e);
    made = json_object();
    for (i = 0; i < 200; i++) {
        char key[16];

        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(doc, key, json_integer(i));
        json_array_append_new(json_object_get(doc, "tags"), json_string(key));
    }
    json_object_set(made, "doc", doc);
    json_object_del(doc, "name");
    text = json_dumps(made, JSON_COMPACT); /* malloc's, free()d as jansson says */
    assert_non_null(strstr(text, "\"k199\":199"));
    free(text);
    json_decref(doc);
    assert_int_equal(jload_regions_live(), 1);
    json_decref(made);
    assert_int_equal(jload_regions_live(), 0);

    /* a refused text leaves no region behind */
    assert_null(jload("{\"a\":[1,2,{\"b\":", 15, 0, &e));
    assert_null(jload("{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, &e));
    assert_int_equal(jload_regions_live(), 0);
}

static void *
free_on_thread(void *arg)
{
    json_decref(arg);
    return NULL;
}

/* Parsed on one thread, freed on others, many times over. */
static void
test_region_threads(void **state)
{
    pthread_t t[4];
    json_t *docs[4];
    json_error_t e;
    int round, i;

    (void)state;
    for (round = 0; round < 200; round++) {
        for (i = 0; i < 4; i++) {
            docs[i] = jload(doc_text, strlen(doc_text), 0, &e);
            assert_non_null(docs[i]);
        }
        for (i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&t[i], NULL, free_on_thread, docs[i]), 0);
        for (i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    assert_int_equal(jload_regions_live(), 0);
}

/* A text bigger than a region's chunk: values over several chunks. */
static void
test_region_large(void **state)
{
    size_t i, n = 20000;
    json_t *big, *back;
    json_error_t e;
    char *text;

    (void)state;
    big = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(big, json_pack("{s:i, s:s}", "id", (int)i, "slug", "model-with-a-long-name"));
    text = json_dumps(big, JSON_COMPACT);
    back = jload(text, strlen(text), 0, &e);
    assert_non_null(back);
    assert_true(json_equal(big, back));
    assert_int_equal(json_array_size(back), n);
    json_decref(back);
    json_decref(big);
    free(text);
    assert_int_equal(jload_regions_live(), 0);
}

static const char *const only_sets[][12] = {
    { "ref", "before", "after", "created", "deleted", "forced", "repository/full_name",
      "commits/*/added", "commits/*/modified", "commits/*/removed", NULL },
    { "ref", "project/path_with_namespace", "total_commits_count", "commits/*/added", NULL },
    { "repository/full_name", "push/changes/*/new/name", "push/changes/*/old/target/hash",
      "push/changes/*/closed", NULL },
    { "repository/project/key", "repository/slug", "changes/*/refId", "changes/*/toHash", NULL },
    { "repository", NULL },
    { "commits/*", NULL },
    { "no/such/member", NULL },
};

static void
fixture_only(const char *name, const char *text, size_t len)
{
    json_t *a, *full, *expect;
    json_error_t e;
    char *da, *de;
    size_t i;

    full = json_loadb(text, len, 0, &e);
    assert_non_null(full);
    for (i = 0; i < sizeof only_sets / sizeof only_sets[0]; i++) {
        a = jload_only(text, len, JSON_REJECT_DUPLICATES, only_sets[i], &e);
        if (a == NULL)
            fail_msg("%s: %s", name, e.text);
        expect = jfilter(full, only_sets[i]);
        da = dump(a);
        de = dump(expect);
        if (strcmp(da, de) != 0)
            fail_msg("%s, paths %zu:\n got %s\nwant %s", name, i, da, de);
        free(da);
        free(de);
        json_decref(a);
        json_decref(expect);
    }
    json_decref(full);
}

/* Every fixture through jload_only with paths of every host's kind. */
static void
test_only_fixtures(void **state)
{
    (void)state;
    assert_true(each_fixture(fixture_only) >= 10);
    assert_int_equal(jload_regions_live(), 0);
}

static void
test_only_prunes(void **state)
{
    static const char *const paths[] = { "repository/full_name", "list/*/keep", NULL };
    const char *text = "{\"repository\":{\"id\":1,\"full_name\":\"a/b\",\"owner\":{\"login\":\"a\"}},"
                       "\"list\":[{\"keep\":1,\"drop\":2},7,{\"drop\":[1,2]}],\"sender\":{\"x\":[{}]}}";
    json_error_t e;
    json_t *v;
    char *out;

    (void)state;
    v = jload_only(text, strlen(text), JSON_REJECT_DUPLICATES, paths, &e);
    assert_non_null(v);
    out = dump(v);
    /* arrays keep every element (7 is above a path); the rest is gone */
    assert_string_equal(out, "{\"repository\":{\"full_name\":\"a/b\"},\"list\":[{\"keep\":1},7,{}]}");
    free(out);
    json_decref(v);

    /* what is not built is still checked as JSON */
    {
        const char *bad = "{\"repository\":{},\"sender\":[1,]}";

        assert_null(jload_only(bad, strlen(bad), 0, paths, &e));
    }
    assert_non_null(strstr(e.text, "unallowed token"));
    /* and counts towards the nesting limit */
    {
        char deep[2 * 2049 + 16];

        memcpy(deep, "{\"sender\":", 10);
        memset(deep + 10, '[', 2049);
        memset(deep + 10 + 2049, ']', 2049);
        deep[10 + 2 * 2049] = '}';
        assert_null(jload_only(deep, 10 + 2 * 2049 + 1, 0, paths, &e));
        assert_non_null(strstr(e.text, "maximum parsing depth"));
    }
    /* a key twice is refused where it is built, not where it is not */
    assert_null(jload_only("{\"repository\":{\"full_name\":\"a\",\"full_name\":\"b\"}}", strlen("{\"repository\":{\"full_name\":\"a\",\"full_name\":\"b\"}}"),
                           JSON_REJECT_DUPLICATES, paths, &e));
    assert_non_null(strstr(e.text, "duplicate object key \"full_name\""));
    v = jload_only("{\"sender\":{\"x\":1,\"x\":2},\"repository\":{\"full_name\":\"a\"}}", strlen("{\"sender\":{\"x\":1,\"x\":2},\"repository\":{\"full_name\":\"a\"}}"),
                   JSON_REJECT_DUPLICATES, paths, &e);
    assert_non_null(v);
    json_decref(v);
    assert_int_equal(jload_regions_live(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_out_of_range_marked),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_region_lifetime),
        cmocka_unit_test(test_region_threads),
        cmocka_unit_test(test_region_large),
        cmocka_unit_test(test_only_fixtures),
        cmocka_unit_test(test_only_prunes),
    };

    /* Everything above runs with regions, as the daemon does. */
    unsetenv("GITSYNCD_JSON_REGIONS");
    if (jload_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
