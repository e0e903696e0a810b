/*
 * libFuzzer target: Git-host signature headers.  Input: a flags byte, a
 * signature header line, a delivery id line, then the body.  Flags pick
 * the host, whether sha1 is allowed, and whether the harness replaces the
 * header with a valid signature (so the signed path reaches the parser).
 * A forged signature that verifies is a bug: the harness aborts.
 */
#include "fuzz.h"

#define SECRET "fuzz-secret-7c1e"

static const struct {
    enum git_host host;
    const char *event_header, *event, *sig_header;
} hosts[] = {
    { GIT_HOST_GITHUB, "X-GitHub-Event", "push", "X-Hub-Signature-256" },
    { GIT_HOST_GITHUB, "X-GitHub-Event", "push", "X-Hub-Signature" },
    { GIT_HOST_GITLAB, "X-Gitlab-Event", "Push Hook", "X-Gitlab-Token" },
    { GIT_HOST_BITBUCKET, "X-Event-Key", "repo:push", "X-Hub-Signature" },
    { GIT_HOST_BITBUCKET_SERVER, "X-Event-Key", "repo:refs_changed", "X-Hub-Signature" },
    { GIT_HOST_GITEA, "X-Gitea-Event", "push", "X-Gitea-Signature" },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdrs h = { .n = 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct config_workspace ws;
    struct hook_push push;
    const char *f[2], *body;
    char *copy, *reason = NULL, *valid = NULL;
    size_t blen, which;
    unsigned flags;
    enum hook_verdict v;

    if (size < 1)
        return 0;
    flags = data[0];
    which = (flags & 0x0f) % (sizeof hosts / sizeof hosts[0]);
    copy = fuzz_fields(data + 1, size - 1, 2, f, &body, &blen);
    memset(&ws, 0, sizeof ws);
    ws.name = "fuzz";
    ws.git.host = hosts[which].host;
    ws.git.url = "https://example.com/o/r.git";
    ws.git.branch = "master";
    ws.git.path = "";
    ws.git.webhook_secret = SECRET;
    ws.git.allow_sha1 = (flags & 0x10) != 0;
    hdr_add(&h, hosts[which].event_header, hosts[which].event);
    if (flags & 0x20) {
        if (hosts[which].host == GIT_HOST_GITLAB)
            valid = xstrdup(SECRET);
        else if (strcmp(hosts[which].sig_header, "X-Gitea-Signature") == 0)
            valid = fuzz_hmac_hex(EVP_sha256(), SECRET, body, blen, "");
        else if (which == 1)
            valid = fuzz_hmac_hex(EVP_sha1(), SECRET, body, blen, "sha1=");
        else
            valid = fuzz_hmac_hex(EVP_sha256(), SECRET, body, blen, "sha256=");
        hdr_add(&h, hosts[which].sig_header, valid);
    } else {
        hdr_add(&h, hosts[which].sig_header, f[0]);
    }
    hdr_add(&h, "X-GitHub-Delivery", f[1]);
    hdr_add(&h, "Idempotency-Key", f[1]);
    v = hooks_git(&ws, &hh, body, blen, &push, &reason);
    if (reason == NULL)
        abort();
    /* Without the harness's signature only the secret itself may pass
     * (GitLab's token) or a correct HMAC, which a fuzzer cannot forge. */
    if (!(flags & 0x20) && v != HOOK_UNAUTHORIZED && !(hosts[which].host == GIT_HOST_GITLAB && strcmp(f[0], SECRET) == 0))
        abort();
    if ((flags & 0x20) && v == HOOK_UNAUTHORIZED && (hosts[which].host != GIT_HOST_GITHUB || which == 0 || ws.git.allow_sha1))
        abort();
    free(reason);
    free(valid);
    free(copy);
    hook_push_free(&push);
    return 0;
}
