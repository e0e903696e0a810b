/* gitref: fetch a pull request's head into the mirror; merge bases. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "gitsyncd/gitref.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#define GITREF_PREFIX "refs/gitsyncd/review/"

/* What the transport callbacks need. */
struct gitref_ctx {
    const struct config_git *git;
    int tries;
    double deadline;
};

static const char *
gitref_giterr(void)
{
    const git_error *e = git_error_last();

    return e != NULL && e->message != NULL ? e->message : "unknown error";
}

/* Credentials: token over HTTPS, key over SSH; one try. */
static int
gitref_credentials(git_credential **cred, const char *url, const char *user_from_url,
                   unsigned int allowed, void *payload)
{
    struct gitref_ctx *c = payload;
    const struct config_git *g = c->git;
    char *pub;
    int rc;

    (void)url;
    if (++c->tries > 1) {
        git_error_set_str(GIT_ERROR_NET, "credentials refused");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && g->ssh_key != NULL) {
        pub = g->ssh_public_key != NULL ? xstrdup(g->ssh_public_key) : xasprintf("%s.pub", g->ssh_key);
        if (access(pub, R_OK) != 0) {
            free(pub);
            pub = NULL;
        }
        rc = git_credential_ssh_key_new(cred, user_from_url != NULL ? user_from_url
                                              : g->username != NULL ? g->username : "git",
                                        pub, g->ssh_key, g->ssh_passphrase != NULL ? g->ssh_passphrase : "");
        free(pub);
        return rc;
    }
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && g->password != NULL)
        return git_credential_userpass_plaintext_new(cred, g->username != NULL ? g->username
                                                     : user_from_url != NULL ? user_from_url
                                                     : "x-access-token", g->password);
    git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials and none are configured");
    return GIT_EAUTH;
}

/* TLS as libgit2 judged it; an SSH host key only against the pin. */
static int
gitref_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
    struct gitref_ctx *c = payload;
    const struct config_git *g = c->git;
    git_cert_hostkey *hk;
    unsigned char fp[48];
    const char *pin;
    int n;

    (void)host;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
        if (valid || !g->tls_verify)
            return 0;
        git_error_set_str(GIT_ERROR_SSL, "the server's TLS certificate is not trusted");
        return GIT_ECERTIFICATE;
    }
    if (g->insecure_skip_host_key_check)
        return 0;
    hk = (git_cert_hostkey *)cert;
    pin = g->host_key_fingerprint;
    if (pin != NULL && (hk->type & GIT_CERT_SSH_SHA256)) {
        if (strncmp(pin, "SHA256:", 7) == 0)
            pin += 7;
        n = EVP_EncodeBlock(fp, hk->hash_sha256, 32);
        while (n > 0 && fp[n - 1] == '=')
            fp[--n] = '\0';
        if (strncmp((char *)fp, pin, (size_t)n) == 0 && (size_t)n == strcspn(pin, "="))
            return 0;
    }
    git_error_set_str(GIT_ERROR_SSH, "SSH host key not verified: a check's fetch needs git.host_key_fingerprint");
    return GIT_ECERTIFICATE;
}

static int
gitref_progress(const git_indexer_progress *stats, void *payload)
{
    struct gitref_ctx *c = payload;

    (void)stats;
    if (c->deadline > 0 && now_mono() > c->deadline) {
        git_error_set_str(GIT_ERROR_NET, "timed out");
        return -1;
    }
    return 0;
}

int
gitref_fetch(struct gitstore *gs, const struct config_git *git,
             const char *ref, git_oid *head, char **err)
{
    git_repository *repo = gitstore_repo(gs);
    git_remote_create_options o;
    git_fetch_options fo;
    git_remote *remote = NULL;
    git_strarray specs;
    struct gitref_ctx ctx;
    char *full, *local, *spec, *safe;
    int rc, valid = 0;

    memset(head, 0, sizeof *head);
    full = strncmp(ref, "refs/", 5) == 0 ? xstrdup(ref) : xasprintf("refs/heads/%s", ref);
    local = xasprintf(GITREF_PREFIX "%s", full + 5);
    if (git_reference_name_is_valid(&valid, full) != 0 || !valid || strstr(full, "..") != NULL ||
        strchr(full, ':') != NULL || strchr(full, '*') != NULL) {
        set_error(err, "\"%s\" is not a valid ref name", ref);
        free(full);
        free(local);
        return -1;
    }
    safe = url_without_credentials(git->url, NULL);
    {
        /* A ref left by an earlier check must not stand for a missing one. */
        git_reference *old = NULL;

        if (git_reference_lookup(&old, repo, local) == 0)
            git_reference_delete(old);
        git_reference_free(old);
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.git = git;
    ctx.deadline = git->timeout_ms > 0 ? now_mono() + (double)git->timeout_ms / 1000 : 0;
    git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    o.repository = repo;
    o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    rc = git_remote_create_with_opts(&remote, git->url, &o);
    if (rc == 0) {
        git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
        fo.callbacks.credentials = gitref_credentials;
        fo.callbacks.certificate_check = gitref_certificate;
        fo.callbacks.transfer_progress = gitref_progress;
        fo.callbacks.payload = &ctx;
        fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
        fo.prune = GIT_FETCH_NO_PRUNE;
        spec = xasprintf("+%s:%s", full, local);
        specs.strings = &spec;
        specs.count = 1;
        rc = git_remote_fetch(remote, &specs, &fo, "gitsyncd: fetch for a check");
        free(spec);
    }
    git_remote_free(remote);
    if (rc != 0) {
        set_error(err, "fetch %s from %s: %s", full, safe, gitref_giterr());
        goto out;
    }
    rc = git_reference_name_to_id(head, repo, local);
    if (rc != 0)
        set_error(err, "fetch %s from %s: the remote has no such ref", full, safe);
    else
        log_debug("fetched a ref for a check", "url", safe, "ref", full);
out:
    free(safe);
    free(full);
    free(local);
    return rc == 0 ? 0 : -1;
}

void
gitref_forget(struct gitstore *gs, const char *ref)
{
    git_reference *r = NULL;
    char *local = strncmp(ref, "refs/", 5) == 0 ? xasprintf(GITREF_PREFIX "%s", ref + 5)
                                                : xasprintf(GITREF_PREFIX "heads/%s", ref);

    if (git_reference_lookup(&r, gitstore_repo(gs), local) == 0)
        git_reference_delete(r);
    git_reference_free(r);
    free(local);
}

int
gitref_merge_base(struct gitstore *gs, const git_oid *a, const git_oid *b,
                  git_oid *base, bool *found, char **err)
{
    int rc = git_merge_base(base, gitstore_repo(gs), a, b);

    *found = rc == 0;
    if (rc == 0 || rc == GIT_ENOTFOUND)
        return 0;
    return set_error(err, "merge base: %s", gitref_giterr());
}
