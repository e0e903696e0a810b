/* reconcile: one two-way sync of a workspace, as DESIGN §4 describes. */
#include "autoconfig.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/credit.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/pullreq.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

#define RECONCILE_MAX_PASSES 3
/* Commits read back from the branch head to credit each applied file. */
#define RC_CREDIT_MAX_COMMITS 10000

/*
 * What a workspace has read of its platform's audit log, shared by the
 * worker threads: whichever runs the next job goes on from the same
 * cursor and forgets what the last one committed.  No lock is needed
 * for its contents, as jobs of one workspace never run at once and the
 * queue's lock orders one job before the next; rc_audit_lock guards the
 * list.  Keyed by workspace and platform URL: a reload that points the
 * workspace at another platform starts from that platform's beginning.
 */
struct rc_audit {
    char *key;                /* workspace "\n" platform URL */
    char *cursor;             /* last audit seq read, or NULL */
    json_t *actors;           /* "kind/slug" -> {"name", "email", "seq"} */
    json_t *invalid;          /* path -> blob id of each invalid file logged */
    struct rc_audit *next;
};

static pthread_mutex_t rc_audit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rc_audit *rc_audits;

/* What this thread keeps for one workspace between jobs. */
struct rc_ctx {
    char *workspace;
    unsigned long generation; /* of the configuration it was built from */
    struct profile *profile;
    const char **folders;
    struct gitstore *gs;
    struct platform *pl;
    struct rc_audit *audit;   /* the workspace's, shared */
    struct rc_ctx *next;
};

/* One resource as seen by the platform (P), the base (B) and Git (G). */
struct rc_slot {
    const struct profile_kind *kind;
    char *folder;
    char *slug;
    bool has_p, has_b, has_g;
    git_oid p, b, g;
    const struct platform_object *pobj;
    bool p_unknown;           /* the platform object could not be mapped */
    bool g_invalid;           /* Git's file is invalid: left alone */
    bool blocked;             /* the platform's object cannot be synced
                                 (duplicate slug, over the limits): the
                                 resource is left alone in both directions */
    char *aname, *aemail;     /* the cleaned author of its commit, or NULL */
    char *atrailer;           /* the actor for the Gitsyncd-Actor trailer */
    const char *g_irregular;  /* Git's entry is not a file (static), or NULL */
    json_t *gdoc;             /* Git's document, decoded (inbound) */
    const struct job_resource *ev; /* the latest event naming it */
    long ev_order;            /* its position in the job, or LONG_MAX */
    /* decisions */
    bool outbound, inbound, conflict, refused, failed, branch_conflict;
    bool has_new, settled;
    git_oid newbase;
    bool has_newbase;
    bool carried;             /* committed to the request, not the branch */
};

struct rc_state {
    struct rc_ctx *ctx;
    const struct config_workspace *ws;
    const struct job *job;
    struct reconcile_report *rep;
    struct platform_snapshot *snap;
    struct rc_slot *slots;
    size_t nslots, capslots;
    json_t *slot_index;     /* "kind:slug" -> index in slots, while building */
    git_oid ghead;
    bool gexists;
    git_oid bcommit;
    bool bexists;
    bool again;
    json_t *invalid;        /* path -> blob id of the invalid files seen */
    long long audit_before; /* the audit cursor before this job read it; -1 */
};

static pthread_key_t rc_key;
/* Actors remembered from the audit log, at most. */
#define RC_MAX_AUDIT_ACTORS 50000

static pthread_once_t rc_once = PTHREAD_ONCE_INIT;
static reconcile_request_fn rc_observer;
static void *rc_observer_arg;

static const git_oid rc_zero_oid;

/* Free one cached workspace context. */
static void
rc_ctx_free(struct rc_ctx *ctx)
{
    if (ctx == NULL)
        return;
    platform_free(ctx->pl);
    gitstore_free(ctx->gs);
    free(ctx->folders);
    profile_free(ctx->profile);
    free(ctx->workspace);
    free(ctx);
}

/* Free the thread's whole cache (thread exit). */
static void
rc_cache_free(void *head)
{
    struct rc_ctx *ctx = head, *next;

    for (; ctx != NULL; ctx = next) {
        next = ctx->next;
        rc_ctx_free(ctx);
    }
}

static void
rc_key_init(void)
{
    pthread_key_create(&rc_key, rc_cache_free);
}

void
reconcile_thread_reset(void)
{
    pthread_once(&rc_once, rc_key_init);
    rc_cache_free(pthread_getspecific(rc_key));
    pthread_setspecific(rc_key, NULL);
}

void
reconcile_set_request_observer(reconcile_request_fn fn, void *arg)
{
    rc_observer = fn;
    rc_observer_arg = arg;
}

/* Forward one platform request to the observer, naming the workspace. */
static void
rc_observe(const char *method, int code, double seconds, void *arg)
{
    const struct rc_ctx *ctx = arg;

    if (rc_observer != NULL)
        rc_observer(ctx->workspace, method, code, seconds, rc_observer_arg);
}

/* The directory part of path, or "." */
static char *
rc_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    return xstrndup(path, (size_t)(slash - path));
}

/* The audit state of a workspace on a platform, made on first use. */
static struct rc_audit *
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

/* This thread's context for ws, built on first use or after a reload. */
static struct rc_ctx *
rc_ctx_get(const struct config *cfg, const struct config_workspace *ws,
           char **err)
{
    struct rc_ctx *head, *ctx, **pp;
    struct gitstore_opts opts;
    const char *dirs[3];
    char *cfgdir = NULL;
    size_t i, nd = 0;

    pthread_once(&rc_once, rc_key_init);
    head = pthread_getspecific(rc_key);
    for (pp = &head; *pp != NULL; pp = &(*pp)->next) {
        ctx = *pp;
        if (strcmp(ctx->workspace, ws->name) != 0)
            continue;
        if (ctx->generation == cfg->generation)
            return ctx;
        /* The configuration was reloaded: build it again. */
        *pp = ctx->next;
        rc_ctx_free(ctx);
        pthread_setspecific(rc_key, head);
        break;
    }

    ctx = xcalloc(1, sizeof *ctx);
    ctx->workspace = xstrdup(ws->name);
    ctx->generation = cfg->generation;
    ctx->audit = rc_audit_get(ws->name, ws->platform.url);
    if (cfg->profiles_dir != NULL)
        dirs[nd++] = cfg->profiles_dir;
    if (cfg->path != NULL) {
        cfgdir = rc_dirname(cfg->path);
        dirs[nd++] = cfgdir;
    }
    dirs[nd] = NULL;
    if (profile_load(ws->platform.profile, dirs, &ctx->profile, err) != 0)
        goto fail;
    ctx->folders = xcalloc(ctx->profile->nkinds + 1, sizeof *ctx->folders);
    for (i = 0; i < ctx->profile->nkinds; i++)
        ctx->folders[i] = ctx->profile->kinds[i].folder;
    memset(&opts, 0, sizeof opts);
    opts.state_dir = cfg->state_dir;
    opts.workspace = ws->name;
    opts.git = &ws->git;
    opts.folders = ctx->folders;
    opts.nfolders = ctx->profile->nkinds;
    if (gitstore_open(&opts, &ctx->gs, err) != 0)
        goto fail;
    ctx->pl = platform_new(ctx->profile, &ws->platform, ws->name);
    platform_set_observer(ctx->pl, rc_observe, ctx);
    free(cfgdir);
    ctx->next = head;
    pthread_setspecific(rc_key, ctx);
    return ctx;
fail:
    free(cfgdir);
    rc_ctx_free(ctx);
    return NULL;
}

/* Add one issue to a list. */
static void
rc_issue(struct reconcile_issues *list, const struct rc_slot *s,
         const char *path, const char *fmt, ...) GS_PRINTF(4, 5);

static void
rc_issue(struct reconcile_issues *list, const struct rc_slot *s,
         const char *path, const char *fmt, ...)
{
    struct reconcile_issue *is;
    va_list ap;

    list->v = xreallocarray(list->v, list->n + 1, sizeof *list->v);
    is = &list->v[list->n++];
    is->kind = xstrdup(s->kind->name);
    is->slug = xstrdup(s->slug);
    is->path = path != NULL ? xstrdup(path) : NULL;
    is->id = NULL;
    va_start(ap, fmt);
    is->message = xvasprintf(fmt, ap);
    va_end(ap);
}

/* Add one issue about a platform object (which may have no slot). */
static void
rc_issue_obj(struct reconcile_issues *list, const struct platform_object *o,
             const char *fmt, ...) GS_PRINTF(3, 4);

static void
rc_issue_obj(struct reconcile_issues *list, const struct platform_object *o,
             const char *fmt, ...)
{
    struct reconcile_issue *is;
    va_list ap;

    list->v = xreallocarray(list->v, list->n + 1, sizeof *list->v);
    is = &list->v[list->n++];
    is->kind = xstrdup(o->kind->name);
    is->slug = xstrdup(o->slug != NULL ? o->slug : "");
    is->path = NULL;
    is->id = xstrdup(o->id != NULL ? o->id : "");
    va_start(ap, fmt);
    is->message = xvasprintf(fmt, ap);
    va_end(ap);
}

static void
rc_issues_free(struct reconcile_issues *list)
{
    size_t i;

    for (i = 0; i < list->n; i++) {
        free(list->v[i].kind);
        free(list->v[i].slug);
        free(list->v[i].path);
        free(list->v[i].id);
        free(list->v[i].message);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

void
reconcile_report_free(struct reconcile_report *rep)
{
    rc_issues_free(&rep->invalid);
    rc_issues_free(&rep->refused_deletes);
    rc_issues_free(&rep->conflicts_open);
    rc_issues_free(&rep->apply_errors);
    rc_issues_free(&rep->invalid_platform);
    rc_issues_free(&rep->not_applied);
    free(rep->event_to_commit);
    memset(rep, 0, sizeof *rep);
}

/* The repository path of a slot's file (without the sub-path). */
static char *
rc_path(const struct rc_state *st, const struct rc_slot *s)
{
    return xasprintf("%s%s/%s.yaml", st->ws->git.path, s->folder, s->slug);
}

/* Order slots by folder, then slug. */
static int
rc_slot_cmp(const void *a, const void *b)
{
    const struct rc_slot *x = a, *y = b;
    int c = strcmp(x->folder, y->folder);

    return c != 0 ? c : strcmp(x->slug, y->slug);
}

/* The slot for (kind, slug), added if missing (hashed while building; the
 * slots are sorted afterwards and found with rc_slot_find). */
static struct rc_slot *
rc_slot_get(struct rc_state *st, const struct profile_kind *k,
            const char *slug)
{
    struct rc_slot *s;
    char *key = xasprintf("%p:%s", (const void *)k, slug);
    json_t *v;

    if (st->slot_index == NULL)
        st->slot_index = json_object();
    v = json_object_get(st->slot_index, key);
    if (json_is_integer(v)) {
        free(key);
        return &st->slots[json_integer_value(v)];
    }
    json_object_set_new_nocheck(st->slot_index, key,
                                json_integer((json_int_t)st->nslots));
    free(key);
    if (st->nslots == st->capslots) {
        st->capslots = st->capslots == 0 ? 64 : 2 * st->capslots;
        st->slots = xreallocarray(st->slots, st->capslots, sizeof *st->slots);
    }
    s = &st->slots[st->nslots++];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->folder = xstrdup(k->folder);
    s->slug = xstrdup(slug);
    s->ev_order = LONG_MAX;
    return s;
}

/* The slot for (kind, slug) once the slots are sorted, or NULL. */
static struct rc_slot *
rc_slot_find(struct rc_state *st, const struct profile_kind *k,
             const char *slug)
{
    struct rc_slot key;

    if (st->nslots == 0)
        return NULL;
    memset(&key, 0, sizeof key);
    key.folder = (char *)k->folder;
    key.slug = (char *)slug;
    return bsearch(&key, st->slots, st->nslots, sizeof *st->slots,
                   rc_slot_cmp);
}

static void
rc_slots_free(struct rc_state *st)
{
    size_t i;

    for (i = 0; i < st->nslots; i++) {
        free(st->slots[i].folder);
        free(st->slots[i].slug);
        free(st->slots[i].aname);
        free(st->slots[i].aemail);
        free(st->slots[i].atrailer);
        json_decref(st->slots[i].gdoc);
    }
    free(st->slots);
    st->slots = NULL;
    st->nslots = st->capslots = 0;
    json_decref(st->slot_index);
    st->slot_index = NULL;
}

/*
 * Encode a platform object (slug) in its canonical Git form and store the
 * blob.  -1 if it cannot be mapped; -2 if it is not fit for Git: a number
 * out of range, or a file that `gitsyncd validate` would refuse (too big,
 * too deep, a field of the wrong type).  A blob equal to known (the base's)
 * was checked when it got there and is not decoded again.
 */
static int
rc_platform_blob(struct rc_state *st, const struct profile_kind *k,
                 const char *slug, const json_t *raw, const git_oid *known,
                 git_oid *oid, char **err)
{
    json_t *doc, *back = NULL;
    const char *key, *num;
    char *yaml, *name;
    size_t len;
    int rc;

    key = jload_find_out_of_range(raw, NULL, &num);
    if (key != NULL) {
        set_error(err, "%s: %s is out of range (integers are 64-bit)", key, num);
        return -2;
    }
    doc = platform_to_git(k, raw, st->snap, err);
    if (doc == NULL)
        return -1;
    yaml = resource_encode(doc, (const char *const *)k->order, k->norder,
                           &len);
    json_decref(doc);
    if (len > RESOURCE_MAX_FILE) {
        set_error(err, "its file would be larger than 8 MiB (%zu bytes)", len);
        free(yaml);
        return -2;
    }
    if (known != NULL && git_odb_hash(oid, yaml, len, GIT_OBJECT_BLOB) == 0 &&
        git_oid_equal(oid, known)) {
        free(yaml);
        return 0;
    }
    /* Never commit what `gitsyncd validate` would refuse. */
    name = xasprintf("%s/%s.yaml", k->folder, slug);
    if (resource_decode(name, yaml, len, &back, err) != 0 ||
        resource_validate(st->ctx->profile, k, slug, back, err) != 0) {
        json_decref(back);
        free(name);
        free(yaml);
        return -2;
    }
    json_decref(back);
    free(name);
    rc = gitstore_write_blob(st->ctx->gs, yaml, len, oid, err);
    free(yaml);
    return rc;
}

/* Load a tree's resources into the slots' B or G side. */
static int
rc_load_tree(struct rc_state *st, const git_oid *commit, bool base,
             char **err)
{
    struct gitstore_entry *e = NULL;
    const struct profile_kind *k;
    struct rc_slot *s;
    size_t n = 0, i;

    if (gitstore_read_tree(st->ctx->gs, commit, &e, &n, err) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        k = profile_kind_by_folder(st->ctx->profile, e[i].folder);
        if (k == NULL)
            continue;
        s = rc_slot_get(st, k, e[i].slug);
        if (base) {
            s->has_b = true;
            git_oid_cpy(&s->b, &e[i].blob);
        } else {
            s->has_g = true;
            git_oid_cpy(&s->g, &e[i].blob);
            s->g_irregular = e[i].irregular;
        }
    }
    gitstore_entries_free(e, n);
    return 0;
}

/* Attach the job's events to slots: the latest event per resource wins. */
static void
rc_attach_events(struct rc_state *st)
{
    const struct job_resource *r;
    const struct platform_object *o;
    const struct profile_kind *k;
    const char *slug;
    struct rc_slot *s;
    size_t i;

    if (st->job == NULL)
        return;
    for (i = 0; i < st->job->ndirty; i++) {
        r = &st->job->dirty[i];
        k = r->kind != NULL ? profile_kind_by_name(st->ctx->profile, r->kind)
                            : NULL;
        if (k == NULL)
            continue;
        slug = r->slug;
        if (slug == NULL && r->id != NULL) {
            o = platform_snapshot_find_id(st->snap, k, r->id);
            slug = o != NULL ? o->slug : NULL;
        }
        if (slug == NULL)
            continue;
        s = rc_slot_find(st, k, slug);
        if (s != NULL && s->kind == k) {
            s->ev = r;
            s->ev_order = (long)i;
        }
    }
}

/* Read what the audit log says since last time into ctx->audit->actors. */
static void
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
static void
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

/* Compare the three sides of one slot. */
static bool
rc_differs(bool has_a, const git_oid *a, bool has_b, const git_oid *b)
{
    if (has_a != has_b)
        return true;
    return has_a && !git_oid_equal(a, b);
}

/*
 * Log an invalid file when it appears or changes, not at every reconcile
 * (20,000 of them would flood the log): what was logged is remembered per
 * workspace by path and blob id.  The summary line of each sync counts them.
 */
static void
rc_invalid_log(struct rc_state *st, const struct rc_slot *s, const char *path,
               const char *err)
{
    char hex[GIT_OID_HEXSZ + 1];
    const char *seen;
    bool known;

    git_oid_tostr(hex, sizeof hex, &s->g);
    if (st->invalid == NULL)
        st->invalid = json_object();
    /* Seen by an earlier sync, or by an earlier pass of this one. */
    seen = json_string_value(json_object_get(st->ctx->audit->invalid, path));
    if (seen == NULL || strcmp(seen, hex) != 0)
        seen = json_string_value(json_object_get(st->invalid, path));
    known = seen != NULL && strcmp(seen, hex) == 0;
    json_object_set_new_nocheck(st->invalid, path, json_string(hex));
    if (known)
        log_debug("invalid file skipped (unchanged)", "workspace", st->ws->name,
                  "path", path, "error", err);
    else
        log_warn("invalid file skipped", "workspace", st->ws->name, "path", path,
                 "error", err);
}

/* Decode and validate Git's version of a slot; false if it is invalid. */
static bool
rc_check_git(struct rc_state *st, struct rc_slot *s)
{
    const struct profile_kind *k = s->kind;
    const struct profile_ref *ref;
    const struct profile_kind *rk;
    const struct rc_slot *t;
    const char *target;
    char *data = NULL, *err = NULL, *path;
    size_t len, i;

    path = rc_path(st, s);
    if (s->g_irregular != NULL) {
        set_error(&err, "%s, not a regular file", s->g_irregular);
        goto bad;
    }
    if (gitstore_read_blob_max(st->ctx->gs, &s->g, RESOURCE_MAX_FILE, &data, &len, &err) != 0)
        goto bad;
    if (resource_decode(path, data, len, &s->gdoc, &err) != 0)
        goto bad;
    if (resource_validate(st->ctx->profile, k, s->slug, s->gdoc, &err) != 0)
        goto bad;
    for (i = 0; i < k->nrefs; i++) {
        ref = &k->refs[i];
        target = json_string_value(json_object_get(s->gdoc, ref->as));
        if (target == NULL)
            continue;
        rk = profile_kind_by_name(st->ctx->profile, ref->kind);
        t = rk != NULL ? rc_slot_find(st, rk, target) : NULL;
        if (t == NULL || t->kind != rk || !t->has_g) {
            set_error(&err, "%s: %s \"%s\" does not exist", ref->as,
                      ref->kind, target);
            goto bad;
        }
    }
    free(data);
    free(path);
    return true;
bad:
    rc_issue(&st->rep->invalid, s, path, "%s", err != NULL ? err : "invalid");
    rc_invalid_log(st, s, path, err);
    free(err);
    free(data);
    free(path);
    json_decref(s->gdoc);
    s->gdoc = NULL;
    return false;
}

/*
 * The author of a slot's commit, cleaned so that Git can hold it (NULL
 * name and email: the configured author), and the actor as the platform
 * named it, made readable, for the trailer (credit.h).
 */
static void
rc_author(struct rc_state *st, struct rc_slot *s, const char **name,
          const char **email, const char **trailer, const char **event)
{
    const char *n = NULL, *e = NULL;
    const json_t *a;
    char *key;

    *event = s->ev != NULL ? s->ev->event_id : NULL;
    if (s->ev != NULL && s->ev->actor_name != NULL) {
        n = s->ev->actor_name;
        e = s->ev->actor_email;
    } else {
        key = xasprintf("%s/%s", s->kind->name, s->slug);
        a = json_object_get(st->ctx->audit->actors, key);
        free(key);
        if (a != NULL) {
            n = json_string_value(json_object_get(a, "name"));
            e = json_string_value(json_object_get(a, "email"));
        }
    }
    free(s->aname);
    free(s->aemail);
    free(s->atrailer);
    credit_identity(n, e, &s->aname, &s->aemail, &s->atrailer);
    if (s->aname == NULL && s->atrailer != NULL)
        log_warn("the platform's actor is no identity Git can hold; committing as the configured author",
                 "workspace", st->ws->name, "kind", s->kind->name, "slug", s->slug,
                 "actor", s->atrailer);
    *name = s->aname;
    *email = s->aemail;
    *trailer = s->atrailer;
}

/* Order outbound slots: by event order, then by path. */
static int
rc_outbound_cmp(const void *a, const void *b)
{
    const struct rc_slot *x = *(const struct rc_slot *const *)a;
    const struct rc_slot *y = *(const struct rc_slot *const *)b;

    if (x->ev_order != y->ev_order)
        return x->ev_order < y->ev_order ? -1 : 1;
    return rc_slot_cmp(x, y);
}

/* s with control characters (newlines) as '?', for one line of a message. */
static char *
rc_one_line(const char *s)
{
    char *t = xstrdup(s != NULL ? s : ""), *p;

    for (p = t; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return t;
}

/* The commit message of an outbound change (trailer: the actor, cleaned). */
static char *
rc_message(struct rc_state *st, const struct rc_slot *s, const char *verb,
           const char *trailer, const char *event)
{
    char *slug = rc_one_line(s->slug), *ev = rc_one_line(event);
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "%s %s: %s\n\n", s->kind->name, slug, verb);
    buf_printf(&b, "Gitsyncd-Event: %s\n", event != NULL ? ev : "reconcile");
    if (trailer != NULL)
        buf_printf(&b, "Gitsyncd-Actor: %s\n", trailer);
    free(slug);
    free(ev);
    (void)st;
    return buf_detach(&b);
}

/* Push one unresolved conflict to gitsyncd/conflict/<kind>/<slug>. */
static void
rc_push_conflict_branch(struct rc_state *st, struct rc_slot *s)
{
    struct gitstore_change ch;
    git_reference *ref = NULL;
    git_commit *old = NULL;
    git_tree *tree = NULL;
    git_tree_entry *te = NULL;
    git_oid head;
    const char *name, *email, *trailer, *event;
    char *refname, *localref, *msg, *path, *err = NULL;
    enum gitstore_result r;
    bool same = false;

    refname = xasprintf("refs/heads/gitsyncd/conflict/%s/%s", s->kind->name,
                        s->slug);
    localref = xasprintf("refs/gitsyncd/conflict/%s/%s", s->kind->name,
                         s->slug);
    path = rc_path(st, s);
    /* Already pushed with this very content: nothing to do. */
    if (git_reference_lookup(&ref, gitstore_repo(st->ctx->gs), localref) == 0 &&
        git_commit_lookup(&old, gitstore_repo(st->ctx->gs),
                          git_reference_target(ref)) == 0 &&
        git_commit_tree(&tree, old) == 0) {
        if (git_tree_entry_bypath(&te, tree, path) == 0)
            same = s->has_p && git_oid_equal(git_tree_entry_id(te), &s->p);
        else
            same = !s->has_p;
    }
    git_tree_entry_free(te);
    git_tree_free(tree);
    git_commit_free(old);
    git_reference_free(ref);
    rc_issue(&st->rep->conflicts_open, s, path,
             "changed on both sides; the platform's version is on branch "
             "gitsyncd/conflict/%s/%s",
             s->kind->name, s->slug);
    if (same)
        goto out;

    rc_author(st, s, &name, &email, &trailer, &event);
    msg = rc_message(st, s, "conflict, the platform's version", trailer,
                     event);
    memset(&ch, 0, sizeof ch);
    ch.folder = s->folder;
    ch.slug = s->slug;
    ch.blob = s->has_p ? &s->p : NULL;
    ch.author_name = name;
    ch.author_email = email;
    ch.message = msg;
    if (gitstore_commit_chain(st->ctx->gs, st->gexists ? &st->ghead : NULL,
                              &ch, 1, &head, &err) != 0) {
        free(msg);
        goto fail;
    }
    free(msg);
    r = gitstore_push(st->ctx->gs, refname, &head, NULL, &err);
    if (r != GITSTORE_OK)
        goto fail;
    git_reference_free(ref);
    ref = NULL;
    if (git_reference_create(&ref, gitstore_repo(st->ctx->gs), localref,
                             &head, 1, "conflict pushed") == 0)
        git_reference_free(ref);
    log_warn("conflict: the platform's version pushed to a branch",
             "workspace", st->ws->name, "path", path, "branch",
             refname + strlen("refs/heads/"));
    goto out;
fail:
    log_error("cannot push a conflict branch", "workspace", st->ws->name,
              "path", path, "error", err);
    free(err);
out:
    free(refname);
    free(localref);
    free(path);
}

#define RC_REQUEST_REF "refs/gitsyncd/request"

/* git.write auto: workspaces whose refused push was logged, process-wide
 * (each worker thread has its own contexts). */
static pthread_mutex_t rc_told_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *rc_told;

/* True the first time this process asks for workspace. */
static bool
rc_first_refusal(const char *workspace)
{
    bool first;

    pthread_mutex_lock(&rc_told_lock);
    if (rc_told == NULL)
        rc_told = json_object();
    first = json_object_get(rc_told, workspace) == NULL;
    if (first)
        json_object_set_new(rc_told, workspace, json_true());
    pthread_mutex_unlock(&rc_told_lock);
    return first;
}

/*
 * git.rejected revert: when the newest request was closed without merging,
 * a resource whose platform value is still exactly what that request
 * proposed gets the branch's version applied (inbound) instead of being
 * proposed again.  Anything changed since goes to a new request.
 */
static int
rc_rejected_revert(struct rc_state *st, char **err)
{
    git_reference *ref = NULL;
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_tree_entry *te;
    char *number = NULL, *path;
    size_t i;
    bool closed = false, any = false;

    for (i = 0; i < st->nslots && !any; i++)
        any = st->slots[i].outbound && !st->slots[i].conflict;
    if (!any || !st->gexists ||
        git_reference_lookup(&ref, gitstore_repo(st->ctx->gs), RC_REQUEST_REF) != 0)
        return 0;
    if (git_commit_lookup(&c, gitstore_repo(st->ctx->gs), git_reference_target(ref)) != 0 ||
        git_commit_tree(&tree, c) != 0) {
        git_commit_free(c);
        git_reference_free(ref);
        return 0;
    }
    if (pullreq_rejected(st->ws, &closed, &number, err) != 0)
        goto out;
    for (i = 0; closed && i < st->nslots; i++) {
        struct rc_slot *s = &st->slots[i];
        bool proposed;

        if (!s->outbound || s->conflict)
            continue;
        path = rc_path(st, s);
        te = NULL;
        if (git_tree_entry_bypath(&te, tree, path) == 0)
            proposed = s->has_p && git_oid_equal(git_tree_entry_id(te), &s->p);
        else
            proposed = !s->has_p;
        git_tree_entry_free(te);
        if (proposed && (!s->has_g || rc_check_git(st, s))) {
            s->outbound = false;
            s->inbound = true;
            log_info("the request was closed without merging: git.rejected revert applies the branch's version",
                     "workspace", st->ws->name, "request", number, "path", path);
        }
        free(path);
    }
out:
    free(number);
    git_tree_free(tree);
    git_commit_free(c);
    git_reference_free(ref);
    return *err != NULL ? -1 : 0;
}

/*
 * Nothing left to carry (merged, or the platform agrees with the branch
 * again): delete the request's branch gitsyncd pushed, which also closes
 * a request still open on it.  A failure is logged; the next sync retries.
 */
static void
rc_request_done(struct rc_state *st)
{
    git_reference *ref = NULL;
    char *branch, *refname, *err = NULL;
    enum gitstore_result r;
    size_t i;

    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].carried)
            return;
    }
    if (git_reference_lookup(&ref, gitstore_repo(st->ctx->gs), RC_REQUEST_REF) != 0)
        return;
    branch = pullreq_branch(st->ws->name);
    refname = xasprintf("refs/heads/%s", branch);
    r = gitstore_push_delete(st->ctx->gs, refname, &err);
    if (r == GITSTORE_OK) {
        git_reference_delete(ref);
        log_info("nothing left for a pull request to carry: its branch deleted", "workspace",
                 st->ws->name, "branch", branch);
    } else {
        log_warn("cannot delete the pull request's branch", "workspace", st->ws->name,
                 "branch", branch, "error", err);
    }
    git_reference_free(ref);
    free(err);
    free(refname);
    free(branch);
}

/*
 * git.write pull_request (or auto, refused): the outbound commits, head,
 * built on the workspace branch, go to gitsyncd/<workspace> (force: gitsyncd
 * owns it) and one open request carries them.  The resources stay
 * platform-ahead (the base keeps its value), so the next sync rebuilds
 * the branch and a push to the workspace branch never reverts them.
 */
static int
rc_outbound_request(struct rc_state *st, struct rc_slot **out, size_t n,
                    const git_oid *head, char **err)
{
    const char *name, *email, *trailer, *event;
    char *branch, *refname, *number = NULL, *path;
    struct buf text;
    enum gitstore_result r;
    size_t i;
    int rc;

    branch = pullreq_branch(st->ws->name);
    refname = xasprintf("refs/heads/%s", branch);
    r = gitstore_push(st->ctx->gs, refname, head, NULL, err);
    free(refname);
    if (r == GITSTORE_OK) {
        git_reference *ref = NULL;

        /* What the request proposes, for git.rejected revert. */
        if (git_reference_create(&ref, gitstore_repo(st->ctx->gs), RC_REQUEST_REF, head, 1,
                                 "gitsyncd: request branch pushed") == 0)
            git_reference_free(ref);
    }
    if (r != GITSTORE_OK) {
        char *m = xasprintf("push to %s failed (%s): %s", branch, gitstore_result_name(r),
                            *err != NULL ? *err : "");
        free(*err);
        *err = m;
        free(branch);
        return -1;
    }
    buf_init(&text);
    buf_printf(&text, "Changes made on %s that gitsyncd (workspace %s) could not push to "
               "`%s` directly, one commit per resource, by its actor:\n\n",
               st->ctx->profile->name, st->ws->name, st->ws->git.branch);
    for (i = 0; i < n; i++) {
        path = rc_path(st, out[i]);
        rc_author(st, out[i], &name, &email, &trailer, &event);
        /* An actor Git cannot hold is still named, as its trailer is. */
        buf_printf(&text, "- `%s` %s by %s\n", path,
                   !out[i]->has_p ? "deleted" : !out[i]->has_b ? "created" : "updated",
                   name != NULL ? name : trailer != NULL ? trailer : "gitsyncd");
        out[i]->carried = true;
        log_info("committed to the pull request branch", "workspace", st->ws->name,
                 "path", path, "branch", branch, "author", name != NULL ? name : "gitsyncd");
        free(path);
    }
    buf_printf(&text, "\nMerge it to take these changes into `%s`; until then a push to `%s` "
               "does not revert them on the platform.\n", st->ws->git.branch, st->ws->git.branch);
    rc = pullreq_publish(st->ws, st->ctx->profile->name, text.data, n, &number, err);
    buf_free(&text);
    free(number);
    free(branch);
    return rc;
}

/*
 * Outbound: one commit per resource changed on the platform, pushed with
 * compare-and-swap.  Returns 0, 1 when the remote moved (start again), -1.
 */
static int
rc_outbound(struct rc_state *st, char **err)
{
    struct rc_slot **out = NULL;
    struct gitstore_change *ch = NULL;
    char **msgs = NULL;
    const char *name, *email, *trailer, *event, *verb;
    git_oid head;
    enum gitstore_result r;
    size_t n = 0, nch = 0, i;
    int rc = -1;
    bool import;

    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].outbound) {
            out = xreallocarray(out, n + 1, sizeof *out);
            out[n++] = &st->slots[i];
        }
    }
    if (n == 0)
        return 0;
    qsort(out, n, sizeof *out, rc_outbound_cmp);
    rc_read_audit(st);

    /* A first sync into a branch with no resources: one import commit. */
    import = !st->bexists;
    for (i = 0; i < st->nslots && import; i++)
        import = !st->slots[i].has_g;

    ch = xcalloc(2 * n, sizeof *ch);
    msgs = xcalloc(2 * n, sizeof *msgs);
    for (i = 0; i < n; i++) {
        struct rc_slot *s = out[i];

        rc_author(st, s, &name, &email, &trailer, &event);
        if (!s->has_p)
            verb = "deleted in";
        else if (!s->has_b && !s->has_g)
            verb = "created in";
        else
            verb = "updated in";
        msgs[nch] = xasprintf("%s %s", verb, st->ctx->profile->name);
        ch[nch].message = rc_message(st, s, msgs[nch], trailer, event);
        free(msgs[nch]);
        msgs[nch] = (char *)ch[nch].message;
        ch[nch].folder = s->folder;
        ch[nch].slug = s->slug;
        ch[nch].blob = s->has_p ? &s->p : NULL;
        ch[nch].author_name = name;
        ch[nch].author_email = email;
        nch++;
        /* Policy git: the platform's version is committed, then Git's back. */
        if (s->conflict && st->ws->sync.conflict == CONFLICT_GIT) {
            msgs[nch] = rc_message(st, s, "restored from Git (conflict policy git)",
                                   NULL, event);
            ch[nch].message = msgs[nch];
            ch[nch].folder = s->folder;
            ch[nch].slug = s->slug;
            ch[nch].blob = s->has_g ? &s->g : NULL;
            nch++;
        }
    }

    if (import) {
        char *msg = xasprintf("Import %zu resources from %s\n\n"
                              "Gitsyncd-Event: import\n",
                              nch, st->ctx->profile->name);
        if (gitstore_commit_many(st->ctx->gs, st->gexists ? &st->ghead : NULL,
                                 ch, nch, msg, &head, err) != 0) {
            free(msg);
            goto out;
        }
        free(msg);
    } else if (gitstore_commit_chain(st->ctx->gs,
                                     st->gexists ? &st->ghead : NULL, ch, nch,
                                     &head, err) != 0) {
        goto out;
    }
    /* A request needs a branch to target: a first import is pushed. */
    if (st->ws->git.write == GIT_WRITE_PULL_REQUEST && st->gexists && !import) {
        rc = rc_outbound_request(st, out, n, &head, err);
        goto out;
    }
    r = gitstore_push(st->ctx->gs, NULL, &head,
                      st->gexists ? &st->ghead : &rc_zero_oid, err);
    if (r == GITSTORE_REJECTED && st->ws->git.write == GIT_WRITE_AUTO && st->gexists &&
        !import) {
        if (rc_first_refusal(st->ws->name))
            log_warn("the push was refused (a protected branch?): git.write auto uses a pull request",
                     "workspace", st->ws->name, "branch", st->ws->git.branch, "error", *err);
        free(*err);
        *err = NULL;
        rc = rc_outbound_request(st, out, n, &head, err);
        goto out;
    }
    if (r == GITSTORE_NONFASTFORWARD) {
        log_info("the remote moved during the push: fetching again",
                 "workspace", st->ws->name);
        st->rep->push_retries++;
        rc = 1;
        goto out;
    }
    if (r != GITSTORE_OK) {
        char *m = xasprintf("push failed (%s): %s", gitstore_result_name(r),
                            *err != NULL ? *err : "");
        free(*err);
        *err = m;
        goto out;
    }
    st->rep->pushes++;
    st->rep->commits += import ? 1 : nch;
    git_oid_cpy(&st->ghead, &head);
    st->gexists = true;
    for (i = 0; i < n; i++) {
        struct rc_slot *s = out[i];
        char *path = rc_path(st, s);

        log_info(import ? "imported" : "committed", "workspace", st->ws->name,
                 "path", path, "author", s->aname != NULL ? s->aname : "gitsyncd",
                 "event", s->ev != NULL && s->ev->event_id != NULL ? s->ev->event_id : "reconcile");
        free(path);
        if (s->ev != NULL && s->ev->received_at > 0) {
            st->rep->event_to_commit = xreallocarray(
                st->rep->event_to_commit, st->rep->nevent_to_commit + 1,
                sizeof(double));
            st->rep->event_to_commit[st->rep->nevent_to_commit++] =
                now_wall() - s->ev->received_at;
        }
        if (!(s->conflict && st->ws->sync.conflict == CONFLICT_GIT)) {
            /* Git now holds the platform's version. */
            s->has_g = s->has_p;
            s->g = s->p;
        }
    }
    rc = 0;
out:
    for (i = 0; i < nch; i++)
        free(msgs[i]);
    free(msgs);
    free(ch);
    free(out);
    return rc;
}

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
static void
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
static void
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

/* Decide, for each slot, what happens (DESIGN §4 steps 1-3). */
static void
rc_decide(struct rc_state *st)
{
    enum conflict_policy policy = st->ws->sync.conflict;
    bool pch, gch;
    size_t i;

    for (i = 0; i < st->nslots; i++) {
        struct rc_slot *s = &st->slots[i];

        if (s->blocked)
            continue; /* reported when the platform was read */
        pch = !s->p_unknown && rc_differs(s->has_p, &s->p, s->has_b, &s->b);
        gch = rc_differs(s->has_g, &s->g, s->has_b, &s->b);
        if (gch && s->has_g && !rc_check_git(st, s)) {
            s->g_invalid = true;
            gch = false;
        }
        if (!pch && !gch) {
            st->rep->unchanged++;
            continue;
        }
        if (pch && gch && !rc_differs(s->has_p, &s->p, s->has_g, &s->g)) {
            /* Both sides made the same change (or a crash came between). */
            continue;
        }
        if (pch && !gch) {
            s->outbound = true;
        } else if (!pch && gch) {
            s->inbound = true;
        } else {
            s->conflict = true;
            st->rep->conflicts++;
            switch (policy) {
            case CONFLICT_PLATFORM:
                s->outbound = true;
                break;
            case CONFLICT_GIT:
                s->outbound = true;
                s->inbound = true;
                break;
            case CONFLICT_BRANCH:
                s->branch_conflict = true;
                break;
            }
        }
    }
}

/*
 * The max_deletes guard from the platform to Git (DESIGN §4.1): a listing
 * that lacks more resources the base holds than max_deletes (a token
 * moved to another account, an API bug) deletes none of them from Git.
 */
static void
rc_guard_outbound_deletes(struct rc_state *st)
{
    long long max = st->ws->sync.max_deletes;
    char nbuf[32], mbuf[32], *path;
    size_t i, n = 0;

    for (i = 0; i < st->nslots; i++)
        n += st->slots[i].outbound && !st->slots[i].has_p;
    if (max < 0 || n <= (size_t)max)
        return;
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    snprintf(mbuf, sizeof mbuf, "%lld", max);
    log_error("refusing to delete from Git: the platform lacks more resources than max_deletes",
              "workspace", st->ws->name, "deletes", nbuf, "max_deletes", mbuf);
    for (i = 0; i < st->nslots; i++) {
        struct rc_slot *s = &st->slots[i];

        if (!s->outbound || s->has_p)
            continue;
        s->outbound = s->inbound = false;
        s->refused = true;
        path = rc_path(st, s);
        rc_issue(&st->rep->refused_deletes, s, path,
                 "the platform lacks %zu resources the base holds, more than max_deletes %lld: "
                 "none deleted from Git", n, max);
        free(path);
    }
}

/* The new base: what each resource settled on, else the old base. */
static int
rc_advance_base(struct rc_state *st, char **err)
{
    struct gitstore_entry *e;
    git_oid out;
    size_t i, n = 0;
    bool changed = !st->bexists;
    int rc;

    e = xcalloc(st->nslots + 1, sizeof *e);
    for (i = 0; i < st->nslots; i++) {
        struct rc_slot *s = &st->slots[i];
        bool has;
        git_oid v;

        if (s->settled) {
            has = s->has_newbase;
            v = s->newbase;
        } else if (s->refused || s->failed || s->g_invalid ||
                   s->branch_conflict || s->p_unknown || s->blocked || s->carried) {
            has = s->has_b;
            v = s->b;
        } else if (s->outbound || !rc_differs(s->has_p, &s->p, s->has_g, &s->g)) {
            has = s->has_p;
            v = s->p;
        } else {
            has = s->has_b;
            v = s->b;
        }
        if (rc_differs(has, &v, s->has_b, &s->b))
            changed = true;
        if (!has)
            continue;
        e[n].folder = s->folder;
        e[n].slug = s->slug;
        e[n].blob = v;
        n++;
    }
    rc = 0;
    if (changed)
        rc = gitstore_base_set(st->ctx->gs, e, n,
                               st->bexists ? &st->bcommit : &rc_zero_oid,
                               "gitsyncd: base after reconcile", &out, err);
    else
        out = st->bcommit;
    if (rc == 0)
        git_oid_tostr(st->rep->base, sizeof st->rep->base, &out);
    free(e);
    return rc;
}

/*
 * Can slug name a file?  The profile's rule, and whatever the rule allows
 * that a path cannot hold: nothing empty, no '/', no leading '.' (".",
 * "..", ".git", dot-files the tree reader skips), no control character.
 */
static bool
rc_slug_ok(const struct rc_ctx *ctx, const char *slug)
{
    const char *p;

    if (slug[0] == '\0' || slug[0] == '.' || strchr(slug, '/') != NULL ||
        strchr(slug, '\\') != NULL)
        return false;
    for (p = slug; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    return profile_slug_valid(ctx->profile, slug);
}

/*
 * A second platform object with a slot's slug: which one Git's file means
 * is unknown, so neither is synced, in either direction, until one is
 * renamed or deleted; both are reported.
 */
static void
rc_block_duplicate(struct rc_state *st, struct rc_slot *s,
                   const struct platform_object *o)
{
    const struct platform_object *first = s->pobj;

    if (!s->blocked && first != NULL) {
        rc_issue_obj(&st->rep->invalid_platform, first,
                     "slug \"%s\" is used by more than one %s (ids %s and %s): "
                     "neither is synced until one is renamed or deleted",
                     first->slug, first->kind->name, first->id, o->id);
        log_warn("two platform objects share a slug: neither is synced",
                 "workspace", st->ws->name, "kind", o->kind->name, "slug", o->slug,
                 "id", first->id, "other_id", o->id);
    }
    rc_issue_obj(&st->rep->invalid_platform, o,
                 "slug \"%s\" is used by more than one %s (ids %s and %s): "
                 "neither is synced until one is renamed or deleted",
                 o->slug, o->kind->name, first != NULL ? first->id : "?", o->id);
    s->blocked = s->p_unknown = true;
    s->has_p = false;
}

/*
 * The branch is gone from the remote while the base holds resources, or
 * after it existed: never "every file deleted", never a new root commit
 * over the lost history.  True (with *err) while that lasts.
 */
static bool
rc_branch_lost(struct rc_state *st, char **err)
{
    git_oid lost;
    bool known = false, held = false;
    size_t i;

    for (i = 0; i < st->nslots && !held; i++)
        held = st->slots[i].has_b;
    if (!held && gitstore_lost_head(st->ctx->gs, &lost, &known, NULL) != 0)
        known = true; /* unreadable: assume the worst */
    if (!held && !known)
        return false;
    st->rep->branch_missing = true;
    set_error(err, "the branch %s is missing on the remote while a base exists (deleted?): "
                   "nothing applied or committed until it is back; push it again, or stop the "
                   "daemon and run `gitsyncd sync --once --restore-branch %s`",
              st->ws->git.branch, st->ws->name);
    return true;
}

/* One compare-and-act round.  Returns 0, 1 to run again at once, -1. */
static int
rc_pass(struct rc_state *st, char **err)
{
    const struct platform_object *o;
    struct rc_slot *s;
    enum gitstore_result gr;
    enum platform_result pr;
    char *e2 = NULL;
    size_t i;
    int rc;

    gr = gitstore_fetch(st->ctx->gs, &st->ghead, &st->gexists, err);
    if (gr != GITSTORE_OK) {
        char *m = xasprintf("fetch failed (%s): %s", gitstore_result_name(gr),
                            *err != NULL ? *err : "");
        free(*err);
        *err = m;
        return -1;
    }
    if (gitstore_base_get(st->ctx->gs, &st->bcommit, &st->bexists, err) != 0)
        return -1;
    pr = platform_snapshot(st->ctx->pl, &st->snap, err);
    if (pr != PLATFORM_OK) {
        char *m = xasprintf("reading the platform failed (%s): %s",
                            platform_result_name(pr), *err != NULL ? *err : "");
        free(*err);
        *err = m;
        return -1;
    }
    /* The trees first: a platform object equal to the base needs no check. */
    if (rc_load_tree(st, st->bexists ? &st->bcommit : NULL, true, err) != 0 ||
        rc_load_tree(st, st->gexists ? &st->ghead : NULL, false, err) != 0)
        return -1;
    if (!st->gexists && rc_branch_lost(st, err))
        return -1;
    for (i = 0; i < st->snap->n; i++) {
        o = &st->snap->objects[i];
        if (o->slug == NULL || o->kind == NULL)
            continue;
        /* The slug names a file: checked before anything else. */
        if (!rc_slug_ok(st->ctx, o->slug)) {
            rc_issue_obj(&st->rep->invalid_platform, o,
                         "\"%s\" is not a valid slug (%s): the object is not synced",
                         o->slug, st->ctx->profile->slug_pattern);
            log_warn("platform object with an invalid slug skipped", "workspace",
                     st->ws->name, "kind", o->kind->name, "id", o->id, "slug", o->slug);
            continue;
        }
        s = rc_slot_get(st, o->kind, o->slug);
        if (s->pobj != NULL || s->blocked) {
            rc_block_duplicate(st, s, o);
            continue;
        }
        s->pobj = o;
        if ((rc = rc_platform_blob(st, o->kind, o->slug, o->raw,
                                   s->has_b ? &s->b : NULL, &s->p, &e2)) == -2) {
            s->blocked = s->p_unknown = true;
            rc_issue_obj(&st->rep->invalid_platform, o, "%s: the object is not synced", e2);
            log_warn("platform object not fit for Git skipped", "workspace", st->ws->name,
                     "kind", o->kind->name, "id", o->id, "slug", o->slug, "error", e2);
            free(e2);
            e2 = NULL;
            continue;
        }
        if (rc != 0) {
            s->p_unknown = true;
            rc_issue(&st->rep->apply_errors, s, NULL,
                     "cannot map the platform's object: %s", e2);
            log_warn("platform object skipped", "workspace", st->ws->name,
                     "kind", o->kind->name, "slug", o->slug, "error", e2);
            free(e2);
            e2 = NULL;
            continue;
        }
        s->has_p = true;
    }
    json_decref(st->slot_index); /* indices change with the sort */
    st->slot_index = NULL;
    if (st->nslots > 1)
        qsort(st->slots, st->nslots, sizeof *st->slots, rc_slot_cmp);
    rc_confirm_absent(st);
    rc_attach_events(st);
    if (st->invalid == NULL)
        st->invalid = json_object();
    rc_decide(st);
    rc_guard_outbound_deletes(st);
    if (st->ws->git.write != GIT_WRITE_PUSH && st->ws->git.rejected == GIT_REJECTED_REVERT &&
        rc_rejected_revert(st, err) != 0)
        return -1;

    rc = rc_outbound(st, err);
    if (rc != 0)
        return rc;
    if (st->ws->git.write != GIT_WRITE_PUSH)
        rc_request_done(st);
    for (i = 0; i < st->nslots; i++) {
        if (st->slots[i].branch_conflict)
            rc_push_conflict_branch(st, &st->slots[i]);
    }
    rc_inbound(st);
    if (rc_advance_base(st, err) != 0)
        return -1;
    if (st->gexists)
        git_oid_tostr(st->rep->head, sizeof st->rep->head, &st->ghead);
    return st->again ? 1 : 0;
}

/* Clear a report's per-pass lists before the pass runs again. */
static void
rc_report_reset_lists(struct reconcile_report *rep)
{
    rc_issues_free(&rep->invalid);
    rc_issues_free(&rep->refused_deletes);
    rc_issues_free(&rep->conflicts_open);
    rc_issues_free(&rep->apply_errors);
    rc_issues_free(&rep->invalid_platform);
    rep->unchanged = 0;
}

int
reconcile_restore_branch(const struct config *cfg, const struct config_workspace *ws,
                         char *head, size_t size, char **err)
{
    struct rc_ctx *ctx = rc_ctx_get(cfg, ws, err);
    enum gitstore_result r;
    git_oid oid;

    if (ctx == NULL)
        return -1;
    r = gitstore_restore_branch(ctx->gs, &oid, err);
    gitstore_release(ctx->gs);
    if (r != GITSTORE_OK)
        return -1;
    git_oid_tostr(head, size, &oid);
    return 0;
}

int
reconcile_run(const struct config *cfg, const struct config_workspace *ws,
              const struct job *job, struct reconcile_report *rep,
              char **err)
{
    struct rc_state st;
    int rc = -1, passes = 0, retries = 0, normalised = 0;

    memset(rep, 0, sizeof *rep);
    rep->push_to_apply = -1;
    memset(&st, 0, sizeof st);
    st.audit_before = -1;
    st.ws = ws;
    st.job = job;
    st.rep = rep;
    st.ctx = rc_ctx_get(cfg, ws, err);
    if (st.ctx == NULL)
        return -1;
    for (;;) {
        rc_report_reset_lists(rep);
        st.again = false;
        rc = rc_pass(&st, err);
        passes++;
        rc_slots_free(&st);
        platform_snapshot_free(st.snap);
        st.snap = NULL;
        if (rc <= 0)
            break;
        if (st.again) {
            /* The platform normalised what it was sent: commit its form. */
            if (++normalised >= RECONCILE_MAX_PASSES) {
                rc = 0;
                break;
            }
        } else if (++retries > ws->sync.max_push_retries) {
            rc = set_error(err, "gave up after %d pushes: the remote keeps "
                                "moving", retries);
            break;
        }
    }
    rep->passes = passes;
    if (rc == 0)
        rc_forget_audit(&st);
    if (st.invalid != NULL) {
        /* The files of the last comparison: those fixed since are forgotten,
         * so one broken again is logged again. */
        json_decref(st.ctx->audit->invalid);
        st.ctx->audit->invalid = st.invalid;
        st.invalid = NULL;
    }
    if (rep->invalid.n > 0) {
        char nbuf[32];

        snprintf(nbuf, sizeof nbuf, "%zu", rep->invalid.n);
        log_warn("invalid files skipped in this sync (each is logged when it appears or changes; /status lists them)",
                 "workspace", ws->name, "count", nbuf);
    }
    /* Housekeeping once the changes are through, so that a repack never
     * delays the change that triggered the job (it may delay the next). */
    {
        char *merr = NULL;

        if (gitstore_maintain(st.ctx->gs, &merr) != 0) {
            /* A cache that could not be repacked still works: go on. */
            log_warn("mirror maintenance failed", "workspace", ws->name, "error", merr);
            free(merr);
        }
    }
    gitstore_release(st.ctx->gs);
    return rc < 0 ? -1 : 0;
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

int
reconcile_base_adopt(const struct config *cfg, const struct config_workspace *ws,
                     const char *want, char **err)
{
    struct rc_ctx *ctx = rc_ctx_get(cfg, ws, err);
    enum gitstore_result r;
    git_oid oid;

    if (ctx == NULL)
        return -1;
    if (git_oid_fromstr(&oid, want) != 0)
        return set_error(err, "the cluster database names a base that is not a commit id: \"%s\"", want);
    r = gitstore_base_adopt(ctx->gs, ws->name, &oid, err);
    gitstore_release(ctx->gs);
    return r == GITSTORE_OK ? 0 : -1;
}

int
reconcile_base_publish(const struct config *cfg, const struct config_workspace *ws,
                       const char *known, char *out, size_t size, char **err)
{
    struct rc_ctx *ctx = rc_ctx_get(cfg, ws, err);
    enum gitstore_result r;
    git_oid oid;
    bool exists;
    char hex[GIT_OID_HEXSZ + 1];

    if (ctx == NULL)
        return -1;
    snprintf(out, size, "%s", known != NULL ? known : "");
    if (gitstore_base_get(ctx->gs, &oid, &exists, err) != 0) {
        gitstore_release(ctx->gs);
        return -1;
    }
    git_oid_tostr(hex, sizeof hex, &oid);
    if (!exists || (known != NULL && strcmp(known, hex) == 0)) {
        gitstore_release(ctx->gs);
        return 0;
    }
    r = gitstore_base_publish(ctx->gs, ws->name, &oid, err);
    gitstore_release(ctx->gs);
    if (r != GITSTORE_OK)
        return -1;
    snprintf(out, size, "%s", hex);
    return 0;
}
