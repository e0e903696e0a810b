/* reconcile: one two-way sync of a workspace, as DESIGN §4 describes: the
 * thread's workspace contexts, the three states loaded into slots (the
 * platform's listing, the base, the branch), the decision per slot, the
 * passes of reconcile_run and the other public entry points.  The module's
 * other parts: reconcile-audit.c (what was read of the platform's audit
 * log), reconcile-outbound.c (commits to Git: the push, the pull request,
 * conflict branches), reconcile-inbound.c (applying to the platform). */
#include "autoconfig.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

#include "reconcile-int.h"

#define RECONCILE_MAX_PASSES 3

static pthread_key_t rc_key;

static pthread_once_t rc_once = PTHREAD_ONCE_INIT;
static reconcile_request_fn rc_observer;
static void *rc_observer_arg;

const git_oid rc_zero_oid;

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
void
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
char *
rc_path(const struct rc_state *st, const struct rc_slot *s)
{
    return xasprintf("%s%s/%s.yaml", st->ws->git.path, s->folder, s->slug);
}

/* Order slots by folder, then slug. */
int
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
int
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
bool
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
    /* What the open request proposes, as whichever replica pushed it last. */
    if (r == GITSTORE_OK && ws->git.write != GIT_WRITE_PUSH &&
        rc_request_adopt(ctx->gs, ws->name, err) != 0)
        r = GITSTORE_ERROR;
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
