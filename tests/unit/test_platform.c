/* Unit tests for the platform mapping: the hightouch profile on a recorded page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gitsyncd/platform.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

static json_t *
page(const char *name)
{
    const char *fx = getenv("FIXTURES");
    char *path = xasprintf("%s/hightouch/%s", fx ? fx : "../tests/fixtures", name);
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);

    if (v == NULL)
        fail_msg("%s: %s", path, jerr.text);
    free(path);
    return v;
}

/* A snapshot made of the recorded pages, as platform_snapshot would. */
static void
snapshot_add(struct platform_snapshot *s, const struct profile_kind *k, json_t *items)
{
    json_t *v;
    size_t i;

    json_array_foreach(items, i, v) {
        struct platform_object *o;

        s->objects = xreallocarray(s->objects, s->n + 1, sizeof *s->objects);
        o = &s->objects[s->n++];
        o->kind = k;
        /* Hightouch's ids are numbers. */
        assert_true(json_is_integer(json_object_get(v, k->id_field)));
        o->id = xasprintf("%lld", (long long)json_integer_value(json_object_get(v, k->id_field)));
        o->slug = xstrdup(json_string_value(json_object_get(v, k->slug_field)));
        o->raw = json_incref(v);
    }
}

static void
test_hightouch_page(void **state)
{
    const char *top = getenv("top_srcdir");
    char *dir = xasprintf("%s/etc/profiles", top ? top : "..");
    const char *dirs[] = { dir, NULL };
    struct platform_snapshot *snap = xcalloc(1, sizeof *snap);
    const struct profile_kind *m, *s;
    struct profile *p = NULL;
    json_t *models = page("models-page.json"), *syncs = page("syncs-page.json");
    json_t *doc, *back;
    char *err = NULL, *y;

    (void)state;
    assert_int_equal(profile_load("hightouch", dirs, &p, &err), 0);
    m = profile_kind_by_name(p, "model");
    s = profile_kind_by_name(p, "sync");
    assert_false(json_is_true(json_object_get(models, m->has_more)));
    snapshot_add(snap, m, json_object_get(models, m->items));
    snapshot_add(snap, s, json_object_get(syncs, s->items));

    doc = platform_to_git(s, snap->objects[1].raw, snap, &err);
    assert_non_null(doc);
    y = resource_encode(doc, (const char *const *)s->order, s->norder, NULL);
    assert_string_equal(y,
        "slug: active-users-to-hubspot\n"
        "model: active-users\n"
        "destinationId: 301\n"
        "primaryKey: user_id\n"
        "disabled: false\n"
        "schedule:\n"
        "  schedule:\n"
        "    interval:\n"
        "      quantity: 1\n"
        "      unit: hour\n"
        "  type: interval\n"
        "tags:\n"
        "  team: growth\n"
        "configuration:\n"
        "  mode: upsert\n"
        "  object: contacts\n");
    free(y);
    /* Back to the platform's form: the reference is the model's id again,
     * a number as Hightouch has it. */
    back = platform_from_git(s, doc, snap, &err);
    assert_true(json_is_integer(json_object_get(back, "modelId")));
    assert_int_equal(json_integer_value(json_object_get(back, "modelId")), 1021);
    assert_null(json_object_get(back, "model"));
    json_decref(back);
    json_decref(doc);

    doc = platform_to_git(m, snap->objects[0].raw, snap, &err);
    assert_null(json_object_get(doc, "id"));
    assert_null(json_object_get(doc, "workspaceId"));
    assert_null(json_object_get(doc, "createdAt"));
    /* Server-computed: they move at every Hightouch run. */
    assert_null(json_object_get(doc, "syncs"));
    assert_null(json_object_get(doc, "lastRunSize"));
    assert_true(json_is_integer(json_object_get(doc, "sourceId")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "raw"), "sql")),
                        "select user_id, email\nfrom users\nwhere active\n");
    json_decref(doc);

    /* A reference to a model the platform does not have is an error. */
    json_object_set_new(snap->objects[1].raw, "modelId", json_integer(999));
    assert_null(platform_to_git(s, snap->objects[1].raw, snap, &err));
    assert_string_equal(err, "sync active-users-to-hubspot: modelId 999 names no model on the platform");
    free(err);
    json_decref(models);
    json_decref(syncs);
    platform_snapshot_free(snap);
    profile_free(p);
    free(dir);
}

/* What an edit asked for and the API could not do is named, field by field. */
static void
test_hightouch_unapplied(void **state)
{
    const char *top = getenv("top_srcdir");
    char *dir = xasprintf("%s/etc/profiles", top ? top : "..");
    const char *dirs[] = { dir, NULL };
    struct profile *p = NULL;
    const struct profile_kind *m;
    json_t *models = page("models-page.json"), *before, *body, *after, *got;
    char *err = NULL, *s;

    (void)state;
    assert_int_equal(profile_load("hightouch", dirs, &p, &err), 0);
    m = profile_kind_by_name(p, "model");
    before = json_array_get(json_object_get(models, "data"), 0);
    body = platform_to_git(m, before, NULL, &err);
    /* An edit of sourceId and of the name; the description line removed. */
    json_object_set_new(body, "sourceId", json_integer(99));
    json_object_set_new(body, "name", json_string("Renamed"));
    json_object_del(body, "description");
    after = json_deep_copy(before);
    json_object_set_new(after, "name", json_string("Renamed"));
    got = platform_unapplied(m, false, body, before, after);
    s = json_dumps(got, JSON_COMPACT);
    assert_string_equal(s, "[\"sourceId\",\"description\"]");
    free(s);
    json_decref(got);
    /* Nothing unapplied when the file only changes what PATCH takes. */
    json_object_set_new(body, "sourceId", json_integer(12));
    json_object_set_new(body, "description", json_string(""));
    got = platform_unapplied(m, false, body, before, after);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);
    /* On create, only what the file sets counts. */
    json_object_del(body, "description");
    json_object_set_new(body, "tags", json_pack("{s:s}", "team", "ops"));
    got = platform_unapplied(m, true, body, NULL, after);
    s = json_dumps(got, JSON_COMPACT);
    assert_string_equal(s, "[\"tags\"]");
    free(s);
    json_decref(got);
    json_decref(after);
    json_decref(body);
    json_decref(models);
    profile_free(p);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hightouch_page),
        cmocka_unit_test(test_hightouch_unapplied),
    };

    return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
