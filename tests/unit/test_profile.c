/* Unit tests for profile: the shipped profiles load; errors have positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitsyncd/profile.h"
#include "gitsyncd/util.h"

static char dir[64];

static const char *
srcdir(void)
{
    const char *s = getenv("top_srcdir");

    return s != NULL ? s : "..";
}

/* Load a shipped profile by name from etc/profiles. */
static struct profile *
load_shipped(const char *name)
{
    struct profile *p = NULL;
    char *d = xasprintf("%s/etc/profiles", srcdir()), *err = NULL;
    const char *dirs[] = { d, NULL };

    if (profile_load(name, dirs, &p, &err) != 0)
        fail_msg("%s", err);
    free(d);
    return p;
}

/* Write text to a profile file and expect loading it to fail with msg. */
static void
expect_error(const char *text, const char *msg)
{
    struct profile *p = NULL;
    char *path = xasprintf("%s/bad.yaml", dir), *err = NULL, *want;
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(profile_load(path, NULL, &p, &err), -1);
    assert_null(p);
    want = xasprintf("%s:%s", path, msg);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
}

static void
test_demo(void **state)
{
    struct profile *p = load_shipped("demo");
    const struct profile_kind *m, *s;

    (void)state;
    assert_string_equal(p->name, "demo");
    assert_int_equal(p->nkinds, 2);
    m = profile_kind_by_folder(p, "models");
    s = profile_kind_by_name(p, "sync");
    assert_non_null(m);
    assert_non_null(s);
    assert_ptr_equal(profile_kind_by_name(p, "model"), m);
    assert_null(profile_kind_by_name(p, "dashboard"));
    assert_string_equal(m->items, "data");
    assert_int_equal(m->paging, PAGING_OFFSET);
    assert_int_equal(m->page_size, 100);
    assert_string_equal(m->has_more, "hasMore");
    assert_string_equal(m->item, "/models/{id}");
    assert_true(m->can_delete);
    assert_int_equal(s->nrefs, 1);
    assert_string_equal(s->refs[0].field, "modelId");
    assert_string_equal(s->refs[0].as, "model");
    assert_string_equal(s->refs[0].kind, "model");
    assert_string_equal(m->order[0], "slug");
    assert_string_equal(p->audit_path, "/audit");
    assert_string_equal(p->event_actor_email, "/data/actor/email");
    assert_true(profile_slug_valid(p, "daily-users"));
    assert_false(profile_slug_valid(p, "Daily Users"));
    assert_false(profile_slug_valid(p, "-x"));
    assert_false(profile_slug_valid(p, "../etc"));
    assert_true(m->fields[0].required);
    profile_free(p);
}

static void
test_generic_and_hightouch(void **state)
{
    struct profile *p = load_shipped("generic-rest");
    const struct profile_kind *k;

    (void)state;
    k = profile_kind_by_name(p, "dashboard");
    assert_non_null(k);
    assert_null(k->items);
    assert_int_equal(k->paging, PAGING_LINK);
    assert_string_equal(k->update_method, "PUT");
    assert_string_equal(k->page_param, "_page");
    profile_free(p);

    p = load_shipped("hightouch");
    k = profile_kind_by_name(p, "model");
    assert_false(k->can_delete);
    assert_int_equal(p->rate_limit_requests, 200);
    assert_int_equal(p->rate_limit_period_ms, 10000);
    assert_null(p->audit_path);
    /* What each write accepts, in the API's own field names. */
    assert_true(k->create.restricted && k->update.restricted);
    assert_true(profile_write_allows(&k->create, "sourceId"));
    assert_false(profile_write_allows(&k->update, "sourceId"));
    assert_false(profile_write_allows(&k->update, "slug"));
    assert_true(profile_write_allows(&k->update, "raw"));
    assert_int_equal(k->create.nrequired, 6);
    k = profile_kind_by_name(p, "sync");
    assert_true(profile_write_allows(&k->create, "modelId"));
    assert_false(profile_write_allows(&k->update, "modelId"));
    assert_false(profile_write_allows(&k->update, "primaryKey"));
    assert_string_equal(profile_git_name(k, "modelId"), "model");
    assert_string_equal(profile_git_name(k, "schedule"), "schedule");
    profile_free(p);
    /* Without the blocks every field is sent, as before. */
    p = load_shipped("generic-rest");
    k = profile_kind_by_name(p, "dashboard");
    assert_false(k->update.restricted);
    assert_true(profile_write_allows(&k->update, "anything"));
    profile_free(p);
}

static void
test_not_found(void **state)
{
    struct profile *p = NULL;
    char *err = NULL;
    const char *dirs[] = { "/nonexistent", NULL };

    (void)state;
    unsetenv("GITSYNCD_PROFILE_PATH");
    assert_int_equal(profile_load("nosuch", dirs, &p, &err), -1);
    assert_non_null(strstr(err, "profile \"nosuch\" not found (looked in: /nonexistent"));
    free(err);
}

#define HEAD "name: x\nkinds:\n  - name: model\n    folder: models\n    collection: /models\n"

static void
test_errors(void **state)
{
    (void)state;
    expect_error("name: x\nknids: []\n", "2:1: unknown key \"knids\" (did you mean \"kinds\"?)");
    expect_error("name: x\n", "1:1: missing required key \"kinds\"");
    expect_error("name: x\nkinds:\n  - name: m\n", "3:5: missing required key \"kinds[0].folder\"");
    expect_error(HEAD "    list: {paging: sideways}\n",
                 "6:20: kinds[0].list.paging: unknown value \"sideways\" (one of: none, offset, page, cursor, link)");
    expect_error(HEAD "    fields: {name: {type: text}}\n",
                 "6:27: kinds[0].fields.name.type: unknown value \"text\" (one of: any, string, integer, number, boolean, object, array)");
    expect_error(HEAD "    refs: [{field: m, as: x, kind: widget}]\n",
                 "6:36: kinds[0].refs[0].kind: no kind named \"widget\" in this profile");
    expect_error("name: x\nslug_pattern: '(['\nkinds: []\n",
                 "2:15: slug_pattern: \"([\" is not a valid regular expression");
    expect_error(HEAD "    update_method: POST\n",
                 "6:20: kinds[0].update_method: unknown value \"POST\" (one of: PATCH, PUT)");
    expect_error(HEAD "    folder: ../x\n", "6:5: duplicate key \"folder\" (first at line 4)");
    expect_error(HEAD "    create: {fields: [a], required: [b]}\n",
                 "6:38: kinds[0].create.required: \"b\" is not in kinds[0].create.fields");
    expect_error(HEAD "    create: {fields: [a, a]}\n",
                 "6:26: kinds[0].create.fields: \"a\" is listed twice");
    expect_error(HEAD "    update: {fields: [id]}\n",
                 "6:23: kinds[0].update.fields: \"id\" is the id field, which the platform assigns");
    expect_error(HEAD "    update: {fields: [a], required: [a]}\n",
                 "6:27: unknown key \"kinds[0].update.required\"");
    expect_error(HEAD "    update: {}\n",
                 "6:13: kinds[0].update.fields: missing (the list of fields this write accepts)");
    expect_error("name: x\nkinds:\n  - {name: m, folder: a/b, collection: /m}\n",
                 "3:23: kinds[0].folder: \"a/b\" must be one plain directory name");
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gs-profile-test.XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    char *cmd = xasprintf("rm -rf %s", dir);
    int rc = system(cmd);

    (void)state;
    free(cmd);
    return rc == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo),
        cmocka_unit_test(test_generic_and_hightouch),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests_name("profile", tests, setup, teardown);
}
