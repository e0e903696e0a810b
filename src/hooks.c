/* hooks: verify and read Git-host push webhooks and platform events. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gitsyncd/hooks.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/util.h"

#define HOOKS_TOLERANCE 300
#define HOOKS_ZERO "0000000000000000000000000000000000000000"

enum hooks_sig {
    SIG_HMAC_PREFIXED, /* "sha256=<hex>" */
    SIG_TOKEN,         /* the secret itself */
    SIG_HMAC_HEX,      /* "<hex>" of HMAC-SHA256 */
};

typedef int (*hooks_parse_fn)(const struct config_workspace *ws, json_t *doc,
                              struct hook_push *push, char **reason);

/* One Git host: how to recognise, verify and read its push events. */
struct hooks_host {
    enum git_host host;
    const char *name;
    const char *event_header;
    const char *push_event;   /* the value that means a push */
    const char *ping_event;   /* a value answered 200, or NULL */
    const char *sig_header;
    enum hooks_sig sig;
    const char *delivery_headers[3];
    hooks_parse_fn parse;
    const char *const *reads; /* the members parse reads (jload_only) */
    const char *pr_events[2]; /* values that mean a pull/merge request event */
    hooks_parse_fn pr_parse;
    const char *const *pr_reads;
};

static int hooks_parse_github(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_parse_gitlab(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_parse_bitbucket(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_parse_bitbucket_server(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_pr_github(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_pr_gitea(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_pr_gitlab(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_pr_bitbucket(const struct config_workspace *, json_t *, struct hook_push *, char **);
static int hooks_pr_bitbucket_server(const struct config_workspace *, json_t *, struct hook_push *, char **);

/*
 * What each parser reads of a push: only these members are built from
 * the body (a GitHub push is some 8 KB, mostly repository and commit
 * details).  Keep each list in step with its hooks_parse_* below; the
 * fixture tests read every field through them.
 */
static const char *const hooks_reads_github[] = {
    "ref", "before", "after", "created", "deleted", "forced", "repository/full_name",
    "commits/*/added", "commits/*/modified", "commits/*/removed", NULL,
};
static const char *const hooks_reads_gitlab[] = {
    "ref", "before", "after", "project/path_with_namespace", "total_commits_count",
    "commits/*/added", "commits/*/modified", "commits/*/removed", NULL,
};
static const char *const hooks_reads_bitbucket[] = {
    "repository/full_name", "push/changes/*/new/name", "push/changes/*/new/type",
    "push/changes/*/new/target/hash", "push/changes/*/old/name", "push/changes/*/old/type",
    "push/changes/*/old/target/hash", "push/changes/*/created", "push/changes/*/closed",
    "push/changes/*/forced", NULL,
};
static const char *const hooks_reads_bitbucket_server[] = {
    "repository/project/key", "repository/slug", "changes/*/refId", "changes/*/fromHash",
    "changes/*/toHash", "changes/*/type", NULL,
};
/* ... and of a pull/merge request event. */
static const char *const hooks_pr_reads_github[] = {
    "action", "number", "pull_request/head/sha", "pull_request/base/ref",
    "repository/full_name", NULL,
};
static const char *const hooks_pr_reads_gitlab[] = {
    "object_kind", "object_attributes/iid", "object_attributes/action",
    "object_attributes/target_branch", "object_attributes/last_commit/id",
    "project/path_with_namespace", NULL,
};
static const char *const hooks_pr_reads_bitbucket[] = {
    "repository/full_name", "pullrequest/id", "pullrequest/source/branch/name",
    "pullrequest/source/commit/hash", "pullrequest/source/repository/full_name",
    "pullrequest/destination/branch/name", NULL,
};
static const char *const hooks_pr_reads_bitbucket_server[] = {
    "pullRequest/id", "pullRequest/fromRef/latestCommit", "pullRequest/fromRef/repository/slug",
    "pullRequest/fromRef/repository/project/key", "pullRequest/toRef/id",
    "pullRequest/toRef/repository/slug", "pullRequest/toRef/repository/project/key", NULL,
};

static const struct hooks_host hooks_hosts[] = {
    { GIT_HOST_GITHUB, "github", "X-GitHub-Event", "push", "ping", "X-Hub-Signature-256",
      SIG_HMAC_PREFIXED, { "X-GitHub-Delivery", NULL, NULL }, hooks_parse_github, hooks_reads_github,
      { "pull_request", NULL }, hooks_pr_github, hooks_pr_reads_github },
    { GIT_HOST_GITLAB, "gitlab", "X-Gitlab-Event", "Push Hook", NULL, "X-Gitlab-Token",
      SIG_TOKEN, { "Idempotency-Key", "X-Gitlab-Event-UUID", NULL }, hooks_parse_gitlab, hooks_reads_gitlab,
      { "Merge Request Hook", NULL }, hooks_pr_gitlab, hooks_pr_reads_gitlab },
    { GIT_HOST_BITBUCKET_SERVER, "bitbucket-server", "X-Event-Key", "repo:refs_changed",
      "diagnostics:ping", "X-Hub-Signature", SIG_HMAC_PREFIXED, { "X-Request-Id", NULL, NULL },
      hooks_parse_bitbucket_server, hooks_reads_bitbucket_server,
      { "pr:opened", "pr:from_ref_updated" }, hooks_pr_bitbucket_server, hooks_pr_reads_bitbucket_server },
    { GIT_HOST_BITBUCKET, "bitbucket", "X-Event-Key", "repo:push", NULL, "X-Hub-Signature",
      SIG_HMAC_PREFIXED, { "X-Request-UUID", "X-Hook-UUID", NULL }, hooks_parse_bitbucket,
      hooks_reads_bitbucket,
      { "pullrequest:created", "pullrequest:updated" }, hooks_pr_bitbucket, hooks_pr_reads_bitbucket },
    { GIT_HOST_GITEA, "gitea", "X-Forgejo-Event", "push", NULL, "X-Forgejo-Signature",
      SIG_HMAC_HEX, { "X-Forgejo-Delivery", NULL, NULL }, hooks_parse_github, hooks_reads_github,
      { "pull_request", NULL }, hooks_pr_gitea, hooks_pr_reads_github },
    { GIT_HOST_GITEA, "gitea", "X-Gitea-Event", "push", NULL, "X-Gitea-Signature",
      SIG_HMAC_HEX, { "X-Gitea-Delivery", NULL, NULL }, hooks_parse_github, hooks_reads_github,
      { "pull_request", NULL }, hooks_pr_gitea, hooks_pr_reads_github },
};

const char *
hooks_host_name(enum git_host host)
{
    return config_git_host_name(host);
}

void
hook_push_free(struct hook_push *push)
{
    size_t i;

    free(push->delivery);
    free(push->repository);
    free(push->ref);
    free(push->before);
    free(push->after);
    for (i = 0; i < push->npaths; i++)
        free(push->paths[i]);
    free(push->paths);
    free(push->request);
    free(push->request_ref);
    memset(push, 0, sizeof *push);
}

void
hook_resource_free(struct job_resource *r)
{
    job_resource_free(r);
}

/* The reason for a body that is not JSON: where, when it is known. */
static void
hooks_bad_json(char **reason, const json_error_t *e)
{
    if (e->line > 0)
        set_error(reason, "malformed JSON at line %d, column %d: %s", e->line, e->column, e->text);
    else
        set_error(reason, "malformed JSON: %s", e->text);
}

/* Decode hex into out (at most max bytes); -1 if it is not hex. */
static int
hooks_unhex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(hex), i;
    int hi, lo;

    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (i = 0; i < n / 2; i++) {
        hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

/* True if hex is the HMAC of body under secret with md, in constant time. */
static bool
hooks_hmac_ok(const EVP_MD *md, const char *secret, const char *body,
              size_t len, const char *hex)
{
    unsigned char mac[EVP_MAX_MD_SIZE], given[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t glen = 0;

    if (hooks_unhex(hex, given, sizeof given, &glen) != 0)
        return false;
    HMAC(md, secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
    return glen == maclen && CRYPTO_memcmp(mac, given, maclen) == 0;
}

/* Check the signature of a Git host's webhook; 0 or -1 with *reason. */
static int
hooks_verify_git(const struct config_workspace *ws, const struct hooks_host *hh,
                 const struct hook_headers *h, const char *body, size_t len,
                 char **reason)
{
    const char *secret = ws->git.webhook_secret, *sig, *sha1;
    size_t slen;

    if (secret == NULL) {
        if (ws->git.insecure_no_signature)
            return 0;
        return set_error(reason, "workspace %s has no git.webhook_secret: webhooks are refused", ws->name);
    }
    sig = h->get(h->arg, hh->sig_header);
    if (hh->host == GIT_HOST_GITHUB && sig == NULL) {
        sha1 = h->get(h->arg, "X-Hub-Signature");
        if (sha1 != NULL && !ws->git.allow_sha1)
            return set_error(reason, "X-Hub-Signature (sha1) refused: send X-Hub-Signature-256, or set git.allow_sha1");
        if (sha1 != NULL && strncmp(sha1, "sha1=", 5) == 0 &&
            hooks_hmac_ok(EVP_sha1(), secret, body, len, sha1 + 5))
            return 0;
        if (sha1 != NULL)
            return set_error(reason, "X-Hub-Signature does not match the body");
    }
    if (sig == NULL)
        return set_error(reason, "missing %s", hh->sig_header);
    switch (hh->sig) {
    case SIG_TOKEN:
        slen = strlen(secret);
        if (strlen(sig) == slen && CRYPTO_memcmp(sig, secret, slen) == 0)
            return 0;
        return set_error(reason, "%s does not match", hh->sig_header);
    case SIG_HMAC_HEX:
        if (hooks_hmac_ok(EVP_sha256(), secret, body, len, sig))
            return 0;
        return set_error(reason, "%s does not match the body", hh->sig_header);
    case SIG_HMAC_PREFIXED:
        if (strncmp(sig, "sha256=", 7) == 0) {
            if (hooks_hmac_ok(EVP_sha256(), secret, body, len, sig + 7))
                return 0;
            return set_error(reason, "%s does not match the body", hh->sig_header);
        }
        if (strncmp(sig, "sha1=", 5) == 0) {
            if (!ws->git.allow_sha1)
                return set_error(reason, "%s: sha1 signatures are refused (set git.allow_sha1)", hh->sig_header);
            if (hooks_hmac_ok(EVP_sha1(), secret, body, len, sig + 5))
                return 0;
            return set_error(reason, "%s does not match the body", hh->sig_header);
        }
        return set_error(reason, "%s: expected sha256=<hex>", hh->sig_header);
    }
    return -1;
}

/* The string at key of obj, duplicated, or NULL. */
static char *
hooks_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s != NULL ? xstrdup(s) : NULL;
}

/* Append the strings of an array to push->paths. */
static void
hooks_add_paths(struct hook_push *push, const json_t *arr)
{
    const json_t *v;
    size_t i;

    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            continue;
        push->paths = xreallocarray(push->paths, push->npaths + 1, sizeof *push->paths);
        push->paths[push->npaths++] = xstrdup(json_string_value(v));
    }
}

/* GitHub, Gitea and Forgejo (and gitsyncd's own post-receive hook). */
static int
hooks_parse_github(const struct config_workspace *ws, json_t *doc,
                   struct hook_push *push, char **reason)
{
    const json_t *repo = json_object_get(doc, "repository"), *commits, *c;
    size_t i;

    (void)ws;
    push->ref = hooks_str(doc, "ref");
    push->before = hooks_str(doc, "before");
    push->after = hooks_str(doc, "after");
    push->repository = hooks_str(repo, "full_name");
    if (push->ref == NULL || push->after == NULL || push->repository == NULL)
        return set_error(reason, "not a push event: ref, after or repository.full_name is missing");
    push->created = json_is_true(json_object_get(doc, "created"));
    push->deleted = json_is_true(json_object_get(doc, "deleted")) ||
                    strcmp(push->after, HOOKS_ZERO) == 0;
    push->forced = json_is_true(json_object_get(doc, "forced"));
    commits = json_object_get(doc, "commits");
    json_array_foreach(commits, i, c) {
        hooks_add_paths(push, json_object_get(c, "added"));
        hooks_add_paths(push, json_object_get(c, "modified"));
        hooks_add_paths(push, json_object_get(c, "removed"));
    }
    /* A new or force-pushed branch lists commits, not the whole change. */
    push->paths_complete = json_is_array(commits) && json_array_size(commits) > 0 &&
                           json_array_size(commits) < 2048 && !push->created && !push->forced;
    return 0;
}

static int
hooks_parse_gitlab(const struct config_workspace *ws, json_t *doc,
                   struct hook_push *push, char **reason)
{
    const json_t *project = json_object_get(doc, "project"), *commits, *c;
    json_int_t total;
    size_t i;

    (void)ws;
    push->ref = hooks_str(doc, "ref");
    push->before = hooks_str(doc, "before");
    push->after = hooks_str(doc, "after");
    push->repository = hooks_str(project, "path_with_namespace");
    if (push->ref == NULL || push->after == NULL || push->repository == NULL)
        return set_error(reason, "not a push event: ref, after or project.path_with_namespace is missing");
    push->deleted = strcmp(push->after, HOOKS_ZERO) == 0;
    push->created = push->before != NULL && strcmp(push->before, HOOKS_ZERO) == 0;
    commits = json_object_get(doc, "commits");
    json_array_foreach(commits, i, c) {
        hooks_add_paths(push, json_object_get(c, "added"));
        hooks_add_paths(push, json_object_get(c, "modified"));
        hooks_add_paths(push, json_object_get(c, "removed"));
    }
    /* GitLab lists at most 20 commits: the paths are complete only if all are there. */
    total = json_integer_value(json_object_get(doc, "total_commits_count"));
    push->paths_complete = json_is_array(commits) && json_array_size(commits) > 0 &&
                           (json_int_t)json_array_size(commits) >= total && !push->created;
    return 0;
}

static int
hooks_parse_bitbucket(const struct config_workspace *ws, json_t *doc,
                      struct hook_push *push, char **reason)
{
    const json_t *changes = json_object_get(json_object_get(doc, "push"), "changes"), *c, *nw, *old;
    const char *name;
    size_t i;

    push->repository = hooks_str(json_object_get(doc, "repository"), "full_name");
    if (push->repository == NULL || !json_is_array(changes))
        return set_error(reason, "not a push event: repository.full_name or push.changes is missing");
    /* Several refs may change in one push: take the workspace's branch. */
    json_array_foreach(changes, i, c) {
        nw = json_object_get(c, "new");
        old = json_object_get(c, "old");
        name = json_string_value(json_object_get(json_is_object(nw) ? nw : old, "name"));
        if (name == NULL)
            continue;
        if (strcmp(json_string_value(json_object_get(json_is_object(nw) ? nw : old, "type")) ?: "", "branch") != 0) {
            if (push->ref == NULL)
                push->ref = xasprintf("refs/tags/%s", name);
            continue;
        }
        if (push->ref != NULL && strcmp(name, ws->git.branch) != 0)
            continue;
        free(push->ref);
        free(push->before);
        free(push->after);
        push->ref = xasprintf("refs/heads/%s", name);
        push->before = json_is_object(old) ? hooks_str(json_object_get(old, "target"), "hash") : xstrdup(HOOKS_ZERO);
        push->after = json_is_object(nw) ? hooks_str(json_object_get(nw, "target"), "hash") : xstrdup(HOOKS_ZERO);
        push->created = json_is_true(json_object_get(c, "created"));
        push->deleted = json_is_true(json_object_get(c, "closed")) || !json_is_object(nw);
        push->forced = json_is_true(json_object_get(c, "forced"));
        if (strcmp(name, ws->git.branch) == 0)
            break;
    }
    if (push->ref == NULL || push->after == NULL)
        return set_error(reason, "the push names no branch");
    push->paths_complete = false; /* Bitbucket lists no files */
    return 0;
}

static int
hooks_parse_bitbucket_server(const struct config_workspace *ws, json_t *doc,
                             struct hook_push *push, char **reason)
{
    const json_t *repo = json_object_get(doc, "repository"), *changes, *c;
    const char *key = json_string_value(json_object_get(json_object_get(repo, "project"), "key"));
    const char *slug = json_string_value(json_object_get(repo, "slug"));
    const char *refid, *type;
    char *want = xasprintf("refs/heads/%s", ws->git.branch);
    size_t i;

    changes = json_object_get(doc, "changes");
    if (key == NULL || slug == NULL || !json_is_array(changes)) {
        free(want);
        return set_error(reason, "not a push event: repository or changes is missing");
    }
    push->repository = xasprintf("%s/%s", key, slug);
    json_array_foreach(changes, i, c) {
        refid = json_string_value(json_object_get(c, "refId"));
        if (refid == NULL)
            continue;
        if (push->ref != NULL && strcmp(refid, want) != 0)
            continue;
        free(push->ref);
        free(push->before);
        free(push->after);
        push->ref = xstrdup(refid);
        push->before = hooks_str(c, "fromHash");
        push->after = hooks_str(c, "toHash");
        type = json_string_value(json_object_get(c, "type"));
        push->deleted = type != NULL && strcmp(type, "DELETE") == 0;
        push->created = type != NULL && strcmp(type, "ADD") == 0;
        if (strcmp(refid, want) == 0)
            break;
    }
    free(want);
    if (push->ref == NULL || push->after == NULL)
        return set_error(reason, "the push names no ref");
    push->paths_complete = false;
    return 0;
}

/* A request number (a positive integer, or digits) as text, or NULL. */
static char *
hooks_number(const json_t *v)
{
    const char *s;

    if (json_is_integer(v) && json_integer_value(v) > 0)
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    s = json_string_value(v);
    if (s != NULL && s[0] != '\0' && strlen(s) < 20 && strspn(s, "0123456789") == strlen(s))
        return xstrdup(s);
    return NULL;
}

/* Fill a request event's fields; 0, or -1 with *reason naming what is missing. */
static int
hooks_pr_fill(struct hook_push *push, const json_t *number, const char *repo,
              const char *target, const char *head, const char *ref_fmt,
              char **reason)
{
    push->request = hooks_number(number);
    if (push->request == NULL || repo == NULL || target == NULL || head == NULL)
        return set_error(reason, "not a request event: its number, repository, target branch or head is missing");
    push->repository = xstrdup(repo);
    push->ref = xasprintf("refs/heads/%s", target);
    push->after = xstrdup(head);
    if (ref_fmt != NULL)
        push->request_ref = xasprintf(ref_fmt, push->request);
    return 0;
}

/* Is action one of the values (NULL-terminated) that ask for a check? 1 if not. */
static int
hooks_pr_action(const char *action, const char *const *wanted, char **reason)
{
    for (; *wanted != NULL; wanted++) {
        if (action != NULL && strcmp(action, *wanted) == 0)
            return 0;
    }
    set_error(reason, "request action \"%.40s\" ignored", action != NULL ? action : "");
    return 1;
}

/*
 * A pull_request event as GitHub and Gitea/Forgejo send it (the same
 * shape; the update action is named differently): head at refs/pull/N/head.
 */
static int
hooks_pr_github_shape(json_t *doc, const char *const *actions,
                      struct hook_push *push, char **reason)
{
    const json_t *pr = json_object_get(doc, "pull_request");

    if (hooks_pr_action(json_string_value(json_object_get(doc, "action")), actions, reason) != 0)
        return 1;
    return hooks_pr_fill(push, json_object_get(doc, "number"),
                         json_string_value(json_object_get(json_object_get(doc, "repository"), "full_name")),
                         json_string_value(json_object_get(json_object_get(pr, "base"), "ref")),
                         json_string_value(json_object_get(json_object_get(pr, "head"), "sha")),
                         "refs/pull/%s/head", reason);
}

/* GitHub pull_request: opened, synchronize, reopened. */
static int
hooks_pr_github(const struct config_workspace *ws, json_t *doc,
                struct hook_push *push, char **reason)
{
    static const char *const actions[] = { "opened", "synchronize", "reopened", NULL };

    (void)ws;
    return hooks_pr_github_shape(doc, actions, push, reason);
}

/* Gitea and Forgejo pull_request: opened, synchronized, reopened. */
static int
hooks_pr_gitea(const struct config_workspace *ws, json_t *doc,
               struct hook_push *push, char **reason)
{
    static const char *const actions[] = { "opened", "synchronized", "reopened", NULL };

    (void)ws;
    return hooks_pr_github_shape(doc, actions, push, reason);
}

/* GitLab Merge Request Hook: open, update, reopen; refs/merge-requests/IID/head. */
static int
hooks_pr_gitlab(const struct config_workspace *ws, json_t *doc,
                struct hook_push *push, char **reason)
{
    static const char *const actions[] = { "open", "update", "reopen", NULL };
    const json_t *a = json_object_get(doc, "object_attributes");

    (void)ws;
    if (hooks_pr_action(json_string_value(json_object_get(a, "action")), actions, reason) != 0)
        return 1;
    return hooks_pr_fill(push, json_object_get(a, "iid"),
                         json_string_value(json_object_get(json_object_get(doc, "project"), "path_with_namespace")),
                         json_string_value(json_object_get(a, "target_branch")),
                         json_string_value(json_object_get(json_object_get(a, "last_commit"), "id")),
                         "refs/merge-requests/%s/head", reason);
}

/* Bitbucket Cloud pullrequest:created/updated: the head is the source branch. */
static int
hooks_pr_bitbucket(const struct config_workspace *ws, json_t *doc,
                   struct hook_push *push, char **reason)
{
    const json_t *pr = json_object_get(doc, "pullrequest");
    const json_t *src = json_object_get(pr, "source");
    const char *repo = json_string_value(json_object_get(json_object_get(doc, "repository"), "full_name"));
    const char *from = json_string_value(json_object_get(json_object_get(src, "repository"), "full_name"));
    const char *branch = json_string_value(json_object_get(json_object_get(src, "branch"), "name"));

    (void)ws;
    if (repo != NULL && from != NULL && strcmp(repo, from) != 0) {
        set_error(reason, "request from the fork %.100s: its branch is not in this repository", from);
        return 1;
    }
    if (branch == NULL)
        return set_error(reason, "not a request event: pullrequest.source.branch.name is missing");
    if (hooks_pr_fill(push, json_object_get(pr, "id"), repo,
                      json_string_value(json_object_get(json_object_get(json_object_get(pr, "destination"), "branch"), "name")),
                      json_string_value(json_object_get(json_object_get(src, "commit"), "hash")),
                      NULL, reason) != 0)
        return -1;
    push->request_ref = xasprintf("refs/heads/%s", branch);
    return 0;
}

/* Bitbucket Data Center pr:opened / pr:from_ref_updated: refs/pull-requests/N/from. */
static int
hooks_pr_bitbucket_server(const struct config_workspace *ws, json_t *doc,
                          struct hook_push *push, char **reason)
{
    const json_t *pr = json_object_get(doc, "pullRequest");
    const json_t *to = json_object_get(pr, "toRef"), *from = json_object_get(pr, "fromRef");
    const json_t *trepo = json_object_get(to, "repository");
    const char *key = json_string_value(json_object_get(json_object_get(trepo, "project"), "key"));
    const char *slug = json_string_value(json_object_get(trepo, "slug"));
    const char *target = json_string_value(json_object_get(to, "id"));
    char *repo;
    int rc;

    (void)ws;
    if (key == NULL || slug == NULL || target == NULL || strncmp(target, "refs/heads/", 11) != 0)
        return set_error(reason, "not a request event: pullRequest.toRef is missing or not a branch");
    repo = xasprintf("%s/%s", key, slug);
    rc = hooks_pr_fill(push, json_object_get(pr, "id"), repo, target + 11,
                       json_string_value(json_object_get(from, "latestCommit")),
                       "refs/pull-requests/%s/from", reason);
    free(repo);
    return rc;
}

/* True if the configured URL names the repository "owner/name". */
static bool
hooks_repo_matches(const char *url, const char *full_name)
{
    char *u = xstrdup(url), *n = xstrdup(full_name), *p;
    size_t ul, nl;
    bool ok;

    ul = strlen(u);
    while (ul > 0 && u[ul - 1] == '/')
        u[--ul] = '\0';
    if (str_endswith(u, ".git"))
        u[ul -= 4] = '\0';
    nl = strlen(n);
    if (str_endswith(n, ".git"))
        n[nl -= 4] = '\0';
    /* scp-like URLs: git@host:owner/name */
    p = strrchr(u, ':');
    if (p != NULL && strchr(p, '/') != NULL && strstr(u, "://") == NULL)
        *p = '/';
    ok = ul >= nl && strcasecmp(u + ul - nl, n) == 0 && (ul == nl || u[ul - nl - 1] == '/');
    free(u);
    free(n);
    return ok;
}

enum hook_verdict
hooks_git(const struct config_workspace *ws, const struct hook_headers *h,
          const char *body, size_t len, struct hook_push *push, char **reason)
{
    const struct hooks_host *hh = NULL;
    const char *event = NULL, *ctype, *d, *payload;
    struct evkeyvalq form;
    json_error_t jerr;
    json_t *doc = NULL;
    char *text = NULL, *prefix;
    size_t i, j, under;
    enum hook_verdict v;
    bool pr = false;
    int prc;

    memset(push, 0, sizeof *push);
    for (i = 0; i < nitems(hooks_hosts); i++) {
        if (ws->git.host != GIT_HOST_AUTO && ws->git.host != hooks_hosts[i].host)
            continue;
        event = h->get(h->arg, hooks_hosts[i].event_header);
        if (event == NULL)
            continue;
        /* X-Event-Key is Bitbucket's for both products: tell by the value. */
        if (hooks_hosts[i].host == GIT_HOST_BITBUCKET_SERVER && strncmp(event, "repo:refs_changed", 17) != 0 &&
            strncmp(event, "diagnostics:", 12) != 0 && strncmp(event, "pr:", 3) != 0 &&
            ws->git.host != GIT_HOST_BITBUCKET_SERVER)
            continue;
        hh = &hooks_hosts[i];
        break;
    }
    if (hh == NULL) {
        set_error(reason, ws->git.host == GIT_HOST_AUTO
                              ? "no Git host event header (X-GitHub-Event, X-Gitlab-Event, X-Event-Key, X-Gitea-Event, X-Forgejo-Event)"
                              : "missing the %s event header", config_git_host_name(ws->git.host));
        return HOOK_BAD;
    }
    push->host = hh->host;
    for (j = 0; j < 3 && hh->delivery_headers[j] != NULL; j++) {
        d = h->get(h->arg, hh->delivery_headers[j]);
        if (d != NULL) {
            push->delivery = xasprintf("%s:%s", hh->name, d);
            break;
        }
    }
    /* The signature first, over the raw body: nothing is parsed before. */
    if (hooks_verify_git(ws, hh, h, body, len, reason) != 0)
        return HOOK_UNAUTHORIZED;
    if (hh->ping_event != NULL && strcmp(event, hh->ping_event) == 0) {
        set_error(reason, "ping");
        return HOOK_IGNORE;
    }
    for (j = 0; j < nitems(hh->pr_events); j++)
        pr = pr || (hh->pr_events[j] != NULL && strcmp(event, hh->pr_events[j]) == 0);
    if (!pr && strcmp(event, hh->push_event) != 0) {
        set_error(reason, "%s event \"%s\" ignored", hh->name, event);
        return HOOK_IGNORE;
    }
    ctype = h->get(h->arg, "Content-Type");
    if (ctype != NULL && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
        text = xstrndup(body, len);
        TAILQ_INIT(&form);
        if (evhttp_parse_query_str(text, &form) == 0 &&
            (payload = evhttp_find_header(&form, "payload")) != NULL) {
            doc = jload_only(payload, strlen(payload), JSON_REJECT_DUPLICATES,
                             pr ? hh->pr_reads : hh->reads, &jerr);
        } else {
            memset(&jerr, 0, sizeof jerr); /* no line: not JSON's fault */
            snprintf(jerr.text, sizeof jerr.text, "no payload= field in the form");
        }
        evhttp_clear_headers(&form);
        free(text);
    } else {
        doc = jload_only(body, len, JSON_REJECT_DUPLICATES, pr ? hh->pr_reads : hh->reads, &jerr);
    }
    if (doc == NULL) {
        hooks_bad_json(reason, &jerr);
        return HOOK_BAD;
    }
    prc = json_is_object(doc) ? (pr ? hh->pr_parse : hh->parse)(ws, doc, push, reason) : -1;
    if (prc != 0) {
        if (!json_is_object(doc))
            set_error(reason, "the body is not a JSON object");
        json_decref(doc);
        return prc > 0 ? HOOK_IGNORE : HOOK_BAD;
    }
    json_decref(doc);

    v = HOOK_IGNORE;
    if (!hooks_repo_matches(ws->git.url, push->repository)) {
        set_error(reason, "%s repository %s, not this workspace's", pr ? "request in" : "push to",
                  push->repository);
    } else if (pr && strcmp(push->ref + 11, ws->git.branch) != 0) {
        set_error(reason, "request %s targets branch %s, not %s", push->request, push->ref + 11,
                  ws->git.branch);
    } else if (pr) {
        set_error(reason, "queued");
        v = HOOK_QUEUE;
    } else if (strncmp(push->ref, "refs/heads/", 11) != 0) {
        set_error(reason, "%s is not a branch", push->ref);
    } else if (strcmp(push->ref + 11, ws->git.branch) != 0) {
        set_error(reason, "push to branch %s, not %s", push->ref + 11, ws->git.branch);
    } else if (push->deleted) {
        set_error(reason, "branch %s deleted: nothing to apply", ws->git.branch);
    } else {
        under = 0;
        prefix = ws->git.path;
        for (i = 0; i < push->npaths; i++) {
            if (strncmp(push->paths[i], prefix, strlen(prefix)) == 0)
                under++;
        }
        if (push->paths_complete && under == 0 && prefix[0] != '\0') {
            set_error(reason, "no file under %s changed", prefix);
        } else {
            set_error(reason, "queued");
            v = HOOK_QUEUE;
        }
    }
    return v;
}

/* Follow a JSON pointer ("/data/actor/name") in doc. */
static const json_t *
hooks_pointer(const json_t *doc, const char *ptr)
{
    const char *p = ptr, *end;
    char *tok, *r, *w;

    if (ptr == NULL)
        return NULL;
    while (doc != NULL && *p == '/') {
        p++;
        end = p + strcspn(p, "/");
        tok = xstrndup(p, (size_t)(end - p));
        for (r = w = tok; *r != '\0'; r++) {
            if (r[0] == '~' && r[1] == '1') {
                *w++ = '/';
                r++;
            } else if (r[0] == '~' && r[1] == '0') {
                *w++ = '~';
                r++;
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        if (json_is_array(doc))
            doc = json_array_get(doc, (size_t)strtoul(tok, NULL, 10));
        else
            doc = json_object_get(doc, tok);
        free(tok);
        p = end;
    }
    return doc;
}

/* A scalar at ptr as text, or NULL. */
static char *
hooks_pointer_text(const json_t *doc, const char *ptr, const char *def)
{
    const json_t *v = hooks_pointer(doc, ptr != NULL ? ptr : def);

    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return NULL;
}

enum hook_verdict
hooks_platform(const struct config_workspace *ws, const struct profile *profile,
               const struct hook_headers *h, const char *body, size_t len,
               double now, struct job_resource *res, char **delivery,
               char **reason)
{
    const char *secret = ws->platform.webhook_secret, *id, *ts, *sigs, *p;
    unsigned char key[512], mac[EVP_MAX_MD_SIZE], given[128];
    unsigned int maclen = 0;
    char *signed_text, *tok, *save = NULL, *list, *seq;
    const char *b64;
    json_error_t jerr;
    json_t *doc;
    long long t;
    int keylen, glen;
    size_t blen;
    bool ok = false;

    memset(res, 0, sizeof *res);
    *delivery = NULL;
    id = h->get(h->arg, "webhook-id");
    ts = h->get(h->arg, "webhook-timestamp");
    sigs = h->get(h->arg, "webhook-signature");
    if (secret == NULL && !ws->platform.insecure_no_signature) {
        set_error(reason, "workspace %s has no platform.webhook_secret: events are refused", ws->name);
        return HOOK_UNAUTHORIZED;
    }
    if (secret != NULL) {
        if (id == NULL || ts == NULL || sigs == NULL) {
            set_error(reason, "missing %s", id == NULL ? "webhook-id" : ts == NULL ? "webhook-timestamp" : "webhook-signature");
            return HOOK_UNAUTHORIZED;
        }
        t = strtoll(ts, NULL, 10);
        if (t <= 0 || (double)t < now - HOOKS_TOLERANCE || (double)t > now + HOOKS_TOLERANCE) {
            set_error(reason, "webhook-timestamp is not within 5 minutes of now");
            return HOOK_UNAUTHORIZED;
        }
        b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        blen = strlen(b64);
        keylen = blen <= 680 ? EVP_DecodeBlock(key, (const unsigned char *)b64, (int)blen) : -1;
        if (keylen <= 0) {
            set_error(reason, "platform.webhook_secret is not whsec_<base64>");
            return HOOK_UNAUTHORIZED;
        }
        for (p = b64 + blen; p > b64 && p[-1] == '='; p--)
            keylen--;
        signed_text = xasprintf("%s.%s.", id, ts);
        /* HMAC over "id.timestamp.body" without copying the body twice. */
        {
            struct buf b;

            buf_init(&b);
            buf_adds(&b, signed_text);
            buf_add(&b, body, len);
            HMAC(EVP_sha256(), key, keylen, (const unsigned char *)b.data, b.len, mac, &maclen);
            buf_free(&b);
        }
        free(signed_text);
        list = xstrdup(sigs);
        for (tok = strtok_r(list, " ", &save); tok != NULL && !ok; tok = strtok_r(NULL, " ", &save)) {
            if (strncmp(tok, "v1,", 3) != 0)
                continue;
            if (strlen(tok + 3) > 120)
                continue;
            glen = EVP_DecodeBlock(given, (const unsigned char *)tok + 3, (int)strlen(tok + 3));
            for (p = tok + strlen(tok); p > tok + 3 && p[-1] == '='; p--)
                glen--;
            ok = glen == (int)maclen && CRYPTO_memcmp(given, mac, maclen) == 0;
        }
        free(list);
        if (!ok) {
            set_error(reason, "webhook-signature does not match the body");
            return HOOK_UNAUTHORIZED;
        }
    }
    if (id != NULL)
        *delivery = xasprintf("platform:%s", id);
    doc = jload(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        hooks_bad_json(reason, &jerr);
        return HOOK_BAD;
    }
    res->kind = hooks_pointer_text(doc, profile->event_kind, "/data/kind");
    res->id = hooks_pointer_text(doc, profile->event_id, "/data/id");
    res->slug = hooks_pointer_text(doc, profile->event_slug, "/data/slug");
    res->action = hooks_pointer_text(doc, profile->event_action, "/data/action");
    res->actor_name = hooks_pointer_text(doc, profile->event_actor_name, "/data/actor/name");
    res->actor_email = hooks_pointer_text(doc, profile->event_actor_email, "/data/actor/email");
    seq = hooks_pointer_text(doc, profile->event_seq, "/data/seq");
    res->seq = seq != NULL ? strtoll(seq, NULL, 10) : -1;
    free(seq);
    res->event_id = id != NULL ? xstrdup(id) : NULL;
    res->received_at = now;
    json_decref(doc);
    if (res->kind == NULL || (res->id == NULL && res->slug == NULL)) {
        set_error(reason, "the event names no kind and id or slug");
        hook_resource_free(res);
        free(*delivery);
        *delivery = NULL;
        return HOOK_BAD;
    }
    if (profile_kind_by_name(profile, res->kind) == NULL) {
        set_error(reason, "event for kind \"%s\", which profile %s does not sync", res->kind, profile->name);
        hook_resource_free(res);
        return HOOK_IGNORE;
    }
    set_error(reason, "queued");
    return HOOK_QUEUE;
}
