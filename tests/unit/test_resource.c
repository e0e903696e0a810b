/* Unit tests for resource: round trips, canonical form, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/profile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

static const char *const tricky[] = {
    "yes", "no", "on", "off", "y", "n", "Y", "NO", "True", "false", "null",
    "Null", "~", "true", "0123", "0x1F", "0o17", "1e3", "1.5", "-1", "+1",
    ".inf", "-.inf", ".nan", ".5", "1_000", "12:30:00", "2026-11-24", "-", "",
    " lead", "trail ", "a: b", "a #b", "#c", "*star", "&amp", "!bang",
    "%pct", "@at", "`tick", "|pipe", ">gt", "'q", "\"dq", "{x}", "[x]", ",",
    "?", ":", "<<", "=", "tab\there", "cr\rhere", "two\nlines",
    "two\nlines\n", "trailing\n\n\n", "\nleading newline", "  indented\nnext",
    "sp \nafter", "select id,\n       email\n  from users\n where active",
    "emoji \xF0\x9F\x9A\x80 done", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC",
    "nul\0byte", "ctl\x01\x1f", "back\\slash", "quote\"mark", "plain",
    "daily-users", "a b c", "key:", "--- doc", "... end", "%YAML",
};
static const size_t ntricky = sizeof tricky / sizeof tricky[0];

static unsigned long long rng_state;

static unsigned long long
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random string: a tricky one, or random pieces of them. */
static json_t *
gen_string(void)
{
    struct buf b;
    size_t i, n;
    const char *t;
    json_t *s;

    if (rng() % 2 == 0) {
        i = rng() % ntricky;
        t = tricky[i];
        /* "nul\0byte" has an embedded NUL: keep its full length. */
        return json_stringn(t, strcmp(t, "nul") == 0 ? 8 : strlen(t));
    }
    buf_init(&b);
    buf_adds(&b, "");
    n = rng() % 4;
    for (i = 0; i <= n; i++) {
        t = tricky[rng() % ntricky];
        buf_adds(&b, t);
        if (rng() % 3 == 0)
            buf_addc(&b, " \t\n"[rng() % 3]);
    }
    s = json_stringn(b.data, b.len);
    buf_free(&b);
    return s;
}

static json_t *
gen_value(int depth)
{
    json_t *v;
    size_t i, n;
    double d;
    unsigned long long r = rng() % (depth >= 4 ? 6 : 8);

    switch (r) {
    case 0:
        return gen_string();
    case 1:
        switch (rng() % 5) {
        case 0: return json_integer(INT64_MAX);
        case 1: return json_integer(INT64_MIN);
        case 2: return json_integer(0);
        default: return json_integer((json_int_t)(rng() % 2000001) - 1000000);
        }
    case 2:
        switch (rng() % 6) {
        case 0: d = 1e-300; break;
        case 1: d = -1.7976931348623157e308; break;
        case 2: d = 0.1; break;
        case 3: d = (double)(rng() % 1000); break;
        case 4: d = -0.0; break;
        default:
            do {
                unsigned long long bits = rng();
                memcpy(&d, &bits, sizeof d);
            } while (!isfinite(d));
        }
        return json_real(d);
    case 3:
        return json_boolean(rng() % 2);
    case 4:
        return json_null();
    case 5:
        return gen_string();
    case 6:
        v = json_array();
        n = rng() % 4;
        for (i = 0; i < n; i++)
            json_array_append_new(v, gen_value(depth + 1));
        return v;
    default:
        v = json_object();
        n = rng() % 5;
        for (i = 0; i < n; i++) {
            json_t *k = gen_string();

            /* jansson compares keys as C strings: no NUL in keys. */
            if (memchr(json_string_value(k), '\0', json_string_length(k)) != NULL) {
                json_decref(k);
                k = json_string("nul byte");
            }
            json_object_setn_new(v, json_string_value(k), json_string_length(k),
                                 gen_value(depth + 1));
            json_decref(k);
        }
        return v;
    }
}

/* decode(encode(x)) == x and encode(decode(encode(x))) == encode(x). */
static void
test_property_roundtrip(void **state)
{
    const char *seed_env = getenv("GITSYNCD_PROP_SEED");
    const char *count_env = getenv("GITSYNCD_PROP_COUNT");
    unsigned long long seed = seed_env ? strtoull(seed_env, NULL, 0)
                                       : 0x9e3779b97f4a7c15ULL;
    long count = count_env ? atol(count_env) : 100000, i;
    json_t *x, *y, *z;
    char *a, *b, *err = NULL;
    size_t alen, blen;

    (void)state;
    printf("# property test: %ld values, seed 0x%llx (GITSYNCD_PROP_SEED)\n", count, seed);
    rng_state = seed;
    for (i = 0; i < count; i++) {
        x = gen_value(0);
        a = resource_encode(x, NULL, 0, &alen);
        if (resource_decode("prop", a, alen, &y, &err) != 0)
            fail_msg("value %ld: decode of\n%s\nfailed: %s", i, a, err);
        if (!json_equal(x, y)) {
            char *xs = json_dumps(x, JSON_ENCODE_ANY), *ys = json_dumps(y, JSON_ENCODE_ANY);
            fail_msg("value %ld: round trip differs\nin:  %s\nout: %s\nyaml:\n%s", i, xs, ys, a);
        }
        b = resource_encode(y, NULL, 0, &blen);
        if (alen != blen || memcmp(a, b, alen) != 0)
            fail_msg("value %ld: encode not stable\n%s\n---\n%s", i, a, b);
        if (resource_decode("prop", b, blen, &z, &err) != 0)
            fail_msg("value %ld: second decode failed: %s", i, err);
        json_decref(z);
        free(a);
        free(b);
        json_decref(x);
        json_decref(y);
    }
}

static void
test_canonical_scalars(void **state)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:b, s:n, s:[], s:{}}",
                          "yes", "no", "n", "0123", "s", "two\nlines", "t", "x ",
                          "f", 1e-300, "g", 3.0, "h", 0.1, "i", (json_int_t)-42,
                          "j", 1, "k", "l", "m");
    char *y = resource_encode(v, NULL, 0, NULL);

    (void)state;
    assert_string_equal(y,
        "f: 1.0e-300\n"
        "g: 3.0\n"
        "h: 0.1\n"
        "i: -42\n"
        "j: true\n"
        "k: null\n"
        "l: []\n"
        "m: {}\n"
        "'n': '0123'\n"
        "s: |-\n"
        "  two\n"
        "  lines\n"
        "t: 'x '\n"
        "'yes': 'no'\n");
    free(y);
    json_decref(v);
}

static void
test_order(void **state)
{
    const char *order[] = { "slug", "name" };
    json_t *v = json_pack("{s:s, s:s, s:i, s:{s:i, s:i}}", "zeta", "z", "name", "N",
                          "alpha", 1, "slug", "b", 2, "a", 1);
    char *y = resource_encode(v, order, 2, NULL);

    (void)state;
    assert_string_equal(y, "slug:\n  a: 1\n  b: 2\nname: 'N'\nalpha: 1\nzeta: z\n");
    free(y);
    json_decref(v);
}

/* Read a fixture file under tests/fixtures/resources. */
static char *
fixture(const char *name, size_t *len)
{
    const char *top = getenv("top_srcdir");
    char *path = xasprintf("%s/tests/fixtures/resources/%s", top ? top : "..", name);
    char *data = NULL, *err = NULL;

    if (read_file(path, 1 << 24, &data, len, &err) != 0)
        fail_msg("%s", err);
    free(path);
    return data;
}

/* The golden files: the JSON of the platform renders exactly as expected. */
static void
test_golden(void **state)
{
    static const char *const cases[][3] = {
        { "golden/model.json", "golden/model.yaml", "model" },
        { "golden/sync.json", "golden/sync.yaml", "sync" },
    };
    const char *top = getenv("top_srcdir");
    char *dir = xasprintf("%s/etc/profiles", top ? top : "..");
    const char *dirs[] = { dir, NULL };
    struct profile *p = NULL;
    const struct profile_kind *k;
    json_error_t jerr;
    json_t *in, *back;
    char *json, *want, *got, *err = NULL;
    size_t len, wlen, glen, i;

    (void)state;
    assert_int_equal(profile_load("demo", dirs, &p, &err), 0);
    for (i = 0; i < 2; i++) {
        json = fixture(cases[i][0], &len);
        want = fixture(cases[i][1], &wlen);
        in = json_loadb(json, len, 0, &jerr);
        assert_non_null(in);
        k = profile_kind_by_name(p, cases[i][2]);
        got = resource_encode(in, (const char *const *)k->order, k->norder, &glen);
        if (strcmp(got, want) != 0)
            fail_msg("%s renders as:\n%s\nexpected:\n%s", cases[i][0], got, want);
        assert_int_equal(resource_decode(cases[i][1], want, wlen, &back, &err), 0);
        assert_true(json_equal(in, back));
        assert_int_equal(resource_validate(p, k, json_string_value(json_object_get(in, "slug")), back, &err), 0);
        json_decref(in);
        json_decref(back);
        free(json);
        free(want);
        free(got);
    }
    profile_free(p);
    free(dir);
}

/* Decoding text must fail with exactly msg. */
static void
expect_bad(const char *text, size_t len, const char *msg)
{
    json_t *v = NULL;
    char *err = NULL;

    assert_int_equal(resource_decode("f.yaml", text, len, &v, &err), -1);
    assert_null(v);
    assert_string_equal(err, msg);
    free(err);
}

#define BAD(text, msg) expect_bad(text, sizeof(text) - 1, msg)

static void
test_bad_input(void **state)
{
    struct buf b;
    int i;

    (void)state;
    BAD("a: &x 1\nb: *x\n", "f.yaml:1:4: anchors are not allowed");
    BAD("a: *x\n", "f.yaml:1:4: aliases are not allowed");
    BAD("a: !!str 1\n", "f.yaml:1:4: tags are not allowed");
    BAD("a: 1\na: 2\n", "f.yaml:2:1: duplicate key \"a\"");
    BAD("a: 1\n---\nb: 2\n", "f.yaml:2:1: more than one YAML document");
    BAD("a: 99999999999999999999\n", "f.yaml:1:4: integer 99999999999999999999 is outside the 64-bit range");
    BAD("a: -9223372036854775809\n", "f.yaml:1:4: integer -9223372036854775809 is outside the 64-bit range");
    BAD("a: .inf\n", "f.yaml:1:4: .inf has no JSON form; quote it for a string");
    BAD("a: \"\xff\"\n", "f.yaml:1:5: invalid leading UTF-8 octet");
    BAD("a: [1, 2\n", "f.yaml:2:1: did not find expected ',' or ']' while parsing a flow sequence");
    BAD("? [1]\n: 2\n", "f.yaml:1:3: a mapping key must be a string");
    buf_init(&b);
    for (i = 0; i < 70; i++)
        buf_addc(&b, '[');
    expect_bad(b.data, b.len, "f.yaml:1:65: nesting deeper than 64 levels");
    buf_reset(&b);
    buf_adds(&b, "a: '");
    for (i = 0; i < (1 << 20) + 1; i++)
        buf_addc(&b, 'x');
    buf_adds(&b, "'\n");
    expect_bad(b.data, b.len, "f.yaml:1:4: a scalar larger than 1 MiB");
    buf_free(&b);
    {
        size_t big = RESOURCE_MAX_FILE + 1;
        char *huge = xmalloc(big);

        memset(huge, ' ', big);
        expect_bad(huge, big, "f.yaml:1:1: file larger than 8 MiB");
        free(huge);
    }
}

/* A billion-laughs document is refused at its first alias, at once. */
static void
test_alias_bomb(void **state)
{
    static const char bomb[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";

    (void)state;
    expect_bad(bomb, sizeof bomb - 1, "f.yaml:1:4: anchors are not allowed");
}

static void
test_plain_types(void **state)
{
    static const char text[] =
        "i: 42\nn: -7\nh: 0x1F\no: 0o17\nf: 1.5\ne: 1e3\nz: ~\nt: True\nf2: FALSE\n"
        "s1: yes\ns2: 0123x\ns3: 1_000\nq: '42'\nb: |\n  x\n";
    json_t *v, *want;
    char *err = NULL;

    (void)state;
    assert_int_equal(resource_decode("p.yaml", text, sizeof text - 1, &v, &err), 0);
    want = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:n, s:b, s:b, s:s, s:s, s:s, s:s, s:s}",
                     "i", (json_int_t)42, "n", (json_int_t)-7, "h", (json_int_t)31,
                     "o", (json_int_t)15, "f", 1.5, "e", 1000.0, "z", "t", 1, "f2", 0,
                     "s1", "yes", "s2", "0123x", "s3", "1_000", "q", "42", "b", "x\n");
    assert_true(json_equal(v, want));
    json_decref(v);
    json_decref(want);
}

static void
test_validate(void **state)
{
    const char *top = getenv("top_srcdir");
    char *dir = xasprintf("%s/etc/profiles", top ? top : "..");
    const char *dirs[] = { dir, NULL }, *key;
    struct profile *p = NULL;
    const struct profile_kind *m;
    json_t *doc;
    char *err = NULL;

    (void)state;
    assert_int_equal(profile_load("demo", dirs, &p, &err), 0);
    m = profile_kind_by_name(p, "model");
    doc = json_pack("{s:s, s:s, s:i, s:s}", "slug", "a", "name", "A", "sourceId", 1,
                    "queryType", "raw_sql");
    assert_int_equal(resource_validate_key(p, m, "a", doc, &key, &err), 0);
    assert_int_equal(resource_validate_key(p, m, "b", doc, &key, &err), -1);
    assert_string_equal(err, "slug: \"a\" does not match the file name \"b.yaml\"");
    assert_string_equal(key, "slug");
    assert_int_equal(resource_validate_key(p, m, "Bad Slug", doc, &key, &err), -1);
    assert_non_null(strstr(err, "is not a valid slug"));
    json_object_set_new(doc, "sourceId", json_string("one"));
    assert_int_equal(resource_validate_key(p, m, "a", doc, &key, &err), -1);
    assert_string_equal(err, "sourceId: expected integer, got string");
    json_object_del(doc, "sourceId");
    assert_int_equal(resource_validate_key(p, m, "a", doc, &key, &err), -1);
    assert_string_equal(err, "missing required field \"sourceId\"");
    json_decref(doc);
    doc = json_array();
    assert_int_equal(resource_validate_key(p, m, "a", doc, &key, &err), -1);
    assert_string_equal(err, "a model must be a mapping, not an array");
    json_decref(doc);
    free(err);
    profile_free(p);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_scalars),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_plain_types),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_property_roundtrip),
    };

    return cmocka_run_group_tests_name("resource", tests, NULL, NULL);
}
