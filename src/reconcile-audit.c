/* reconcile-audit: what a workspace has read of its platform's audit log
 * (the cursor, the actor of each resource changed, the invalid files
 * logged), kept across jobs and threads until reconcile_shutdown, and
 * carried through the cluster database (reconcile_audit_export,
 * reconcile_audit_import). */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/util.h"

#include "reconcile-int.h"

static pthread_mutex_t rc_audit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rc_audit *rc_audits;

/* Actors remembered from the audit log, at most. */
#define RC_MAX_AUDIT_ACTORS 50000

/* The audit state of a workspace on a platform, made on first use. */
struct rc_audit *
rc_audit_get(const char *workspace, const char *url)
{
    struct rc_audit *a;
    char *key = xasprintf("%s\n%s", workspace, url != NULL ? url : "");

    pthread_mutex_lock(&rc_audit_lock);
    for (a = rc_audits; a != NULL && strcmp(a->key, key) != 0; a = a->next)
        ;
    if (a == NULL) {
        a = xcalloc(1, sizeof *a);
        a->key = key;
        key = NULL;
        a->actors = json_object();
        a->invalid = json_object();
        a->next = rc_audits;
        rc_audits = a;
    }
    pthread_mutex_unlock(&rc_audit_lock);
    free(key);
    return a;
}

void
reconcile_shutdown(void)
{
    struct rc_audit *a, *next;

    pthread_mutex_lock(&rc_audit_lock);
    for (a = rc_audits; a != NULL; a = next) {
        next = a->next;
        free(a->key);
        free(a->cursor);
        json_decref(a->actors);
        json_decref(a->invalid);
        free(a);
    }
    rc_audits = NULL;
    pthread_mutex_unlock(&rc_audit_lock);
}

/* Read what the audit log says since last time into ctx->audit->actors. */
void
rc_read_audit(struct rc_state *st)
{
    struct rc_ctx *ctx = st->ctx;
    json_t *entries = NULL, *e, *actor, *seq;
    const char *kind, *slug;
    char *err = NULL, *key;
    size_t i;

    if (ctx->profile->audit_path == NULL)
        return;
    if (st->audit_before < 0 && ctx->audit->cursor != NULL) {
        char *end;
        long long v = strtoll(ctx->audit->cursor, &end, 10);

        if (end != ctx->audit->cursor && *end == '\0')
            st->audit_before = v;
    }
    if (platform_audit(ctx->pl, ctx->audit->cursor, &entries, &err) !=
        PLATFORM_OK) {
        log_warn("cannot read the audit log", "workspace", ctx->workspace,
                 "error", err);
        free(err);
        return;
    }
    json_array_foreach(entries, i, e) {
        kind = json_string_value(json_object_get(e, "kind"));
        slug = json_string_value(json_object_get(e, "slug"));
        actor = json_object_get(e, "actor");
        seq = json_object_get(e, "seq");
        if (seq != NULL) {
            free(ctx->audit->cursor);
            ctx->audit->cursor = json_is_integer(seq)
                ? xasprintf("%lld", (long long)json_integer_value(seq))
                : xstrdup(json_string_value(seq) ? json_string_value(seq) : "");
        }
        if (kind == NULL || slug == NULL || !json_is_object(actor))
            continue;
        key = xasprintf("%s/%s", kind, slug);
        /* One entry per resource ever changed: bounded, so that years of
         * churn (created, deleted, never seen again) cost no memory.  An
         * actor forgotten here falls back to the event's, then gitsyncd's. */
        if (json_object_size(ctx->audit->actors) >= RC_MAX_AUDIT_ACTORS &&
            json_object_get(ctx->audit->actors, key) == NULL)
            json_object_clear(ctx->audit->actors);
        /* Copies, not references: the map outlives the job, and a value
         * kept from a parsed page would keep the page's whole region
         * (jload.h). */
        json_object_set_new(ctx->audit->actors, key,
                            json_pack("{s:o?,s:o?,s:o?}", "name",
                                      json_deep_copy(json_object_get(actor, "name")), "email",
                                      json_deep_copy(json_object_get(actor, "email")), "seq",
                                      json_deep_copy(seq)));
        free(key);
    }
    json_decref(entries);
}

/*
 * After a job that went through: forget the actors of audit entries read
 * before this job's listing was taken (seq up to st->audit_before).  Their
 * changes were in that listing and are committed now; what was read later
 * may describe changes the listing missed, and stays for the next job.
 * (Numeric sequence numbers only; others wait for the cap.)
 */
void
rc_forget_audit(struct rc_state *st)
{
    json_t *actors = st->ctx->audit->actors, *v, *seq;
    const char *key;
    void *tmp;
    size_t before = json_object_size(actors);
    char a[32], b[32];

    if (st->audit_before < 0)
        return;
    json_object_foreach_safe(actors, tmp, key, v) {
        seq = json_object_get(v, "seq");
        if (json_is_integer(seq) && json_integer_value(seq) <= st->audit_before)
            json_object_del(actors, key);
    }
    snprintf(a, sizeof a, "%zu", before - json_object_size(actors));
    snprintf(b, sizeof b, "%zu", json_object_size(actors));
    log_debug("forgot the actors of committed changes", "workspace", st->ctx->workspace,
              "forgotten", a, "kept", b);
}

/*
 * Cluster mode (cluster.h): what a workspace has read of its audit log
 * travels through the database with the workspace, so that the replica
 * that runs its next job goes on from the same cursor and actors.
 */
json_t *
reconcile_audit_export(const struct config_workspace *ws)
{
    struct rc_audit *a = rc_audit_get(ws->name, ws->platform.url);

    if (a->cursor == NULL && json_object_size(a->actors) == 0)
        return NULL;
    return json_pack("{s:s, s:s?, s:O}", "platform", ws->platform.url, "cursor", a->cursor,
                     "actors", a->actors);
}

void
reconcile_audit_import(const struct config_workspace *ws, const json_t *state)
{
    struct rc_audit *a;
    const char *url = json_string_value(json_object_get(state, "platform"));
    const char *cursor = json_string_value(json_object_get(state, "cursor"));
    json_t *actors = json_object_get(state, "actors");

    /* Another platform's log says nothing of this one's. */
    if (url == NULL || strcmp(url, ws->platform.url) != 0 || !json_is_object(actors))
        return;
    a = rc_audit_get(ws->name, ws->platform.url);
    free(a->cursor);
    a->cursor = cursor != NULL ? xstrdup(cursor) : NULL;
    json_decref(a->actors);
    a->actors = json_deep_copy(actors);
}
