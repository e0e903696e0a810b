/* gitstore-transport: what talks to the remote: credentials and host keys,
 * fetch, push with compare-and-swap and its read-back, branch restore. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#include "gitstore-int.h"

/* ---- transport callbacks -------------------------------------------- */

/* Credentials: token over HTTPS, key over SSH; one try, then fail fast. */
static int
gitstore_credentials(git_credential **cred, const char *url,
                     const char *username_from_url, unsigned int allowed,
                     void *payload)
{
    struct gitstore *gs = payload;
    const struct config_git *g = gs->git;
    const char *user;
    char *pub = NULL;
    int rc;

    (void)url;
    if (++gs->auth_tries > GITSTORE_MAX_AUTH_TRIES) {
        gs->auth_failed = true;
        git_error_set_str(GIT_ERROR_NET, "credentials refused");
        return GIT_EAUTH;
    }
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) && g->ssh_key != NULL) {
        user = username_from_url != NULL ? username_from_url
                                         : g->username != NULL ? g->username : "git";
        pub = g->ssh_public_key != NULL ? xstrdup(g->ssh_public_key)
                                        : xasprintf("%s.pub", g->ssh_key);
        if (access(pub, R_OK) != 0) {
            free(pub);
            pub = NULL;
        }
        rc = git_credential_ssh_key_new(cred, user, pub, g->ssh_key,
                                        g->ssh_passphrase != NULL ? g->ssh_passphrase : "");
        free(pub);
        return rc;
    }
    if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && g->password != NULL) {
        user = g->username != NULL ? g->username
               : username_from_url != NULL ? username_from_url : "x-access-token";
        return git_credential_userpass_plaintext_new(cred, user, g->password);
    }
    if (allowed & GIT_CREDENTIAL_USERNAME) {
        return git_credential_username_new(cred, username_from_url != NULL
                                                     ? username_from_url : "git");
    }
    gs->auth_failed = true;
    git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials and none are configured");
    return GIT_EAUTH;
}

/* base64 of data, without padding (as ssh-keygen prints SHA256 fingerprints). */
static char *
gitstore_b64(const unsigned char *data, size_t len, bool pad)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

    while (!pad && n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    return out;
}

/* The host as known_hosts names it: host, or [host]:port. */
static char *
gitstore_known_host_name(const char *url)
{
    const char *p = strstr(url, "://"), *host, *end, *colon;
    char *h;

    if (p != NULL) {
        host = p + 3;
        end = host + strcspn(host, "/");
        if (memchr(host, '@', (size_t)(end - host)) != NULL)
            host = (const char *)memchr(host, '@', (size_t)(end - host)) + 1;
        colon = memchr(host, ':', (size_t)(end - host));
        if (colon != NULL && strcmp(url, "") != 0 && strtol(colon + 1, NULL, 10) != 22)
            return xasprintf("[%.*s]:%.*s", (int)(colon - host), host,
                             (int)(end - colon - 1), colon + 1);
        return xstrndup(host, (size_t)((colon != NULL ? colon : end) - host));
    }
    /* scp-like user@host:path */
    host = strchr(url, '@') != NULL ? strchr(url, '@') + 1 : url;
    end = strchr(host, ':');
    h = end != NULL ? xstrndup(host, (size_t)(end - host)) : xstrdup(host);
    return h;
}

/* True if pattern (plain, comma list, or |1|salt|hash) names host. */
static bool
gitstore_host_matches(const char *pattern, const char *host)
{
    unsigned char salt[64], hash[64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *p, *tok, *save = NULL, *s, *h;
    bool hit = false;
    int sl, hl;

    if (strncmp(pattern, "|1|", 3) == 0) {
        s = xstrdup(pattern + 3);
        h = strchr(s, '|');
        if (h == NULL) {
            free(s);
            return false;
        }
        *h++ = '\0';
        sl = EVP_DecodeBlock(salt, (const unsigned char *)s, (int)strlen(s));
        hl = EVP_DecodeBlock(hash, (const unsigned char *)h, (int)strlen(h));
        free(s);
        if (sl < 20 || hl < 20)
            return false;
        HMAC(EVP_sha1(), salt, 20, (const unsigned char *)host, strlen(host), mac, &maclen);
        return maclen == 20 && CRYPTO_memcmp(mac, hash, 20) == 0;
    }
    p = xstrdup(pattern);
    for (tok = strtok_r(p, ",", &save); tok != NULL && !hit; tok = strtok_r(NULL, ",", &save))
        hit = strcmp(tok, host) == 0;
    free(p);
    return hit;
}

/* True if the known_hosts file lists this raw host key for host. */
static bool
gitstore_known_hosts_ok(const char *file, const char *host,
                        const unsigned char *key, size_t keylen)
{
    char *data = NULL, *line, *save = NULL, *b64, *e = NULL;
    char hostf[1024], type[128], keyf[8192];
    bool ok = false;
    size_t len;

    if (read_file(file, 1 << 20, &data, &len, &e) != 0) {
        free(e);
        return false;
    }
    b64 = gitstore_b64(key, keylen, true);
    for (line = strtok_r(data, "\n", &save); line != NULL && !ok;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '@')
            continue;
        if (sscanf(line, "%1023s %127s %8191s", hostf, type, keyf) != 3)
            continue;
        ok = gitstore_host_matches(hostf, host) && strcmp(keyf, b64) == 0;
    }
    free(b64);
    free(data);
    return ok;
}

/* Host keys (SSH) and certificates (HTTPS). */
static int
gitstore_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
    struct gitstore *gs = payload;
    const struct config_git *g = gs->git;
    git_cert_hostkey *hk;
    char *fp, *kh, *name;
    const char *pin;
    bool ok;

    (void)host;
    if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
        /* TLS: libgit2 verified the chain; refuse unless told not to. */
        if (valid || !g->tls_verify)
            return 0;
        git_error_set_str(GIT_ERROR_SSL, "the server's TLS certificate is not trusted");
        return GIT_ECERTIFICATE;
    }
    if (g->insecure_skip_host_key_check)
        return 0;
    hk = (git_cert_hostkey *)cert;
    if (g->host_key_fingerprint != NULL) {
        if (!(hk->type & GIT_CERT_SSH_SHA256))
            goto refuse;
        fp = gitstore_b64(hk->hash_sha256, 32, false);
        pin = g->host_key_fingerprint;
        if (strncmp(pin, "SHA256:", 7) == 0)
            pin += 7;
        ok = strncmp(fp, pin, strlen(fp)) == 0 && strlen(fp) == strcspn(pin, "=");
        free(fp);
        if (ok)
            return 0;
        goto refuse;
    }
    if (!(hk->type & GIT_CERT_SSH_RAW))
        goto refuse;
    kh = g->known_hosts != NULL ? xstrdup(g->known_hosts)
         : xasprintf("%s/.ssh/known_hosts", getenv("HOME") ? getenv("HOME") : "/root");
    name = gitstore_known_host_name(gs->url);
    ok = gitstore_known_hosts_ok(kh, name, (const unsigned char *)hk->hostkey, hk->hostkey_len);
    free(kh);
    free(name);
    if (ok)
        return 0;
refuse:
    gs->hostkey_refused = true;
    git_error_set_str(GIT_ERROR_SSH, "unknown SSH host key (add it to known_hosts or pin host_key_fingerprint)");
    return GIT_ECERTIFICATE;
}

/* Abort a transfer that runs past the configured timeout. */
static int
gitstore_transfer_progress(const git_indexer_progress *stats, void *payload)
{
    struct gitstore *gs = payload;

    (void)stats;
    if (gs->deadline > 0 && now_mono() > gs->deadline) {
        git_error_set_str(GIT_ERROR_NET, "timed out");
        return -1;
    }
    return 0;
}

/* The server's answer for each pushed ref: non-NULL status is a refusal. */
static int
gitstore_push_update(const char *refname, const char *status, void *payload)
{
    struct gitstore *gs = payload;

    (void)refname;
    if (status != NULL) {
        free(gs->push_status);
        gs->push_status = xstrdup(status);
        return -1;
    }
    return 0;
}

/* Callbacks shared by fetch and push. */
static void
gitstore_callbacks(struct gitstore *gs, git_remote_callbacks *cb)
{
    git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
    cb->credentials = gitstore_credentials;
    cb->certificate_check = gitstore_certificate;
    cb->transfer_progress = gitstore_transfer_progress;
    cb->push_update_reference = gitstore_push_update;
    cb->payload = gs;
    gs->auth_tries = 0;
    gs->auth_failed = false;
    gs->hostkey_refused = false;
    free(gs->push_status);
    gs->push_status = NULL;
    gs->deadline = gs->git->timeout_ms > 0 ? now_mono() + (double)gs->git->timeout_ms / 1000 : 0;
}

/* Classify a failed transfer. */
static enum gitstore_result
gitstore_classify(struct gitstore *gs, int rc)
{
    const git_error *e = git_error_last();

    if (rc == GIT_ENONFASTFORWARD)
        return GITSTORE_NONFASTFORWARD;
    if (rc == GIT_EAUTH || gs->auth_failed)
        return GITSTORE_AUTH;
    if (e != NULL && e->message != NULL &&
        (strstr(e->message, "authentication") != NULL || strstr(e->message, "401") != NULL ||
         strstr(e->message, "403") != NULL || strstr(e->message, "Permission denied") != NULL))
        return GITSTORE_AUTH;
    if (gs->hostkey_refused || rc == GIT_ECERTIFICATE)
        return GITSTORE_NETWORK;
    if (e != NULL && (e->klass == GIT_ERROR_NET || e->klass == GIT_ERROR_OS ||
                      e->klass == GIT_ERROR_SSL || e->klass == GIT_ERROR_SSH ||
                      e->klass == GIT_ERROR_HTTP || e->klass == GIT_ERROR_REPOSITORY))
        return GITSTORE_NETWORK;
    return GITSTORE_ERROR;
}

/*
 * A fetch that finds the branch gone prunes its tracking ref: keep the
 * head it named in GITSTORE_LOST_REF (its objects stay reachable, and
 * gitstore_restore_branch builds on it); once the branch is back, forget
 * it.  last is the tracking ref's target before the fetch, or NULL.
 */
static void
gitstore_keep_lost_head(struct gitstore *gs, bool exists, const git_oid *last)
{
    git_reference *r = NULL;
    char hex[GIT_OID_HEXSZ + 1];

    if (exists) {
        if (git_reference_lookup(&r, gs->repo, GITSTORE_LOST_REF) == 0) {
            (void)git_reference_delete(r);
            git_reference_free(r);
        }
        return;
    }
    if (last == NULL)
        return;
    git_oid_tostr(hex, sizeof hex, last);
    if (git_reference_create(&r, gs->repo, GITSTORE_LOST_REF, last, 1, "gitsyncd: branch gone") != 0) {
        log_error("the branch is gone from the remote and its last head cannot be kept", "mirror", gs->path,
                  "branch", gs->branch_ref, "head", hex, "error", gitstore_giterr());
        return;
    }
    git_reference_free(r);
    log_warn("the branch is gone from the remote; its last head is kept in " GITSTORE_LOST_REF, "mirror",
             gs->path, "branch", gs->branch_ref, "head", hex);
}

static char *gitstore_local_path(const char *url);

/*
 * Transfers to one local (file://) remote from several processes (a
 * cluster's replicas on one machine, serve beside a sync --once on
 * another state_dir): a push stages its objects under a ref of its own
 * there (gitstore_push), and another process's listing of the remote's
 * refs that names that ref and then misses it, removed meanwhile, fails
 * the whole transfer (and libgit2 1.5 leaks on that path).  An flock(2)
 * on <remote>/gitsyncd-transfer.lock orders them: shared while listing
 * (fetch, read back), exclusive while a push makes and removes its
 * staging ref.  Remotes that are not local take none.  Returns the
 * descriptor to give to gitstore_transfer_unlock, or -1.
 */
static int
gitstore_transfer_lock(struct gitstore *gs, bool exclusive)
{
    char *local = gitstore_local_path(gs->url), *path;
    int fd;

    if (local == NULL)
        return -1;
    path = xasprintf("%s/gitsyncd-transfer.lock", local);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fd = open(path, O_RDONLY | O_CLOEXEC); /* a remote we may only read */
    if (fd >= 0) {
        while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 && errno == EINTR)
            ;
    }
    free(path);
    free(local);
    return fd;
}

static void
gitstore_transfer_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* and with it the lock */
}

enum gitstore_result
gitstore_fetch_ref(struct gitstore *gs, const char *remote_ref,
                   const char *local_ref, char **err)
{
    git_fetch_options fo;
    git_remote *remote = NULL;
    git_strarray fspecs;
    char *fspec;
    enum gitstore_result r;
    int rc;
    int lock = -1;

    if (gitstore_refresh(gs, err) != 0 || gitstore_remote(gs, &remote, err) != 0)
        return GITSTORE_ERROR;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    gitstore_callbacks(gs, &fo.callbacks);
    fo.prune = GIT_FETCH_NO_PRUNE;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fspec = xasprintf("+%s:%s", remote_ref, local_ref);
    fspecs.strings = &fspec;
    fspecs.count = 1;
    lock = gitstore_transfer_lock(gs, false);
    rc = git_remote_fetch(remote, &fspecs, &fo, "gitsyncd: fetch for a check");
    gitstore_transfer_unlock(lock);
    free(fspec);
    git_remote_free(remote);
    log_debug("fetch", "mirror", gs->path, "url", gs->safe_url, "ref", remote_ref,
              "result", rc == 0 ? "ok" : gitstore_giterr());
    if (rc == 0)
        return GITSTORE_OK;
    r = gitstore_classify(gs, rc);
    set_error(err, "fetch %s from %s: %s%s", remote_ref, gs->safe_url, gitstore_giterr(),
              r == GITSTORE_AUTH ? " (check the token or key)" : "");
    return r;
}

enum gitstore_result
gitstore_fetch(struct gitstore *gs, git_oid *head, bool *exists, char **err)
{
    git_fetch_options fo;
    git_oid last;
    bool had;
    git_remote *remote = NULL;
    git_reference *ref = NULL;
    git_strarray fspecs;
    char *fspec;
    enum gitstore_result r;
    int rc;
    int lock = -1;

    *exists = false;
    memset(head, 0, sizeof *head);
    if (gitstore_refresh(gs, err) != 0)
        return GITSTORE_ERROR;
    had = git_reference_name_to_id(&last, gs->repo, gs->tracking_ref) == 0;
    if (gitstore_remote(gs, &remote, err) != 0)
        return GITSTORE_ERROR;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    gitstore_callbacks(gs, &fo.callbacks);
    fo.prune = GIT_FETCH_PRUNE;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    fspec = xasprintf("+%s:%s", gs->branch_ref, gs->tracking_ref);
    fspecs.strings = &fspec;
    fspecs.count = 1;
    lock = gitstore_transfer_lock(gs, false);
    rc = git_remote_fetch(remote, &fspecs, &fo, "gitsyncd: fetch");
    if (rc != 0) {
        /* A ref that names an object the mirror lacks makes the fetch
         * leave that object out: repair, and fetch again if it did. */
        const git_error *e = git_error_last();
        int klass = e != NULL ? e->klass : GIT_ERROR_NONE;
        char *msg = e != NULL && e->message != NULL ? xstrdup(e->message) : NULL;

        if (gitstore_repair(gs) > 0) {
            gitstore_callbacks(gs, &fo.callbacks);
            rc = git_remote_fetch(remote, &fspecs, &fo, "gitsyncd: fetch");
        } else if (msg != NULL) {
            git_error_set_str(klass, msg); /* the fetch's own error */
        }
        free(msg);
    }
    gitstore_transfer_unlock(lock);
    free(fspec);
    git_remote_free(remote);
    log_debug("fetch", "mirror", gs->path, "url", gs->safe_url, "result", rc == 0 ? "ok" : gitstore_giterr());
    if (rc != 0) {
        r = gitstore_classify(gs, rc);
        set_error(err, "fetch from %s: %s%s", gs->safe_url, gitstore_giterr(),
                  r == GITSTORE_AUTH ? " (check the token or key)" : "");
        return r;
    }
    if (git_reference_lookup(&ref, gs->repo, gs->tracking_ref) == 0) {
        git_reference *resolved = NULL;

        if (git_reference_resolve(&resolved, ref) == 0) {
            git_oid_cpy(head, git_reference_target(resolved));
            *exists = true;
        }
        git_reference_free(resolved);
        git_reference_free(ref);
    }
    gitstore_keep_lost_head(gs, *exists, had ? &last : NULL);
    return GITSTORE_OK;
}

/* The path of a local (file://) remote, or NULL for a network one. */
static char *
gitstore_local_path(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return xstrdup(url + 7);
    if (url[0] == '/')
        return xstrdup(url);
    return NULL;
}

/*
 * A ref update holds its lock for microseconds; a lock file older than
 * GITSTORE_STALE_LOCK seconds was left by a process killed while holding
 * it (gitsyncd under kill -9, or git itself).  Remove it, say so, and
 * return true; false when the lock is fresh or gone.
 */
static bool
gitstore_stale_lock(const char *repo, const char *ref)
{
    struct stat st;
    char *lock = xasprintf("%s/%s.lock", repo, ref);
    bool stale = stat(lock, &st) == 0 && time(NULL) - st.st_mtime > GITSTORE_STALE_LOCK;

    if (stale) {
        if (unlink(lock) == 0)
            log_warn("removed a stale lock left by a push that was killed", "file", lock);
        else
            stale = false;
    }
    free(lock);
    return stale;
}

/*
 * Move ref in a local remote from expected to commit under the ref's lock
 * (compare-and-swap), as receive-pack would.  libgit2's local transport
 * writes the ref without checking that it still holds what was fetched,
 * so a push racing another could overwrite it; this cannot.
 */
static enum gitstore_result
gitstore_local_cas(struct gitstore *gs, const char *path, const char *ref,
                   const git_oid *commit, const git_oid *expected, char **err)
{
    git_repository *remote = NULL;
    git_reference *r = NULL;
    enum gitstore_result res = GITSTORE_OK;
    int rc = 0, attempt;

    if (git_repository_open_bare(&remote, path) != 0) {
        set_error(err, "push to %s: %s", gs->safe_url, gitstore_giterr());
        return GITSTORE_NETWORK;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        if (expected == NULL)
            rc = git_reference_create(&r, remote, ref, commit, 1, "gitsyncd: push (forced)");
        else if (git_oid_is_zero(expected))
            rc = git_reference_create(&r, remote, ref, commit, 0, "gitsyncd: push");
        else
            rc = git_reference_create_matching(&r, remote, ref, commit, 1, expected, "gitsyncd: push");
        if (rc != GIT_ELOCKED || !gitstore_stale_lock(path, ref))
            break;
    }
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS) {
        set_error(err, "push to %s %s: the remote moved since it was fetched", gs->safe_url, ref);
        res = GITSTORE_NONFASTFORWARD;
    } else if (rc == GIT_ELOCKED) {
        set_error(err, "push to %s %s: the ref is locked by another push", gs->safe_url, ref);
        res = GITSTORE_NONFASTFORWARD;
    } else if (rc != 0) {
        set_error(err, "push to %s %s: %s", gs->safe_url, ref, gitstore_giterr());
        res = GITSTORE_ERROR;
    }
    git_reference_free(r);
    git_repository_free(remote);
    return res;
}

/*
 * Pushes to a local remote stage their objects under
 * refs/gitsyncd/incoming/<pid>-<id>, removed after the swap.  A push
 * killed in between leaves its staging ref behind, and with it objects
 * the remote keeps forever.  Remove those whose process is gone; a live
 * process's (this one's other workers, another gitsyncd) are left alone.
 */

static void
gitstore_sweep_staging(git_repository *remote, const char *path)
{
    struct gitstore_names names = { NULL, 0 };
    const char *tail;
    char *end;
    long pid;
    size_t i;
    bool listed;

    listed = git_reference_foreach_glob(remote, "refs/gitsyncd/incoming/*",
                                        gitstore_collect_name, &names) == 0;
    for (i = 0; listed && i < names.n; i++) {
        tail = names.v[i] + strlen("refs/gitsyncd/incoming/");
        errno = 0;
        pid = strtol(tail, &end, 10);
        if (errno != 0 || end == tail || *end != '-' || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (git_reference_remove(remote, names.v[i]) == 0)
            log_warn("removed a staging ref left by a push that was killed", "remote", path,
                     "ref", names.v[i]);
    }
    for (i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
}

/*
 * Crash tests stop the process at a named moment (GITSYNCD_TEST_STOP=name)
 * and kill it there: a kill aimed at one instruction, not a random one.
 */
static void
gitstore_test_stop(const char *moment)
{
    const char *v = getenv("GITSYNCD_TEST_STOP");

    if (v != NULL && strcmp(v, moment) == 0) {
        log_warn("test hook: stopping the process", "moment", moment);
        raise(SIGSTOP);
    }
}

/* The push's source ref names a commit that may be held only in memory:
 * it lives no longer than the push. */
static void
gitstore_drop_push_ref(struct gitstore *gs)
{
    git_reference *r = NULL;

    if (git_reference_lookup(&r, gs->repo, GITSTORE_PUSH_REF) == 0) {
        (void)git_reference_delete(r);
        git_reference_free(r);
    }
}

/*
 * A refused push: what was built may be rebuilt on the new head (its
 * blobs are reused), so it is written out rather than dropped; an error
 * doing so is logged, the push's own error is what the caller reports.
 */
static void
gitstore_flush_after_push(struct gitstore *gs)
{
    char *err = NULL;

    gitstore_drop_push_ref(gs);
    if (gitstore_flush(gs, &err) != 0) {
        log_error("cannot write new objects to the mirror", "mirror", gs->path, "error", err);
        free(err);
    }
}

/* What ref names on the remote now (*exists false: no such ref). */
static int
gitstore_remote_ref(struct gitstore *gs, const char *ref, git_oid *oid, bool *exists, char **err)
{
    git_remote_callbacks cb;
    const git_remote_head **heads;
    git_remote *remote = NULL;
    size_t n, i;
    int rc = -1, lock;

    *exists = false;
    if (gitstore_remote(gs, &remote, err) != 0)
        return -1;
    gitstore_callbacks(gs, &cb);
    lock = gitstore_transfer_lock(gs, false);
    if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) != 0 ||
        git_remote_ls(&heads, &n, remote) != 0) {
        set_error(err, "cannot read %s back from %s: %s", ref, gs->safe_url, gitstore_giterr());
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(heads[i]->name, ref) == 0) {
            git_oid_cpy(oid, &heads[i]->oid);
            *exists = true;
            break;
        }
    }
    rc = 0;
out:
    git_remote_disconnect(remote);
    gitstore_transfer_unlock(lock);
    git_remote_free(remote);
    return rc;
}

/*
 * A push is done when the remote says so (DESIGN §4.1): read the ref back.
 * It names the pushed commit: done, whatever the transfer answered (a
 * timeout after the server took it, a local error).  It does not, after an
 * "ok": the server did not do what it said (refused).  Unreadable after an
 * "ok": not known to be done (network).  r is the transfer's result.
 */
static enum gitstore_result
gitstore_push_confirm(struct gitstore *gs, const char *dst, const git_oid *commit,
                      enum gitstore_result r, char **err)
{
    char have[GIT_OID_HEXSZ + 1], want[GIT_OID_HEXSZ + 1], *e2 = NULL;
    git_oid now;
    bool exists;

    git_oid_tostr(want, sizeof want, commit);
    if (gitstore_remote_ref(gs, dst, &now, &exists, &e2) != 0) {
        if (r == GITSTORE_OK) {
            free(*err);
            *err = e2;
            return GITSTORE_NETWORK;
        }
        free(e2);
        return r;
    }
    if (exists && git_oid_equal(&now, commit)) {
        if (r != GITSTORE_OK) {
            log_warn("the push reported an error, but the remote holds the pushed commit: done", "remote",
                     gs->safe_url, "ref", dst, "commit", want, "error", *err);
            free(*err);
            *err = NULL;
        }
        return GITSTORE_OK;
    }
    if (r == GITSTORE_OK) {
        if (exists)
            git_oid_tostr(have, sizeof have, &now);
        set_error(err, "push to %s: the server answered ok, but %s points at %s, not the pushed %s",
                  gs->safe_url, dst, exists ? have : "nothing", want);
        return GITSTORE_REJECTED;
    }
    return r;
}

enum gitstore_result
gitstore_push(struct gitstore *gs, const char *ref, const git_oid *commit,
              const git_oid *expected, char **err)
{
    git_push_options po;
    git_remote *remote = NULL;
    git_reference *lr = NULL;
    enum gitstore_result r;
    const char *dst = ref != NULL ? ref : gs->branch_ref;
    char *spec, *local, *staging = NULL;
    char *specs[1];
    git_strarray arr = { specs, 1 };
    int rc;
    int lock = -1;

    if (gitstore_refresh(gs, err) != 0)
        return GITSTORE_ERROR;
    /* Objects before any ref that names them, the push's own ref
     * included: a kill -9 at any later instruction leaves a mirror whose
     * refs all name objects it has. */
    if (gitstore_flush(gs, err) != 0)
        return GITSTORE_ERROR;
    if (git_reference_create(&lr, gs->repo, GITSTORE_PUSH_REF, commit, 1, "gitsyncd: push") != 0) {
        /* Only a push writes that ref, one at a time per mirror (one
         * process per state_dir, one job per workspace): a lock file on it
         * now was left by a process killed in the middle of one. */
        char *lockfile = xasprintf("%s/" GITSTORE_PUSH_REF ".lock", gs->path);

        if (unlink(lockfile) == 0)
            log_warn("removed the lock file of a push that was killed", "file", lockfile);
        free(lockfile);
        if (git_reference_create(&lr, gs->repo, GITSTORE_PUSH_REF, commit, 1, "gitsyncd: push") != 0) {
            gitstore_fail(err, "cannot prepare the push");
            return GITSTORE_ERROR;
        }
    }
    git_reference_free(lr);
    local = gitstore_local_path(gs->url);
    if (local != NULL) {
        /* Local remote: send the objects to a ref of our own, then swap. */
        staging = xasprintf("refs/gitsyncd/incoming/%ld-%p", (long)getpid(), (void *)gs);
        spec = xasprintf("+%s:%s", GITSTORE_PUSH_REF, staging);
    } else {
        /* Without "+", the server and libgit2 refuse anything but a
         * fast-forward of what the remote holds. */
        spec = xasprintf("%s%s:%s", expected == NULL ? "+" : "", GITSTORE_PUSH_REF, dst);
    }
    specs[0] = spec;
    if (gitstore_remote(gs, &remote, err) != 0) {
        free(spec);
        free(local);
        free(staging);
        gitstore_drop_push_ref(gs);
        return GITSTORE_ERROR;
    }
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    gitstore_callbacks(gs, &po.callbacks);
    po.pb_parallelism = 0; /* delta search on every core, not one */
    lock = gitstore_transfer_lock(gs, true);
    rc = git_remote_push(remote, &arr, &po);
    git_remote_free(remote);
    log_debug("push", "mirror", gs->path, "url", gs->safe_url, "ref", dst,
              "result", rc != 0 ? gitstore_giterr() : gs->push_status != NULL ? gs->push_status : "ok");
    free(spec);
    if (rc != 0 || gs->push_status != NULL) {
        if (gs->push_status != NULL) {
            const char *s = gs->push_status;

            if (strstr(s, "non-fast-forward") != NULL || strstr(s, "fetch first") != NULL ||
                strstr(s, "stale") != NULL || strstr(s, "already exists") != NULL)
                r = GITSTORE_NONFASTFORWARD;
            else
                r = GITSTORE_REJECTED;
            set_error(err, "push to %s %s refused by the server: %s", gs->safe_url, dst, s);
        } else {
            r = gitstore_classify(gs, rc);
            set_error(err, "push to %s %s: %s", gs->safe_url, dst, gitstore_giterr());
        }
    } else if (local != NULL) {
        r = gitstore_local_cas(gs, local, dst, commit, expected, err);
    } else {
        r = GITSTORE_OK;
    }
    if (local != NULL) {
        /* The staging ref has done its job either way. */
        git_repository *rr = NULL;

        if (git_repository_open_bare(&rr, local) == 0) {
            git_reference_remove(rr, staging);
            gitstore_sweep_staging(rr, local);
            git_repository_free(rr);
        }
    }
    gitstore_transfer_unlock(lock);
    free(local);
    free(staging);
    /* Done when the remote says so, whatever the transfer answered. */
    r = gitstore_push_confirm(gs, dst, commit, r, err);
    if (r != GITSTORE_OK) {
        gitstore_flush_after_push(gs);
        return r;
    }
    gitstore_test_stop("push-landed");
    /* The mirror has the pushed objects (written before the push), so the
     * tracking ref may name the commit; the push is done in any case. */
    gitstore_flush_after_push(gs);
    if (ref == NULL || strcmp(ref, gs->branch_ref) == 0) {
        if (git_reference_create(&lr, gs->repo, gs->tracking_ref, commit, 1,
                                 "gitsyncd: pushed") == 0)
            git_reference_free(lr);
    }
    return GITSTORE_OK;
}

enum gitstore_result
gitstore_restore_branch(struct gitstore *gs, git_oid *head, char **err)
{
    static const git_oid zero;
    struct gitstore_delta *d = NULL;
    struct gitstore_change *ch;
    git_oid remote, base, lost;
    enum gitstore_result r;
    bool exists, has_base;
    char hex[GIT_OID_HEXSZ + 1], *msg;
    size_t n = 0, i;
    int rc;

    if ((r = gitstore_fetch(gs, &remote, &exists, err)) != GITSTORE_OK)
        return r;
    if (exists) {
        set_error(err, "the branch %s exists on %s: nothing to restore", gs->branch_ref + 11, gs->safe_url);
        return GITSTORE_ERROR;
    }
    if (gitstore_base_get(gs, &base, &has_base, err) != 0)
        return GITSTORE_ERROR;
    if (!has_base) {
        set_error(err, "the mirror %s has no base: nothing to restore (a first sync imports the platform)",
                  gs->path);
        return GITSTORE_ERROR;
    }
    if (git_reference_name_to_id(&lost, gs->repo, GITSTORE_LOST_REF) != 0) {
        set_error(err, "the mirror %s does not know the branch's last head (no " GITSTORE_LOST_REF
                       "): push the branch back by hand", gs->path);
        return GITSTORE_ERROR;
    }
    if (gitstore_diff(gs, &lost, &base, &d, &n, err) != 0)
        return GITSTORE_ERROR;
    if (n == 0) {
        /* The last head holds the base already: it is the branch. */
        git_oid_cpy(head, &lost);
    } else {
        ch = xcalloc(n, sizeof *ch);
        for (i = 0; i < n; i++) {
            ch[i].folder = d[i].folder;
            ch[i].slug = d[i].slug;
            ch[i].blob = d[i].type == GITSTORE_DELETED ? NULL : &d[i].new_blob;
        }
        msg = xasprintf("Restore %s from gitsyncd's base\n\n"
                        "The branch was deleted on the remote.  This puts back the resources\n"
                        "that the platform and Git last agreed on, on top of its last head.\n\n"
                        "Gitsyncd-Event: restore-branch\n", gs->branch_ref + 11);
        rc = gitstore_commit_many(gs, &lost, ch, n, msg, head, err);
        free(msg);
        free(ch);
        if (rc != 0) {
            gitstore_deltas_free(d, n);
            return GITSTORE_ERROR;
        }
    }
    gitstore_deltas_free(d, n);
    /* Expected zero: if someone pushed the branch meanwhile, theirs stays. */
    r = gitstore_push(gs, NULL, head, &zero, err);
    if (r != GITSTORE_OK)
        return r;
    gitstore_keep_lost_head(gs, true, NULL);
    log_info("restored the branch from the base", "mirror", gs->path, "branch", gs->branch_ref,
             "head", git_oid_tostr(hex, sizeof hex, head));
    return GITSTORE_OK;
}

enum gitstore_result
gitstore_push_delete(struct gitstore *gs, const char *ref, char **err)
{
    git_push_options po;
    git_remote *remote = NULL;
    git_repository *rr = NULL;
    git_reference *r = NULL;
    enum gitstore_result res = GITSTORE_OK;
    char *spec, *local, *specs[1];
    git_strarray arr = { specs, 1 };
    int rc;
    int lock = -1;

    local = gitstore_local_path(gs->url);
    if (local != NULL) {
        /* A local remote: remove the ref there (absent is done), not
         * while another process lists its refs. */
        if (git_repository_open_bare(&rr, local) != 0) {
            set_error(err, "%s: cannot open: %s", gs->safe_url, gitstore_giterr());
            free(local);
            return GITSTORE_ERROR;
        }
        lock = gitstore_transfer_lock(gs, true);
        rc = git_reference_lookup(&r, rr, ref);
        if (rc == 0 && git_reference_delete(r) != 0) {
            set_error(err, "%s: cannot delete %s: %s", gs->safe_url, ref, gitstore_giterr());
            res = GITSTORE_ERROR;
        }
        gitstore_transfer_unlock(lock);
        git_reference_free(r);
        git_repository_free(rr);
        free(local);
        return res;
    }
    if (gitstore_remote(gs, &remote, err) != 0)
        return GITSTORE_ERROR;
    spec = xasprintf(":%s", ref);
    specs[0] = spec;
    git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
    gitstore_callbacks(gs, &po.callbacks);
    rc = git_remote_push(remote, &arr, &po);
    git_remote_free(remote);
    free(spec);
    if (gs->push_status != NULL) {
        set_error(err, "delete %s on %s refused by the server: %s", ref, gs->safe_url, gs->push_status);
        return GITSTORE_REJECTED;
    }
    if (rc != 0) {
        res = gitstore_classify(gs, rc);
        set_error(err, "delete %s on %s: %s", ref, gs->safe_url, gitstore_giterr());
    }
    return res;
}
