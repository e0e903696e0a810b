/* Unit tests for hooks: every fixture, signature vectors, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gitsyncd/hooks.h"
#include "gitsyncd/util.h"

#define SECRET "fixture-secret-2f8a"

#include "../hook-headers.h"

static char *
fixture(const char *name, size_t *len)
{
    const char *dir = getenv("FIXTURES");
    char *path = xasprintf("%s/webhooks/%s", dir ? dir : "../tests/fixtures", name);
    char *data = NULL, *err = NULL;

    if (read_file(path, 1 << 20, &data, len, &err) != 0)
        fail_msg("%s", err);
    free(path);
    return data;
}

/* Hex HMAC-SHA256 of body (static buffer). */
static const char *
hmac_hex(const char *key, const char *body, size_t len, const char *prefix)
{
    static char out[2][128];
    static int which;
    unsigned char mac[32];
    unsigned int n = 0, i;
    char *o = out[which ^= 1];

    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len, mac, &n);
    strcpy(o, prefix);
    for (i = 0; i < n; i++)
        sprintf(o + strlen(prefix) + 2 * i, "%02x", mac[i]);
    return o;
}

static struct config_workspace
workspace(enum git_host host, const char *url, const char *branch)
{
    struct config_workspace ws;

    memset(&ws, 0, sizeof ws);
    ws.name = "w";
    ws.git.host = host;
    ws.git.url = (char *)url;
    ws.git.branch = (char *)branch;
    ws.git.path = "";
    ws.git.webhook_secret = SECRET;
    return ws;
}

struct fixture_case {
    const char *file;
    enum git_host host;      /* configured */
    const char *url;
    const char *branch;
    const char *event_header, *event;
    const char *sig_header;  /* NULL: token */
    const char *sig_prefix;
    enum hook_verdict verdict;
    enum git_host want_host;
    const char *repository, *ref, *after, *reason;
    bool complete;
};

static const struct fixture_case cases[] = {
    { "github-push.json", GIT_HOST_AUTO, "https://github.com/binkkatal/sample_app.git", "master",
      "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=", HOOK_QUEUE, GIT_HOST_GITHUB,
      "binkkatal/sample_app", "refs/heads/master", "fd489864e7642b48eaad6e3f155c10e46810ec72", "queued", true },
    { "github-push-new-branch.json", GIT_HOST_GITHUB, "git@github.com:Codertocat/Hello-World.git", "master",
      "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=", HOOK_QUEUE, GIT_HOST_GITHUB,
      "Codertocat/Hello-World", "refs/heads/master", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "queued", false },
    { "github-push-tag-delete.json", GIT_HOST_GITHUB, "https://github.com/Codertocat/Hello-World", "master",
      "X-GitHub-Event", "push", "X-Hub-Signature-256", "sha256=", HOOK_IGNORE, GIT_HOST_GITHUB,
      "Codertocat/Hello-World", "refs/tags/simple-tag", "0000000000000000000000000000000000000000",
      "refs/tags/simple-tag is not a branch", false },
    { "github-ping.json", GIT_HOST_GITHUB, "https://github.com/Octocoders/Hello-World", "main",
      "X-GitHub-Event", "ping", "X-Hub-Signature-256", "sha256=", HOOK_IGNORE, GIT_HOST_GITHUB,
      NULL, NULL, NULL, "ping", false },
    { "gitlab-push.json", GIT_HOST_GITLAB, "https://gitlab.example.com/mike/diaspora.git", "master",
      "X-Gitlab-Event", "Push Hook", NULL, NULL, HOOK_QUEUE, GIT_HOST_GITLAB,
      "mike/diaspora", "refs/heads/master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "queued", false },
    { "gitlab-push-single-commit.json", GIT_HOST_AUTO, "ssh://git@gitlab.example.com:2222/group/name.git", "master",
      "X-Gitlab-Event", "Push Hook", NULL, NULL, HOOK_QUEUE, GIT_HOST_GITLAB,
      "group/name", "refs/heads/master", "bb0748feaa336d841c251017e4e374c22d0c8a98", "queued", true },
    { "bitbucket-cloud-push.json", GIT_HOST_BITBUCKET, "https://bitbucket.org/team_name/repo_name.git", "name-of-branch",
      "X-Event-Key", "repo:push", "X-Hub-Signature", "sha256=", HOOK_QUEUE, GIT_HOST_BITBUCKET,
      "team_name/repo_name", "refs/heads/name-of-branch", "709d658dc5b6d6afcd46049c2f332ee3f515a67d", "queued", false },
    { "bitbucket-cloud-push-branch-create.json", GIT_HOST_AUTO, "https://bitbucket.org/brydzewski/foo", "develop",
      "X-Event-Key", "repo:push", "X-Hub-Signature", "sha256=", HOOK_QUEUE, GIT_HOST_BITBUCKET,
      "brydzewski/foo", "refs/heads/develop", "141977fedf5cf35aa290ac87d4b5177ac4cd9de1", "queued", false },
    { "bitbucket-server-refs-changed.json", GIT_HOST_AUTO, "https://bitbucket.example.com/scm/myproject/test-repo.git", "master",
      "X-Event-Key", "repo:refs_changed", "X-Hub-Signature", "sha256=", HOOK_QUEUE, GIT_HOST_BITBUCKET_SERVER,
      "MYPROJECT/test-repo", "refs/heads/master", "22671f0349857934857983457983475ec39f196b", "queued", false },
    { "bitbucket-server-refs-changed-delete.json", GIT_HOST_BITBUCKET_SERVER, "https://bb.example.com/scm/prj/my-repo.git", "develop",
      "X-Event-Key", "repo:refs_changed", "X-Hub-Signature", "sha256=", HOOK_IGNORE, GIT_HOST_BITBUCKET_SERVER,
      "PRJ/my-repo", "refs/heads/develop", "0000000000000000000000000000000000000000", "branch develop deleted: nothing to apply", false },
    { "gitea-push.json", GIT_HOST_GITEA, "https://try.gitea.io/gogits/hello-world.git", "master",
      "X-Gitea-Event", "push", "X-Gitea-Signature", "", HOOK_QUEUE, GIT_HOST_GITEA,
      "gogits/hello-world", "refs/heads/master", "4522cbcefc20728a5b72b3a86af35e608622c514", "queued", true },
    { "gitea-push.json", GIT_HOST_AUTO, "https://codeberg.org/gogits/hello-world", "master",
      "X-Forgejo-Event", "push", "X-Forgejo-Signature", "", HOOK_QUEUE, GIT_HOST_GITEA,
      "gogits/hello-world", "refs/heads/master", "4522cbcefc20728a5b72b3a86af35e608622c514", "queued", true },
};

/* Every fixture, signed, reads back field by field. */
static void
test_fixtures(void **state)
{
    struct hook_push push;
    char *body, *reason = NULL;
    size_t len, i;
    enum hook_verdict v;

    (void)state;
    for (i = 0; i < nitems(cases); i++) {
        const struct fixture_case *c = &cases[i];
        struct config_workspace ws = workspace(c->host, c->url, c->branch);
        struct hdrs h = { { NULL }, 0 };
        struct hook_headers hh = { hdr_get, &h };

        body = fixture(c->file, &len);
        hdr_add(&h, c->event_header, c->event);
        hdr_add(&h, "Content-Type", "application/json");
        if (c->sig_header == NULL)
            hdr_add(&h, "X-Gitlab-Token", SECRET);
        else
            hdr_add(&h, c->sig_header, hmac_hex(SECRET, body, len, c->sig_prefix));
        v = hooks_git(&ws, &hh, body, len, &push, &reason);
        if (v != c->verdict)
            fail_msg("%s: verdict %d, want %d (%s)", c->file, v, c->verdict, reason);
        assert_string_equal(reason, c->reason);
        assert_int_equal(push.host, c->want_host);
        if (c->repository != NULL) {
            assert_string_equal(push.repository, c->repository);
            assert_string_equal(push.ref, c->ref);
            assert_string_equal(push.after, c->after);
            assert_int_equal(push.paths_complete, c->complete);
        }
        hook_push_free(&push);
        free(reason);
        reason = NULL;
        free(body);
    }
}

/* GitHub's documented example: secret, body and signature. */
static void
test_github_doc_vector(void **state)
{
    struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/a/b", "main");
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *reason = NULL;

    (void)state;
    ws.git.webhook_secret = "It's a Secret to Everybody";
    hdr_add(&h, "X-GitHub-Event", "ping");
    hdr_add(&h, "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    assert_int_equal(hooks_git(&ws, &hh, "Hello, World!", 13, &push, &reason), HOOK_IGNORE);
    assert_string_equal(reason, "ping");
    hook_push_free(&push);
    free(reason);
}

/* Wrong, truncated, missing, sha1-only and tampered signatures: 401. */
static void
test_bad_signatures(void **state)
{
    static const char body[] = "{\"ref\":\"refs/heads/main\"}";
    const char *good = hmac_hex(SECRET, body, sizeof body - 1, "sha256=");
    char truncated[80];
    struct {
        const char *header, *value, *reason;
    } bad[] = {
        { "X-Hub-Signature-256", "sha256=0000000000000000000000000000000000000000000000000000000000000000",
          "X-Hub-Signature-256 does not match the body" },
        { "X-Hub-Signature-256", truncated, "X-Hub-Signature-256 does not match the body" },
        { NULL, NULL, "missing X-Hub-Signature-256" },
        { "X-Hub-Signature", "sha1=0123", "X-Hub-Signature (sha1) refused: send X-Hub-Signature-256, or set git.allow_sha1" },
        { "X-Hub-Signature-256", "md5=abcd", "X-Hub-Signature-256: expected sha256=<hex>" },
    };
    struct hook_push push;
    char *reason = NULL;
    size_t i;

    (void)state;
    snprintf(truncated, sizeof truncated, "%.40s", good);
    for (i = 0; i < nitems(bad); i++) {
        struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/a/b", "main");
        struct hdrs h = { { NULL }, 0 };
        struct hook_headers hh = { hdr_get, &h };

        hdr_add(&h, "X-GitHub-Event", "push");
        if (bad[i].header != NULL)
            hdr_add(&h, bad[i].header, bad[i].value);
        assert_int_equal(hooks_git(&ws, &hh, body, sizeof body - 1, &push, &reason), HOOK_UNAUTHORIZED);
        assert_string_equal(reason, bad[i].reason);
        hook_push_free(&push);
        free(reason);
        reason = NULL;
    }
    /* Tampered: the signature of another body. */
    {
        struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/a/b", "main");
        struct hdrs h = { { NULL }, 0 };
        struct hook_headers hh = { hdr_get, &h };

        hdr_add(&h, "X-GitHub-Event", "push");
        hdr_add(&h, "X-Hub-Signature-256", good);
        assert_int_equal(hooks_git(&ws, &hh, "{\"ref\":\"refs/heads/evil\"}", 25, &push, &reason),
                         HOOK_UNAUTHORIZED);
        hook_push_free(&push);
        free(reason);
        reason = NULL;
        /* No secret configured: refused unless insecure_no_signature. */
        ws.git.webhook_secret = NULL;
        assert_int_equal(hooks_git(&ws, &hh, body, sizeof body - 1, &push, &reason), HOOK_UNAUTHORIZED);
        assert_string_equal(reason, "workspace w has no git.webhook_secret: webhooks are refused");
        hook_push_free(&push);
        free(reason);
    }
}

/* A malformed body with a valid signature is 400, after verification. */
static void
test_malformed(void **state)
{
    static const char body[] = "{\"ref\": ";
    struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/a/b", "main");
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *reason = NULL;

    (void)state;
    hdr_add(&h, "X-GitHub-Event", "push");
    hdr_add(&h, "X-Hub-Signature-256", hmac_hex(SECRET, body, sizeof body - 1, "sha256="));
    assert_int_equal(hooks_git(&ws, &hh, body, sizeof body - 1, &push, &reason), HOOK_BAD);
    assert_non_null(strstr(reason, "malformed JSON"));
    hook_push_free(&push);
    free(reason);
}

/* GitHub's form-encoded bodies: payload=<urlencoded JSON>. */
/* A signed GitHub form body is refused (HOOK_BAD) for the reason given. */
static void
assert_form_refused(const struct config_workspace *ws, const char *body, const char *why)
{
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *reason = NULL;

    hdr_add(&h, "X-GitHub-Event", "push");
    hdr_add(&h, "Content-Type", "application/x-www-form-urlencoded");
    hdr_add(&h, "X-Hub-Signature-256", hmac_hex(SECRET, body, strlen(body), "sha256="));
    assert_int_equal(hooks_git(ws, &hh, body, strlen(body), &push, &reason), HOOK_BAD);
    assert_string_equal(reason, why);
    free(reason);
    hook_push_free(&push);
}

static void
test_github_form(void **state)
{
    static const char body[] =
        "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%2C%22before%22%3A%22a%22%2C%22after%22%3A%22b%22%2C"
        "%22repository%22%3A%7B%22full_name%22%3A%22a%2Fb%22%7D%2C%22commits%22%3A%5B%7B%22added%22%3A%5B%22models%2Fx.yaml%22%5D%7D%5D%7D";
    struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/a/b", "main");
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *reason = NULL;

    (void)state;
    hdr_add(&h, "X-GitHub-Event", "push");
    hdr_add(&h, "Content-Type", "application/x-www-form-urlencoded");
    hdr_add(&h, "X-Hub-Signature-256", hmac_hex(SECRET, body, sizeof body - 1, "sha256="));
    assert_int_equal(hooks_git(&ws, &hh, body, sizeof body - 1, &push, &reason), HOOK_QUEUE);
    assert_string_equal(push.after, "b");
    assert_int_equal(push.npaths, 1);
    assert_string_equal(push.paths[0], "models/x.yaml");
    hook_push_free(&push);
    free(reason);

    /* No payload field, and a payload that is not JSON: 400, saying which. */
    assert_form_refused(&ws, "other=1", "malformed JSON: no payload= field in the form");
    assert_form_refused(&ws, "payload=%7B%22ref%22%3A%0A",
                        "malformed JSON at line 2, column 1: parse error: premature EOF");
}

/* A complete path list that touches nothing under the sub-path: ignored. */
static void
test_subpath_filter(void **state)
{
    struct config_workspace ws = workspace(GIT_HOST_GITHUB, "https://github.com/binkkatal/sample_app", "master");
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *body, *reason = NULL;
    size_t len;

    (void)state;
    ws.git.path = "hightouch/";
    body = fixture("github-push.json", &len);
    hdr_add(&h, "X-GitHub-Event", "push");
    hdr_add(&h, "X-Hub-Signature-256", hmac_hex(SECRET, body, len, "sha256="));
    assert_int_equal(hooks_git(&ws, &hh, body, len, &push, &reason), HOOK_IGNORE);
    assert_string_equal(reason, "no file under hightouch/ changed");
    hook_push_free(&push);
    free(reason);
    reason = NULL;
    /* Another branch, another repository. */
    ws.git.path = "";
    ws.git.branch = "main";
    assert_int_equal(hooks_git(&ws, &hh, body, len, &push, &reason), HOOK_IGNORE);
    assert_string_equal(reason, "push to branch master, not main");
    hook_push_free(&push);
    free(reason);
    reason = NULL;
    ws.git.url = "https://github.com/someone/else";
    assert_int_equal(hooks_git(&ws, &hh, body, len, &push, &reason), HOOK_IGNORE);
    assert_string_equal(reason, "push to repository binkkatal/sample_app, not this workspace's");
    hook_push_free(&push);
    free(reason);
    free(body);
}

/* The Standard Webhooks specification's example verifies. */
static void
test_standard_webhooks_vector(void **state)
{
    static const char body[] = "{\"test\": 2432232314}";
    struct config_workspace ws = workspace(GIT_HOST_AUTO, "x", "main");
    struct profile prof;
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct job_resource res;
    char *delivery = NULL, *reason = NULL;

    (void)state;
    memset(&prof, 0, sizeof prof);
    prof.name = "p";
    ws.platform.webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    hdr_add(&h, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek");
    hdr_add(&h, "webhook-timestamp", "1614265330");
    hdr_add(&h, "webhook-signature", "v1,bm9ldmVy v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Verified; the body names no resource, so it is refused as malformed. */
    assert_int_equal(hooks_platform(&ws, &prof, &hh, body, sizeof body - 1, 1614265330.0, &res,
                                    &delivery, &reason), HOOK_BAD);
    assert_string_equal(reason, "the event names no kind and id or slug");
    free(reason);
    reason = NULL;
    /* Tampered body, and an expired timestamp: 401. */
    assert_int_equal(hooks_platform(&ws, &prof, &hh, "{\"test\": 1}", 11, 1614265330.0, &res,
                                    &delivery, &reason), HOOK_UNAUTHORIZED);
    assert_string_equal(reason, "webhook-signature does not match the body");
    free(reason);
    reason = NULL;
    assert_int_equal(hooks_platform(&ws, &prof, &hh, body, sizeof body - 1, 1614265330.0 + 301, &res,
                                    &delivery, &reason), HOOK_UNAUTHORIZED);
    assert_string_equal(reason, "webhook-timestamp is not within 5 minutes of now");
    free(reason);
}

/* Pull/merge request events of every host: verified, read, filtered. */
struct pr_case {
    const char *file;
    enum git_host host;
    const char *url, *branch, *event_header, *event, *sig_header, *sig_prefix;
    enum hook_verdict verdict;
    const char *reason, *request, *request_ref, *after;
    const char *edit_from, *edit_to; /* a change to the body before signing */
};

static const struct pr_case pr_cases[] = {
    { "github-pull-request-opened.json", GIT_HOST_AUTO, "https://github.com/baxterthehacker/public-repo",
      "master", "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=", HOOK_QUEUE, "queued",
      "1", "refs/pull/1/head", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", NULL, NULL },
    { "github-pull-request-opened.json", GIT_HOST_GITHUB, "https://github.com/baxterthehacker/public-repo",
      "master", "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=", HOOK_IGNORE,
      "request action \"closed\" ignored", NULL, NULL, NULL, "\"action\": \"opened\"", "\"action\": \"closed\"" },
    { "github-pull-request-opened.json", GIT_HOST_GITHUB, "https://github.com/baxterthehacker/public-repo",
      "main", "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=", HOOK_IGNORE,
      "request 1 targets branch master, not main", NULL, NULL, NULL, NULL, NULL },
    { "github-pull-request-opened.json", GIT_HOST_GITHUB, "https://github.com/someone/else",
      "master", "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=", HOOK_IGNORE,
      "request in repository baxterthehacker/public-repo, not this workspace's", NULL, NULL, NULL, NULL, NULL },
    { "gitea-pull-request-opened.json", GIT_HOST_GITEA, "https://gitea.example.com/example/example.git",
      "master", "X-Gitea-Event", "pull_request", "X-Gitea-Signature", "", HOOK_QUEUE, "queued",
      "2", "refs/pull/2/head", "48e773f892a831faa47c0a160d1b7f0cd369ae2a", NULL, NULL },
    { "gitea-pull-request-opened.json", GIT_HOST_AUTO, "https://codeberg.org/example/example",
      "master", "X-Forgejo-Event", "pull_request", "X-Forgejo-Signature", "", HOOK_QUEUE, "queued",
      "2", "refs/pull/2/head", "48e773f892a831faa47c0a160d1b7f0cd369ae2a", NULL, NULL },
    { "gitlab-merge-request-open.json", GIT_HOST_AUTO, "https://gitlab.example.com/gitlabhq/gitlab-test.git",
      "master", "X-Gitlab-Event", "Merge Request Hook", NULL, NULL, HOOK_QUEUE, "queued",
      "1", "refs/merge-requests/1/head", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", NULL, NULL },
    { "bitbucket-cloud-pullrequest-created.json", GIT_HOST_AUTO, "https://bitbucket.org/team_name/repo_name",
      "master", "X-Event-Key", "pullrequest:created", "X-Hub-Signature", "sha256=", HOOK_QUEUE, "queued",
      "1", "refs/heads/branch2", "d3022fc0ca3d", NULL, NULL },
    { "bitbucket-server-pr-opened.json", GIT_HOST_AUTO, "https://bb.example.com/scm/~gopher/webhook-test.git",
      "master", "X-Event-Key", "pr:opened", "X-Hub-Signature", "sha256=", HOOK_QUEUE, "queued",
      "5", "refs/pull-requests/5/from", "32a0b8a740c2963c6f56bd8baf3dc05683d299e0", NULL, NULL },
    { "bitbucket-server-pr-from-ref-updated.json", GIT_HOST_BITBUCKET_SERVER,
      "https://bb.example.com/scm/prj/my-repo.git", "master", "X-Event-Key", "pr:from_ref_updated",
      "X-Hub-Signature", "sha256=", HOOK_QUEUE, "queued",
      "2", "refs/pull-requests/2/from", "c00d0f269a9844dd168f72f6a9d78a9cff49a318", NULL, NULL },
    { "github-pull-request-opened.json", GIT_HOST_GITHUB, "https://github.com/baxterthehacker/public-repo",
      "master", "X-GitHub-Event", "pull_request", "X-Hub-Signature-256", "sha256=", HOOK_BAD,
      "not a request event: its number, repository, target branch or head is missing", NULL, NULL, NULL,
      "\"number\": 1", "\"number\": \"1/../2\"" },
};

static void
test_pr_fixtures(void **state)
{
    struct hook_push push;
    char *body, *reason = NULL, *at;
    size_t len, i;
    enum hook_verdict v;

    (void)state;
    for (i = 0; i < nitems(pr_cases); i++) {
        const struct pr_case *c = &pr_cases[i];
        struct config_workspace ws = workspace(c->host, c->url, c->branch);
        struct hdrs h = { { NULL }, 0 };
        struct hook_headers hh = { hdr_get, &h };

        body = fixture(c->file, &len);
        if (c->edit_from != NULL) {
            at = strstr(body, c->edit_from);
            if (at == NULL)
                fail_msg("%s: no %s to edit", c->file, c->edit_from);
            {
                char *nb = xasprintf("%.*s%s%s", (int)(at - body), body, c->edit_to,
                                     at + strlen(c->edit_from));

                free(body);
                body = nb;
                len = strlen(body);
            }
        }
        hdr_add(&h, c->event_header, c->event);
        if (c->sig_header == NULL)
            hdr_add(&h, "X-Gitlab-Token", SECRET);
        else
            hdr_add(&h, c->sig_header, hmac_hex(SECRET, body, len, c->sig_prefix));
        v = hooks_git(&ws, &hh, body, len, &push, &reason);
        if (v != c->verdict)
            fail_msg("%s (case %zu): verdict %d, want %d (%s)", c->file, i, v, c->verdict, reason);
        assert_string_equal(reason, c->reason);
        if (c->request != NULL) {
            assert_string_equal(push.request, c->request);
            assert_string_equal(push.request_ref, c->request_ref);
            assert_string_equal(push.after, c->after);
            assert_string_equal(push.ref, "refs/heads/master");
        }
        hook_push_free(&push);
        free(reason);
        reason = NULL;
        free(body);
    }
}

/* A request event with a wrong signature is refused like a push. */
static void
test_pr_signature(void **state)
{
    struct config_workspace ws = workspace(GIT_HOST_GITLAB, "https://gitlab.example.com/gitlabhq/gitlab-test", "master");
    struct hdrs h = { { NULL }, 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct hook_push push;
    char *body, *reason = NULL;
    size_t len;

    (void)state;
    body = fixture("gitlab-merge-request-open.json", &len);
    hdr_add(&h, "X-Gitlab-Event", "Merge Request Hook");
    hdr_add(&h, "X-Gitlab-Token", "not-the-secret");
    assert_int_equal(hooks_git(&ws, &hh, body, len, &push, &reason), HOOK_UNAUTHORIZED);
    assert_string_equal(reason, "X-Gitlab-Token does not match");
    assert_null(push.request);
    hook_push_free(&push);
    free(reason);
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_github_doc_vector),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_github_form),
        cmocka_unit_test(test_subpath_filter),
        cmocka_unit_test(test_standard_webhooks_vector),
        cmocka_unit_test(test_pr_fixtures),
        cmocka_unit_test(test_pr_signature),
    };

    return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
