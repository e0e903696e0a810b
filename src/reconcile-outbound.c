/* reconcile-outbound: committing the platform's changes to Git: authors
 * and messages, one commit per resource pushed with compare-and-swap, the
 * pull-request path (git.write pull_request and auto, git.rejected
 * revert), and the branches of unresolved conflicts. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/credit.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/pullreq.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/util.h"

#include "reconcile-int.h"

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
void
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
int
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
void
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
int
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

int
rc_request_adopt(struct gitstore *gs, const char *workspace, char **err)
{
    git_reference *ref = NULL;
    git_oid oid;
    char *branch = pullreq_branch(workspace), *remote = xasprintf("refs/heads/%s", branch);
    enum gitstore_result r;

    r = gitstore_fetch_ref(gs, remote, RC_REQUEST_FETCHED_REF, err);
    free(remote);
    free(branch);
    if (r != GITSTORE_OK)
        return -1;
    /* No such branch on the remote: what this mirror knew stays. */
    if (git_reference_name_to_id(&oid, gitstore_repo(gs), RC_REQUEST_FETCHED_REF) != 0)
        return 0;
    if (git_reference_create(&ref, gitstore_repo(gs), RC_REQUEST_REF, &oid, 1,
                             "gitsyncd: request branch from the remote") == 0)
        git_reference_free(ref);
    ref = NULL;
    if (git_reference_lookup(&ref, gitstore_repo(gs), RC_REQUEST_FETCHED_REF) == 0) {
        git_reference_delete(ref);
        git_reference_free(ref);
    }
    return 0;
}
