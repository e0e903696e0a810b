/* reconcile-inbound: applying Git's changes to the platform: the actor of
 * each file, creates and updates in kind order, deletes in reverse, the
 * max_deletes guard, the fields the platform's API cannot take; and
 * confirming, before anything is decided, a deletion the platform's
 * listing suggests. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/credit.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/util.h"

#include "reconcile-int.h"

/* Commits read back from the branch head to credit each applied file. */
#define RC_CREDIT_MAX_COMMITS 10000

/* Append a created object to the snapshot so later references find it. */
static void
rc_snapshot_add(struct rc_state *st, const struct profile_kind *k,
                const json_t *obj)
{
    platform_snapshot_add(st->snap, k, obj);
}

/*
 * The actors of inbound changes, one per slot (NULL where none is
 * applied): the author of the last commit on the branch that changed the
 * slot's file, not the author of the branch head (DESIGN §4.1).
 */
static char **
rc_push_actors(struct rc_state *st)
{
    char **actors = xcalloc(st->nslots + 1, sizeof *actors);
    const char **paths = xcalloc(st->nslots + 1, sizeof *paths);
    char **found, *err = NULL;
    size_t *at = xcalloc(st->nslots + 1, sizeof *at);
    size_t i, n = 0;

    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].inbound) {
            paths[n] = rc_path(st, &st->slots[i]);
            at[n++] = i;
        }
    }
    found = xcalloc(n + 1, sizeof *found);
    if (st->gexists && n > 0 &&
        credit_authors(gitstore_repo(st->ctx->gs), &st->ghead, paths, n,
                       RC_CREDIT_MAX_COMMITS, found, &err) != 0) {
        log_warn("cannot tell who changed each file; crediting the author of the branch head",
                 "workspace", st->ws->name, "error", err);
        free(err);
    }
    for (i = 0; i < n; i++) {
        actors[at[i]] = found[i];
        free((char *)paths[i]);
    }
    free(found);
    free(paths);
    free(at);
    return actors;
}

/* Index of a kind in the profile (dependency order: earlier kinds first). */
static size_t
rc_kind_index(const struct rc_state *st, const struct profile_kind *k)
{
    return (size_t)(k - st->ctx->profile->kinds);
}

/*
 * After a write: report the fields of the file that the platform's API
 * cannot change (the profile's create: or update: lists), so that such
 * an edit is never dropped silently.  The rest of the file was applied;
 * the platform keeps its values, and the next pass commits them back.
 */
static void
rc_report_unapplied(struct rc_state *st, struct rc_slot *s, const char *path,
                    bool create, const json_t *body, const json_t *before,
                    const json_t *after)
{
    json_t *fields = platform_unapplied(s->kind, create, body, before, after);
    struct buf names;
    size_t i;
    json_t *v;

    if (json_array_size(fields) > 0) {
        buf_init(&names);
        json_array_foreach(fields, i, v) {
            buf_printf(&names, "%s%s", i > 0 ? ", " : "",
                       profile_git_name(s->kind, json_string_value(v)));
        }
        rc_issue(&st->rep->not_applied, s, path,
                 "%s: the %s API does not take %s on %s; the rest of the "
                 "file was applied, and the platform's value%s will be "
                 "committed back",
                 names.data, st->ctx->profile->name,
                 json_array_size(fields) > 1 ? "these fields" : "this field",
                 create ? "create" : "update",
                 json_array_size(fields) > 1 ? "s" : "");
        log_warn("fields not applied: the platform's API cannot change them",
                 "workspace", st->ws->name, "path", path, "fields", names.data,
                 "profile", st->ctx->profile->name);
        buf_free(&names);
    }
    json_decref(fields);
}

/* Apply one slot's Git version to the platform. */
static void
rc_apply(struct rc_state *st, struct rc_slot *s, const char *actor)
{
    const struct platform_object *o;
    json_t *body = NULL, *result = NULL;
    enum platform_result r;
    git_oid now;
    char *err = NULL, *path = rc_path(st, s);
    const char *what;

    o = platform_snapshot_find_slug(st->snap, s->kind, s->slug);
    if (!s->has_g) {
        what = "deleted";
        if (o == NULL) {
            r = PLATFORM_OK; /* already gone */
        } else {
            r = platform_delete(st->ctx->pl, s->kind, o->id, actor, &err);
        }
    } else {
        /* The file name is the slug; the file may leave the key out. */
        if (json_object_get(s->gdoc, s->kind->slug_field) == NULL)
            json_object_set_new(s->gdoc, s->kind->slug_field, json_string(s->slug));
        body = platform_from_git(s->kind, s->gdoc, st->snap, &err);
        if (body == NULL) {
            r = PLATFORM_INVALID;
            what = "refused";
        } else if (o == NULL) {
            what = "created";
            r = platform_create(st->ctx->pl, s->kind, body, actor, &result,
                                &err);
        } else {
            what = "updated";
            r = platform_update(st->ctx->pl, s->kind, o->id, body, actor,
                                &result, &err);
        }
    }
    if (r != PLATFORM_OK) {
        s->failed = true;
        rc_issue(&st->rep->apply_errors, s, path, "%s: %s",
                 platform_result_name(r), err != NULL ? err : "");
        log_error("apply failed", "workspace", st->ws->name, "path", path,
                  "result", platform_result_name(r), "error", err);
        goto out;
    }
    log_info("applied", "workspace", st->ws->name, "path", path, "action",
             what, "actor", actor != NULL ? actor : "gitsyncd");
    if (!s->has_g) {
        st->rep->deleted++;
    } else if (o == NULL) {
        st->rep->created++;
        if (result != NULL)
            rc_snapshot_add(st, s->kind, result);
    } else {
        st->rep->updated++;
    }
    if (s->has_g)
        rc_report_unapplied(st, s, path, o == NULL, body,
                            o != NULL ? o->raw : NULL, result);
    /* The base records Git's version; a normalised one is committed next. */
    s->has_newbase = s->has_g;
    s->newbase = s->g;
    s->settled = true;
    if (result != NULL && s->has_g) {
        free(err);
        err = NULL;
        if (rc_platform_blob(st, s->kind, s->slug, result, NULL, &now, &err) == 0 &&
            !git_oid_equal(&now, &s->g)) {
            log_info("the platform normalised what it was sent; committing "
                     "its form next", "workspace", st->ws->name, "path", path);
            st->again = true;
        }
    }
out:
    free(err);
    free(path);
    json_decref(body);
    json_decref(result);
}

/* Inbound: apply every resource that Git changed; creates in kind order. */
void
rc_inbound(struct rc_state *st)
{
    size_t i, kk, ndel = 0, nk = st->ctx->profile->nkinds;
    long long max = st->ws->sync.max_deletes;
    char **actors;
    bool any = false;

    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].inbound && !st->slots[i].has_g)
            ndel++;
        any = any || st->slots[i].inbound;
    }
    if (!any)
        return;
    if (max >= 0 && ndel > (size_t)max) {
        char nbuf[32], mbuf[32];

        snprintf(nbuf, sizeof nbuf, "%zu", ndel);
        snprintf(mbuf, sizeof mbuf, "%lld", max);
        log_error("refusing to delete: more deletions than max_deletes",
                  "workspace", st->ws->name, "deletes", nbuf, "max_deletes",
                  mbuf);
        for (i = 0; i < st->nslots; i++) {
            struct rc_slot *s = &st->slots[i];
            char *path;

            if (!s->inbound || s->has_g)
                continue;
            s->inbound = false;
            s->refused = true;
            path = rc_path(st, s);
            rc_issue(&st->rep->refused_deletes, s, path,
                     "deleting %zu resources exceeds max_deletes %lld: "
                     "no deletion applied", ndel, max);
            free(path);
        }
    }
    actors = rc_push_actors(st);
    /* Creates and updates, kinds in profile order (models before syncs). */
    for (kk = 0; kk < nk; kk++) {
        for (i = 0; i < st->nslots; i++) {
            struct rc_slot *s = &st->slots[i];

            if (s->inbound && s->has_g && rc_kind_index(st, s->kind) == kk)
                rc_apply(st, s, actors[i]);
        }
    }
    /* Deletes, kinds in reverse order (syncs before the models they use). */
    for (kk = nk; kk-- > 0;) {
        for (i = 0; i < st->nslots; i++) {
            struct rc_slot *s = &st->slots[i];

            if (s->inbound && !s->has_g && rc_kind_index(st, s->kind) == kk)
                rc_apply(st, s, actors[i]);
        }
    }
    for (i = 0; i < st->nslots; i++)
        free(actors[i]);
    free(actors);
    if (st->job != NULL && st->job->git_moved && st->job->git_received_at > 0)
        st->rep->push_to_apply = now_wall() - st->job->git_received_at;
}

/*
 * A resource the base has but the platform's listing lacks looks deleted
 * on the platform.  Offset paging skips an item whenever another one is
 * deleted while the pages are read (bench/soak.sh found it: a bogus
 * "deleted" commit, then "created" on the next pass), so a deletion is
 * confirmed by asking for the resource itself before anything is decided.
 */
void
rc_confirm_absent(struct rc_state *st)
{
    size_t nk = st->ctx->profile->nkinds, i, j, ki;
    json_t **relist = xcalloc(nk + 1, sizeof *relist), *item, *v;
    enum platform_result r;
    char *err;

    for (i = 0; i < st->nslots; i++) {
        struct rc_slot *s = &st->slots[i];

        if (!s->has_b || s->has_p || s->p_unknown)
            continue;
        item = NULL;
        err = NULL;
        ki = rc_kind_index(st, s->kind);
        if (s->kind->slug_query != NULL) {
            r = platform_get_by_slug(st->ctx->pl, s->kind, s->slug, &item, &err);
        } else {
            /* No query by slug: one second listing per kind, for all. */
            r = relist[ki] != NULL ? PLATFORM_OK
                                   : platform_list(st->ctx->pl, s->kind, &relist[ki], &err);
            json_array_foreach(r == PLATFORM_OK ? relist[ki] : NULL, j, v) {
                const char *slug = json_string_value(json_object_get(v, s->kind->slug_field));

                if (slug != NULL && strcmp(slug, s->slug) == 0) {
                    item = json_incref(v);
                    break;
                }
            }
        }
        if (r != PLATFORM_OK) {
            s->p_unknown = true;
            log_warn("cannot confirm a deletion on the platform; deciding on the next pass",
                     "workspace", st->ws->name, "kind", s->kind->name, "slug", s->slug,
                     "error", err);
            free(err);
            continue;
        }
        if (item == NULL)
            continue; /* really gone */
        log_warn("the platform's listing missed a resource (changed while it was read); it is still there",
                 "workspace", st->ws->name, "kind", s->kind->name, "slug", s->slug);
        rc_snapshot_add(st, s->kind, item);
        if (rc_platform_blob(st, s->kind, s->slug, item, NULL, &s->p, &err) != 0) {
            s->p_unknown = true;
            free(err);
        } else {
            s->has_p = true;
        }
        json_decref(item);
    }
    for (i = 0; i < nk; i++)
        json_decref(relist[i]);
    free(relist);
}
