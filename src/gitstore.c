/* gitstore: the workspace's bare mirror, and every call into libgit2. */
#include "autoconfig.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#define GITSTORE_BASE_REF "refs/gitsyncd/base"
#define GITSTORE_PUSH_REF "refs/gitsyncd/push"
/* The branch's last head, kept when the branch disappears from the remote. */
#define GITSTORE_LOST_REF "refs/gitsyncd/lost-head"
/* Repack the mirror past this many packs or (estimated) loose objects. */
#define GITSTORE_MAX_PACKS 16
#define GITSTORE_MAX_LOOSE 4096
#define GITSTORE_MAX_AUTH_TRIES 1
#define GITSTORE_CACHE_BYTES (4 * 1024 * 1024)
/* New objects kept in memory past this many bytes are written out. */
#define GITSTORE_WB_BYTES ((size_t)256 * 1024 * 1024)
#define GITSTORE_STALE_LOCK 5
/* How deep under refs/ lock files are looked for. */
#define GITSTORE_LOCK_DEPTH 16

/*
 * Write-back: the objects gitsyncd creates (blobs, trees, commits) go to
 * memory first (libgit2's mempack, behind this backend, which remembers
 * what was written) and reach the mirror's object directory when
 * gitstore_flush() writes them out as loose objects: after a push has
 * put them on the remote, before a ref of the mirror may name them, and
 * when they pass GITSTORE_WB_BYTES.  A chain of commits on a large folder
 * then costs no deflate and no read-back inflate per commit.
 */
struct gitstore_wb {
    git_odb_backend parent;
    git_odb_backend *mem;
    git_oid *ids;
    size_t n, cap;
    size_t bytes;
};

struct gitstore {
    git_repository *repo;
    struct gitstore_wb *wb; /* owned by repo's object database */
    git_odb_backend *loose; /* where gitstore_flush writes */
    char *path;
    char *url;           /* with credentials, as configured */
    char *safe_url;      /* without credentials, for messages */
    char *branch_ref;    /* refs/heads/<branch> */
    char *tracking_ref;  /* refs/remotes/origin/<branch> */
    char *subpath;       /* "" or "dir/" */
    const struct config_git *git;
    char **folders;
    size_t nfolders;
    /* per operation */
    int auth_tries;
    bool auth_failed;
    bool hostkey_refused;
    char *push_status;   /* the server's reason for refusing a ref */
    double deadline;     /* monotonic time after which transfers abort */
    unsigned long epoch; /* the mirror's repack count when repo was opened */
};

/*
 * Repacks per mirror path.  A repack deletes pack files and loose objects
 * that another thread's git_repository of the same mirror may have listed;
 * jobs of one workspace never run at once, so each handle compares the
 * count before its next operation and reopens when it moved.
 */
struct gitstore_epoch {
    char *path;
    unsigned long n;
    struct gitstore_epoch *next;
};
static pthread_mutex_t gitstore_epoch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gitstore_epoch *gitstore_epochs;

static int gitstore_refresh(struct gitstore *gs, char **err);

/* A list of ref names. */
struct gitstore_names {
    char **v;
    size_t n;
};

/* The repack count of the mirror at path, after adding bump to it. */
static unsigned long
gitstore_epoch(const char *path, unsigned long bump)
{
    struct gitstore_epoch *e;
    unsigned long n;

    pthread_mutex_lock(&gitstore_epoch_lock);
    for (e = gitstore_epochs; e != NULL; e = e->next) {
        if (strcmp(e->path, path) == 0)
            break;
    }
    if (e == NULL) {
        e = xcalloc(1, sizeof *e);
        e->path = xstrdup(path);
        e->next = gitstore_epochs;
        gitstore_epochs = e;
    }
    e->n += bump;
    n = e->n;
    pthread_mutex_unlock(&gitstore_epoch_lock);
    return n;
}

/* libgit2's last error message, or a fallback. */
static const char *
gitstore_giterr(void)
{
    const git_error *e = git_error_last();

    return e != NULL && e->message != NULL ? e->message : "unknown libgit2 error";
}

/* Set *err to "what: libgit2's message". */
static int
gitstore_fail(char **err, const char *what)
{
    return set_error(err, "%s: %s", what, gitstore_giterr());
}

void
gitstore_free(struct gitstore *gs)
{
    size_t i;

    if (gs == NULL)
        return;
    /* Unflushed objects are named by no ref of the mirror: nothing lost. */
    git_repository_free(gs->repo);
    if (gs->loose != NULL)
        gs->loose->free(gs->loose);
    free(gs->path);
    free(gs->url);
    free(gs->safe_url);
    free(gs->branch_ref);
    free(gs->tracking_ref);
    free(gs->subpath);
    for (i = 0; i < gs->nfolders; i++)
        free(gs->folders[i]);
    free(gs->folders);
    free(gs->push_status);
    free(gs);
    git_libgit2_shutdown();
}

/* ---- write-back object backend ------------------------------------- */

static int
gitstore_wb_read(void **data, size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *id)
{
    struct gitstore_wb *wb = (struct gitstore_wb *)b;

    return wb->mem->read(data, len, type, wb->mem, id);
}

static int
gitstore_wb_read_header(size_t *len, git_object_t *type, git_odb_backend *b, const git_oid *id)
{
    struct gitstore_wb *wb = (struct gitstore_wb *)b;

    return wb->mem->read_header(len, type, wb->mem, id);
}

static int
gitstore_wb_exists(git_odb_backend *b, const git_oid *id)
{
    struct gitstore_wb *wb = (struct gitstore_wb *)b;

    return wb->mem->exists(wb->mem, id);
}

static int
gitstore_wb_write(git_odb_backend *b, const git_oid *id, const void *data, size_t len, git_object_t type)
{
    struct gitstore_wb *wb = (struct gitstore_wb *)b;
    int rc;

    if (wb->mem->exists(wb->mem, id))
        return 0;
    if ((rc = wb->mem->write(wb->mem, id, data, len, type)) != 0)
        return rc;
    if (wb->n == wb->cap) {
        wb->cap = wb->cap != 0 ? wb->cap * 2 : 256;
        wb->ids = xreallocarray(wb->ids, wb->cap, sizeof *wb->ids);
    }
    git_oid_cpy(&wb->ids[wb->n++], id);
    wb->bytes += len;
    return 0;
}

static void
gitstore_wb_free(git_odb_backend *b)
{
    struct gitstore_wb *wb = (struct gitstore_wb *)b;

    wb->mem->free(wb->mem);
    free(wb->ids);
    free(wb);
}

/* Put a write-back backend in front of gs->repo's object database. */
static int
gitstore_attach(struct gitstore *gs, char **err)
{
    struct gitstore_wb *wb = xcalloc(1, sizeof *wb);
    git_odb *odb = NULL;

    gs->wb = NULL;
    if (git_odb_init_backend(&wb->parent, GIT_ODB_BACKEND_VERSION) != 0 || git_mempack_new(&wb->mem) != 0) {
        free(wb);
        return gitstore_fail(err, "cannot set up the object store");
    }
    wb->parent.read = gitstore_wb_read;
    wb->parent.read_header = gitstore_wb_read_header;
    wb->parent.exists = gitstore_wb_exists;
    wb->parent.write = gitstore_wb_write;
    wb->parent.free = gitstore_wb_free;
    /* Ahead of the loose (1) and pack (2) backends, for reads and writes. */
    if (git_repository_odb(&odb, gs->repo) != 0 || git_odb_add_backend(odb, &wb->parent, 10) != 0) {
        git_odb_free(odb);
        gitstore_wb_free(&wb->parent);
        return gitstore_fail(err, "cannot set up the object store");
    }
    git_odb_free(odb);
    gs->wb = wb;
    return 0;
}

/* Write the objects held in memory to the mirror as loose objects. */
static int
gitstore_flush(struct gitstore *gs, char **err)
{
    struct gitstore_wb *wb = gs->wb;
    git_object_t type;
    size_t i, len;
    void *data;
    char hex[GIT_OID_HEXSZ + 1];

    if (wb == NULL || wb->n == 0)
        return 0;
    for (i = 0; i < wb->n; i++) {
        if (wb->mem->read(&data, &len, &type, wb->mem, &wb->ids[i]) != 0)
            return set_error(err, "cannot write object %s to the mirror %s: %s",
                             git_oid_tostr(hex, sizeof hex, &wb->ids[i]), gs->path, gitstore_giterr());
        if (gs->loose->write(gs->loose, &wb->ids[i], data, len, type) != 0) {
            git_odb_backend_data_free(wb->mem, data);
            return set_error(err, "cannot write object %s to the mirror %s: %s",
                             git_oid_tostr(hex, sizeof hex, &wb->ids[i]), gs->path, gitstore_giterr());
        }
        git_odb_backend_data_free(wb->mem, data);
    }
    git_mempack_reset(wb->mem);
    wb->n = 0;
    wb->bytes = 0;
    return 0;
}

/* Replace gs->repo with repo, keeping what is held in memory. */
static int
gitstore_swap_repo(struct gitstore *gs, git_repository *repo, char **err)
{
    if (gitstore_flush(gs, err) != 0) {
        git_repository_free(repo);
        return -1;
    }
    git_repository_free(gs->repo);
    gs->repo = repo;
    return gitstore_attach(gs, err);
}

git_repository *
gitstore_repo(struct gitstore *gs)
{
    char *err = NULL;

    if (gitstore_refresh(gs, &err) != 0) {
        log_error("cannot reopen the mirror", "mirror", gs->path, "error", err);
        free(err);
    }
    return gs->repo;
}

void
gitstore_release(struct gitstore *gs)
{
    char *err = NULL;

    if (gs == NULL || gs->repo == NULL)
        return;
    if (gitstore_flush(gs, &err) != 0) {
        /* Keep it open: what is held in memory must not be lost. */
        log_error("cannot write new objects to the mirror", "mirror", gs->path, "error", err);
        free(err);
        return;
    }
    git_repository_free(gs->repo);
    gs->repo = NULL;
    gs->wb = NULL;
}

/* Make dir (mode 0700) and its parents. */
static int
gitstore_mkdirs(const char *dir, char **err)
{
    char *p = xstrdup(dir), *s;

    for (s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            goto fail;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        goto fail;
    free(p);
    return 0;
fail:
    set_error(err, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return -1;
}

/*
 * Write remote.origin.url and remote.origin.fetch when they differ from
 * what the configuration says.  Plain get/set only: libgit2 1.5 leaks
 * PCRE2 match data on every regular expression that does not match, and
 * git_remote_lookup runs several (insteadOf, pushurl) on each call.
 */
static int
gitstore_record_origin(struct gitstore *gs, const char *spec)
{
    git_config *cfg = NULL;
    git_buf cur = GIT_BUF_INIT;
    int rc = 0;

    if (git_repository_config(&cfg, gs->repo) != 0)
        return -1;
    if (git_config_get_string_buf(&cur, cfg, "remote.origin.url") != 0 || strcmp(cur.ptr, gs->url) != 0)
        rc = git_config_set_string(cfg, "remote.origin.url", gs->url);
    git_buf_dispose(&cur);
    if (rc == 0 && (git_config_get_string_buf(&cur, cfg, "remote.origin.fetch") != 0 || strcmp(cur.ptr, spec) != 0))
        rc = git_config_set_string(cfg, "remote.origin.fetch", spec);
    git_buf_dispose(&cur);
    git_config_free(cfg);
    return rc;
}

/*
 * An in-memory remote for the workspace's URL: no insteadOf rewriting and
 * no configured refspecs (each operation passes its own), so no regular
 * expression runs (see gitstore_record_origin).
 */
static int
gitstore_remote(struct gitstore *gs, git_remote **out, char **err)
{
    git_remote_create_options o;

    git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    o.repository = gs->repo;
    o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(out, gs->url, &o) != 0) {
        set_error(err, "cannot use the remote %s: %s", gs->safe_url, gitstore_giterr());
        return -1;
    }
    return 0;
}

/* ---- repair --------------------------------------------------------- */

/* Lock files of ref updates in dir (recursively) older than
 * GITSTORE_STALE_LOCK seconds: left by a process killed while holding them. */
static void
gitstore_sweep_locks(const char *dir, int depth)
{
    struct dirent *d;
    struct stat st;
    char *path;
    DIR *dh;

    if (depth > GITSTORE_LOCK_DEPTH || (dh = opendir(dir)) == NULL)
        return;
    while ((d = readdir(dh)) != NULL) {
        if (d->d_name[0] == '.' && (d->d_name[1] == '\0' || (d->d_name[1] == '.' && d->d_name[2] == '\0')))
            continue;
        path = xasprintf("%s/%s", dir, d->d_name);
        if (lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                gitstore_sweep_locks(path, depth + 1);
            } else if (S_ISREG(st.st_mode) && str_endswith(d->d_name, ".lock") &&
                       time(NULL) - st.st_mtime > GITSTORE_STALE_LOCK && unlink(path) == 0) {
                log_warn("removed a stale lock file left by a process that was killed", "file", path);
            }
        }
        free(path);
    }
    closedir(dh);
}

static int
gitstore_collect_name(const char *name, void *arg)
{
    struct gitstore_names *names = arg;

    names->v = xreallocarray(names->v, names->n + 1, sizeof *names->v);
    names->v[names->n++] = xstrdup(name);
    return 0;
}

/*
 * Repair a mirror left by a process killed at the wrong instruction
 * (DESIGN §4.1): stale lock files of ref updates go, and a ref that names
 * an object the mirror lacks is removed (the tracking ref and the push's
 * ref name what the remote has: the next fetch brings it back).  The base
 * cannot come back that way: it is reported and kept.  Returns how many
 * refs were removed.
 */
static size_t
gitstore_repair(struct gitstore *gs)
{
    struct gitstore_names names = { NULL, 0 };
    git_reference *r = NULL;
    git_odb *odb = NULL;
    char *file, hex[GIT_OID_HEXSZ + 1];
    size_t i, removed = 0;

    file = xasprintf("%s/refs", gs->path);
    gitstore_sweep_locks(file, 0);
    free(file);
    /* packed-refs.lock, HEAD.lock, config.lock: this directory only. */
    gitstore_sweep_locks(gs->path, GITSTORE_LOCK_DEPTH);
    if (git_repository_odb(&odb, gs->repo) != 0)
        return 0;
    /* A partial list (an unreadable ref) is still worth checking. */
    (void)git_reference_foreach_name(gs->repo, gitstore_collect_name, &names);
    for (i = 0; i < names.n; i++) {
        if (git_reference_lookup(&r, gs->repo, names.v[i]) != 0)
            continue;
        if (git_reference_type(r) == GIT_REFERENCE_DIRECT && !git_odb_exists(odb, git_reference_target(r))) {
            git_oid_tostr(hex, sizeof hex, git_reference_target(r));
            if (strcmp(names.v[i], GITSTORE_BASE_REF) == 0) {
                log_error("the base names an object the mirror lacks; the mirror is damaged",
                          "mirror", gs->path, "ref", names.v[i], "object", hex);
            } else if (git_reference_delete(r) == 0) {
                removed++;
                log_warn("a ref names an object the mirror lacks (a process was killed before "
                         "writing it): removed, the next fetch restores it",
                         "mirror", gs->path, "ref", names.v[i], "object", hex);
            }
        }
        git_reference_free(r);
        r = NULL;
    }
    for (i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    git_odb_free(odb);
    return removed;
}

int
gitstore_open(const struct gitstore_opts *opts, struct gitstore **out,
              char **err)
{
    struct gitstore *gs;
    char *spec;
    size_t i;
    int rc;

    *out = NULL;
    git_libgit2_init();
    /*
     * libgit2 keeps parsed commits and small trees in a cache of up to
     * 256 MB shared by every repository; a daemon that walks ever more
     * history would grow towards that.  What it saves is small next to a
     * job's fetch, so a few MB are plenty.
     */
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)GITSTORE_CACHE_BYTES);
    gs = xcalloc(1, sizeof *gs);
    gs->git = opts->git;
    gs->path = xasprintf("%s/%s.git", opts->state_dir, opts->workspace);
    gs->url = xstrdup(opts->git->url);
    gs->safe_url = url_without_credentials(opts->git->url, NULL);
    gs->branch_ref = xasprintf("refs/heads/%s", opts->git->branch);
    gs->tracking_ref = xasprintf("refs/remotes/origin/%s", opts->git->branch);
    gs->subpath = xstrdup(opts->git->path != NULL ? opts->git->path : "");
    gs->folders = xcalloc(opts->nfolders + 1, sizeof *gs->folders);
    for (i = 0; i < opts->nfolders; i++)
        gs->folders[i] = xstrdup(opts->folders[i]);
    gs->nfolders = opts->nfolders;

    if (gitstore_mkdirs(opts->state_dir, err) != 0)
        goto fail;
    rc = git_repository_open_bare(&gs->repo, gs->path);
    if (rc == GIT_ENOTFOUND) {
        if (git_repository_init(&gs->repo, gs->path, 1) != 0) {
            set_error(err, "cannot create the mirror %s: %s", gs->path, gitstore_giterr());
            goto fail;
        }
        chmod(gs->path, 0700);
        log_info("created the bare mirror", "workspace", opts->workspace, "path", gs->path);
    } else if (rc != 0) {
        set_error(err, "cannot open the mirror %s: %s", gs->path, gitstore_giterr());
        goto fail;
    }
    {
        char *objects = xasprintf("%s/objects", gs->path);

        rc = git_odb_backend_loose(&gs->loose, objects, -1, 0, 0, 0);
        free(objects);
        if (rc != 0) {
            gitstore_fail(err, "cannot open the mirror's objects");
            goto fail;
        }
    }
    if (gitstore_attach(gs, err) != 0)
        goto fail;
    (void)gitstore_repair(gs);
    gs->epoch = gitstore_epoch(gs->path, 0);
    /*
     * Record the remote as "origin" in the mirror's configuration, for a
     * person looking at it; fetch and push use an in-memory remote (see
     * gitstore_remote), so this is written only when it changed.
     */
    spec = xasprintf("+%s:%s", gs->branch_ref, gs->tracking_ref);
    if (gitstore_record_origin(gs, spec) != 0) {
        set_error(err, "cannot configure the remote %s in %s: %s", gs->safe_url, gs->path, gitstore_giterr());
        free(spec);
        goto fail;
    }
    free(spec);
    if (gs->git->ca_file != NULL &&
        git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, gs->git->ca_file, NULL) != 0) {
        set_error(err, "ca_file %s: %s", gs->git->ca_file, gitstore_giterr());
        goto fail;
    }
    *out = gs;
    return 0;
fail:
    gitstore_free(gs);
    return -1;
}

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

/* ---- trees ------------------------------------------------------------ */

void
gitstore_entries_free(struct gitstore_entry *entries, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(entries[i].folder);
        free(entries[i].slug);
    }
    free(entries);
}

static int
gitstore_entry_cmp(const void *a, const void *b)
{
    const struct gitstore_entry *x = a, *y = b;
    int c = strcmp(x->folder, y->folder);

    return c != 0 ? c : strcmp(x->slug, y->slug);
}

/* The tree of a commit (zero or NULL: none). */
static int
gitstore_commit_tree(struct gitstore *gs, const git_oid *commit, git_tree **tree,
                     char **err)
{
    git_commit *c = NULL;

    *tree = NULL;
    if (commit == NULL || git_oid_is_zero(commit))
        return 0;
    if (git_commit_lookup(&c, gs->repo, commit) != 0)
        return gitstore_fail(err, "cannot read a commit");
    if (git_commit_tree(tree, c) != 0) {
        git_commit_free(c);
        return gitstore_fail(err, "cannot read a commit's tree");
    }
    git_commit_free(c);
    return 0;
}

/* The subtree at path of tree, or NULL if there is none. */
static git_tree *
gitstore_subtree(struct gitstore *gs, git_tree *tree, const char *path)
{
    git_tree_entry *te = NULL;
    git_tree *sub = NULL;
    char *p;
    size_t len = strlen(path);

    if (len == 0) {
        git_tree_dup(&sub, tree);
        return sub;
    }
    p = xstrndup(path, path[len - 1] == '/' ? len - 1 : len);
    if (git_tree_entry_bypath(&te, tree, p) == 0 &&
        git_tree_entry_type(te) == GIT_OBJECT_TREE)
        git_tree_lookup(&sub, gs->repo, git_tree_entry_id(te));
    git_tree_entry_free(te);
    free(p);
    return sub;
}

/* What a tree entry is when it is not a regular file, or NULL. */
static const char *
gitstore_irregular(const git_tree_entry *te)
{
    switch (git_tree_entry_filemode(te)) {
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE:
        return NULL;
    case GIT_FILEMODE_LINK:
        return "a symbolic link";
    case GIT_FILEMODE_COMMIT:
        return "a submodule";
    case GIT_FILEMODE_TREE:
        return "a directory";
    default:
        return "not a regular file";
    }
}

int
gitstore_read_tree(struct gitstore *gs, const git_oid *commit,
                   struct gitstore_entry **entries, size_t *n, char **err)
{
    git_tree *tree = NULL, *root = NULL, *ft;
    const git_tree_entry *te;
    struct gitstore_entry *v = NULL;
    const char *name;
    size_t count = 0, i, j, len;

    *entries = NULL;
    *n = 0;
    if (gitstore_refresh(gs, err) != 0 || gitstore_commit_tree(gs, commit, &tree, err) != 0)
        return -1;
    if (tree == NULL)
        return 0;
    root = gitstore_subtree(gs, tree, gs->subpath);
    for (i = 0; root != NULL && i < gs->nfolders; i++) {
        ft = gitstore_subtree(gs, root, gs->folders[i]);
        if (ft == NULL)
            continue;
        for (j = 0; j < git_tree_entrycount(ft); j++) {
            te = git_tree_entry_byindex(ft, j);
            name = git_tree_entry_name(te);
            len = strlen(name);
            if (len <= 5 || !str_endswith(name, ".yaml") || name[0] == '.')
                continue;
            v = xreallocarray(v, count + 1, sizeof *v);
            v[count].folder = xstrdup(gs->folders[i]);
            v[count].slug = xstrndup(name, len - 5);
            v[count].irregular = gitstore_irregular(te);
            git_oid_cpy(&v[count].blob, git_tree_entry_id(te));
            count++;
        }
        git_tree_free(ft);
    }
    git_tree_free(root);
    git_tree_free(tree);
    if (count > 1)
        qsort(v, count, sizeof *v, gitstore_entry_cmp);
    *entries = v;
    *n = count;
    return 0;
}

/*
 * Blobs found over a size limit, remembered (process-wide, the last
 * GITSTORE_MAX_REJECTED) so that each is looked at and logged once, not
 * at every sync.
 */
#define GITSTORE_MAX_REJECTED 256
static pthread_mutex_t gitstore_rejected_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    git_oid id;
    size_t size;
} gitstore_rejected[GITSTORE_MAX_REJECTED];
static size_t gitstore_nrejected, gitstore_rejected_next;

/* The size of a blob remembered as too large, or 0. */
static size_t
gitstore_rejected_size(const git_oid *id)
{
    size_t i, size = 0;

    pthread_mutex_lock(&gitstore_rejected_lock);
    for (i = 0; i < gitstore_nrejected && size == 0; i++) {
        if (git_oid_equal(&gitstore_rejected[i].id, id))
            size = gitstore_rejected[i].size;
    }
    pthread_mutex_unlock(&gitstore_rejected_lock);
    return size;
}

static void
gitstore_rejected_add(const git_oid *id, size_t size)
{
    pthread_mutex_lock(&gitstore_rejected_lock);
    git_oid_cpy(&gitstore_rejected[gitstore_rejected_next].id, id);
    gitstore_rejected[gitstore_rejected_next].size = size;
    gitstore_rejected_next = (gitstore_rejected_next + 1) % GITSTORE_MAX_REJECTED;
    if (gitstore_nrejected < GITSTORE_MAX_REJECTED)
        gitstore_nrejected++;
    pthread_mutex_unlock(&gitstore_rejected_lock);
}

int
gitstore_read_blob_max(struct gitstore *gs, const git_oid *blob, size_t max, char **data,
                       size_t *len, char **err)
{
    git_object_t type;
    git_odb *odb = NULL;
    char hex[GIT_OID_HEXSZ + 1], bytes[32];
    size_t size;
    int rc;

    /* Remembered as too large for this limit: neither read nor logged. */
    if ((size = gitstore_rejected_size(blob)) == 0 || size <= max) {
        if (gitstore_refresh(gs, err) != 0)
            return -1;
        if (git_repository_odb(&odb, gs->repo) != 0)
            return gitstore_fail(err, "cannot read a blob");
        /* From the object's header: nothing is inflated. */
        rc = git_odb_read_header(&size, &type, odb, blob);
        git_odb_free(odb);
        if (rc != 0)
            return gitstore_fail(err, "cannot read a blob");
        if (size <= max)
            return gitstore_read_blob(gs, blob, data, len, err);
        gitstore_rejected_add(blob, size);
        snprintf(bytes, sizeof bytes, "%zu", size);
        log_warn("a blob over the size limit is not read", "mirror", gs->path, "blob",
                 git_oid_tostr(hex, sizeof hex, blob), "bytes", bytes);
    }
    return set_error(err, "file of %zu bytes, over the limit of %zu bytes (not read)", size, max);
}

int
gitstore_read_blob(struct gitstore *gs, const git_oid *blob, char **data,
                   size_t *len, char **err)
{
    git_blob *b = NULL;
    size_t size;

    if (gitstore_refresh(gs, err) != 0)
        return -1;
    if (git_blob_lookup(&b, gs->repo, blob) != 0)
        return gitstore_fail(err, "cannot read a blob");
    size = (size_t)git_blob_rawsize(b);
    *data = xmalloc(size + 1);
    memcpy(*data, git_blob_rawcontent(b), size);
    (*data)[size] = '\0';
    *len = size;
    git_blob_free(b);
    return 0;
}

int
gitstore_write_blob(struct gitstore *gs, const char *data, size_t len,
                    git_oid *out, char **err)
{
    if (gitstore_refresh(gs, err) != 0)
        return -1;
    if (git_blob_create_from_buffer(out, gs->repo, data, len) != 0)
        return gitstore_fail(err, "cannot write a blob");
    return 0;
}

/* The path of a resource in the repository. */
static char *
gitstore_path(struct gitstore *gs, const char *folder, const char *slug)
{
    return xasprintf("%s%s/%s.yaml", gs->subpath, folder, slug);
}

/* The empty tree (for root commits). */
static int
gitstore_empty_tree(struct gitstore *gs, git_tree **out, char **err)
{
    git_treebuilder *tb = NULL;
    git_oid oid;
    int rc;

    if (git_treebuilder_new(&tb, gs->repo, NULL) != 0)
        return gitstore_fail(err, "cannot build a tree");
    rc = git_treebuilder_write(&oid, tb);
    git_treebuilder_free(tb);
    if (rc != 0 || git_tree_lookup(out, gs->repo, &oid) != 0)
        return gitstore_fail(err, "cannot write the empty tree");
    return 0;
}

/* Apply updates to base (may be NULL: empty) into a new tree. */
static int
gitstore_update_tree(struct gitstore *gs, git_tree *base,
                     git_tree_update *updates, size_t n, git_oid *out,
                     char **err)
{
    git_tree *empty = NULL;
    int rc;

    if (base == NULL) {
        if (gitstore_empty_tree(gs, &empty, err) != 0)
            return -1;
        base = empty;
    }
    rc = git_tree_create_updated(out, gs->repo, base, n, updates);
    git_tree_free(empty);
    if (rc != 0)
        return gitstore_fail(err, "cannot build a tree");
    return 0;
}

/* A signature for name/email (or the fallback identity) at when. */
static int
gitstore_signature(git_signature **sig, const char *name, const char *email,
                   const struct config_identity *fallback, time_t when)
{
    const char *n = name != NULL && name[0] != '\0' ? name
                    : fallback->name != NULL ? fallback->name : "gitsyncd";
    const char *e = name != NULL && name[0] != '\0' ? (email != NULL ? email : "")
                    : fallback->email != NULL ? fallback->email : "gitsyncd@localhost";

    if (when == 0)
        return git_signature_now(sig, n, e);
    return git_signature_new(sig, n, e, when, 0);
}

/* Make one commit of tree on parent (may be NULL); *out gets it. */
static int
gitstore_make_commit(struct gitstore *gs, const git_oid *parent,
                     const git_tree *tree, const char *an, const char *ae,
                     time_t when, const char *message, git_oid *out,
                     char **err)
{
    const struct config_identity *committer =
        gs->git->committer.name != NULL ? &gs->git->committer : &gs->git->author;
    git_signature *author = NULL, *comm = NULL;
    git_commit *pc = NULL;
    const git_commit *parents[1];
    int rc = -1;

    if (gitstore_signature(&author, an, ae, &gs->git->author, when) != 0 ||
        gitstore_signature(&comm, NULL, NULL, committer, 0) != 0) {
        gitstore_fail(err, "bad identity");
        goto out;
    }
    if (parent != NULL && !git_oid_is_zero(parent)) {
        if (git_commit_lookup(&pc, gs->repo, parent) != 0) {
            gitstore_fail(err, "cannot read the parent commit");
            goto out;
        }
        parents[0] = pc;
    }
    if (git_commit_create(out, gs->repo, NULL, author, comm, "UTF-8", message,
                          tree, pc != NULL ? 1 : 0, parents) != 0) {
        gitstore_fail(err, "cannot create a commit");
        goto out;
    }
    rc = 0;
out:
    git_signature_free(author);
    git_signature_free(comm);
    git_commit_free(pc);
    return rc;
}

/* Fill a tree update for one change; false when it changes nothing. */
static bool
gitstore_change_update(struct gitstore *gs, git_tree *base,
                       const struct gitstore_change *ch, git_tree_update *u,
                       char **path)
{
    git_tree_entry *te = NULL;
    bool exists;

    *path = gitstore_path(gs, ch->folder, ch->slug);
    exists = base != NULL && git_tree_entry_bypath(&te, base, *path) == 0;
    if (ch->blob == NULL) {
        git_tree_entry_free(te);
        if (!exists)
            return false;
        u->action = GIT_TREE_UPDATE_REMOVE;
    } else {
        bool same = exists && git_oid_equal(git_tree_entry_id(te), ch->blob);

        git_tree_entry_free(te);
        if (same)
            return false;
        u->action = GIT_TREE_UPDATE_UPSERT;
        git_oid_cpy(&u->id, ch->blob);
        u->filemode = GIT_FILEMODE_BLOB;
    }
    u->path = *path;
    return true;
}

/* A folder's tree builder, kept across a chain of commits. */
struct gitstore_folder_tb {
    char *dir; /* sub-path + folder, no trailing slash */
    git_treebuilder *tb;
};

/* The builder for folder, made from its tree in root on first use. */
static git_treebuilder *
gitstore_folder_builder(struct gitstore *gs, git_tree *root, struct gitstore_folder_tb **tbs,
                        size_t *ntbs, const char *folder, const char **dir, char **err)
{
    git_tree *sub = NULL;
    char *d = xasprintf("%s%s", gs->subpath, folder);
    size_t i;

    for (i = 0; i < *ntbs; i++) {
        if (strcmp((*tbs)[i].dir, d) == 0) {
            free(d);
            *dir = (*tbs)[i].dir;
            return (*tbs)[i].tb;
        }
    }
    if (root != NULL)
        sub = gitstore_subtree(gs, root, d);
    *tbs = xreallocarray(*tbs, *ntbs + 1, sizeof **tbs);
    if (git_treebuilder_new(&(*tbs)[*ntbs].tb, gs->repo, sub) != 0) {
        git_tree_free(sub);
        free(d);
        gitstore_fail(err, "cannot read a folder's tree");
        return NULL;
    }
    git_tree_free(sub);
    (*tbs)[*ntbs].dir = d;
    *dir = d;
    return (*tbs)[(*ntbs)++].tb;
}

/*
 * One commit per change.  Each change rewrites the tree of its folder,
 * which may hold thousands of entries: the folder's tree builder is made
 * once and kept across the chain, so a commit costs one write of that
 * tree (and of the small trees above it), never a read-back and reparse.
 */
int
gitstore_commit_chain(struct gitstore *gs, const git_oid *parent,
                      const struct gitstore_change *changes, size_t n,
                      git_oid *head, char **err)
{
    struct gitstore_folder_tb *tbs = NULL;
    size_t ntbs = 0, i;
    git_tree *root = NULL, *next = NULL;
    git_treebuilder *tb;
    const git_tree_entry *te;
    git_tree_update u;
    git_oid cur, folder_oid, root_oid;
    bool have = parent != NULL && !git_oid_is_zero(parent);
    const char *dir;
    char *name;
    int rc = -1;

    memset(&cur, 0, sizeof cur);
    if (have)
        git_oid_cpy(&cur, parent);
    if (gitstore_refresh(gs, err) != 0 || gitstore_commit_tree(gs, have ? &cur : NULL, &root, err) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        const struct gitstore_change *ch = &changes[i];

        if ((tb = gitstore_folder_builder(gs, root, &tbs, &ntbs, ch->folder, &dir, err)) == NULL)
            goto out;
        name = xasprintf("%s.yaml", ch->slug);
        te = git_treebuilder_get(tb, name);
        if (ch->blob == NULL ? te == NULL
                             : te != NULL && git_oid_equal(git_tree_entry_id(te), ch->blob)) {
            /* Nothing to change: no empty commit. */
            free(name);
            continue;
        }
        rc = ch->blob == NULL ? git_treebuilder_remove(tb, name)
                              : git_treebuilder_insert(NULL, tb, name, ch->blob, GIT_FILEMODE_BLOB);
        free(name);
        rc = rc != 0 ? rc : git_treebuilder_write(&folder_oid, tb);
        if (rc != 0) {
            gitstore_fail(err, "cannot build a tree");
            rc = -1;
            goto out;
        }
        memset(&u, 0, sizeof u);
        u.path = dir;
        if (git_treebuilder_entrycount(tb) == 0) {
            u.action = GIT_TREE_UPDATE_REMOVE; /* git keeps no empty folder */
        } else {
            u.action = GIT_TREE_UPDATE_UPSERT;
            u.filemode = GIT_FILEMODE_TREE;
            git_oid_cpy(&u.id, &folder_oid);
        }
        rc = -1;
        if (gitstore_update_tree(gs, root, &u, 1, &root_oid, err) != 0)
            goto out;
        if (git_tree_lookup(&next, gs->repo, &root_oid) != 0) {
            gitstore_fail(err, "cannot read a tree");
            goto out;
        }
        if (gitstore_make_commit(gs, have ? &cur : NULL, next, ch->author_name, ch->author_email,
                                 ch->when, ch->message, &cur, err) != 0)
            goto out;
        have = true;
        git_tree_free(root);
        root = next;
        next = NULL;
        /* Bound what a long chain keeps in memory. */
        if (gs->wb != NULL && gs->wb->bytes > GITSTORE_WB_BYTES && gitstore_flush(gs, err) != 0)
            goto out;
    }
    git_oid_cpy(head, &cur);
    rc = 0;
out:
    for (i = 0; i < ntbs; i++) {
        git_treebuilder_free(tbs[i].tb);
        free(tbs[i].dir);
    }
    free(tbs);
    git_tree_free(next);
    git_tree_free(root);
    return rc;
}

static int
gitstore_update_cmp(const void *a, const void *b)
{
    return strcmp(((const git_tree_update *)a)->path, ((const git_tree_update *)b)->path);
}

int
gitstore_commit_many(struct gitstore *gs, const git_oid *parent,
                     const struct gitstore_change *changes, size_t n,
                     const char *message, git_oid *head, char **err)
{
    git_tree *tree = NULL;
    git_tree_update *u;
    char **paths;
    git_oid tree_oid;
    size_t i, nu = 0;
    int rc = -1;

    if (gitstore_refresh(gs, err) != 0 || gitstore_commit_tree(gs, parent, &tree, err) != 0)
        return -1;
    u = xcalloc(n + 1, sizeof *u);
    paths = xcalloc(n + 1, sizeof *paths);
    for (i = 0; i < n; i++) {
        if (gitstore_change_update(gs, tree, &changes[i], &u[nu], &paths[i]))
            nu++;
    }
    qsort(u, nu, sizeof *u, gitstore_update_cmp);
    if (gitstore_update_tree(gs, tree, u, nu, &tree_oid, err) == 0) {
        git_tree *made = NULL;

        if (git_tree_lookup(&made, gs->repo, &tree_oid) != 0)
            gitstore_fail(err, "cannot read a tree");
        else if (gitstore_make_commit(gs, parent, made, NULL, NULL, 0, message, head, err) == 0)
            rc = 0;
        git_tree_free(made);
    }
    for (i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(u);
    git_tree_free(tree);
    return rc;
}

/* Pack files in dir, and the loose objects in one fan-out directory. */
static void
gitstore_count_objects(const char *objects, size_t *packs, size_t *loose17)
{
    struct dirent *d;
    char *path;
    DIR *dir;

    *packs = *loose17 = 0;
    path = xasprintf("%s/pack", objects);
    if ((dir = opendir(path)) != NULL) {
        while ((d = readdir(dir)) != NULL)
            *packs += str_endswith(d->d_name, ".pack");
        closedir(dir);
    }
    free(path);
    path = xasprintf("%s/17", objects);
    if ((dir = opendir(path)) != NULL) {
        while ((d = readdir(dir)) != NULL)
            *loose17 += d->d_name[0] != '.';
        closedir(dir);
    }
    free(path);
}

/* Remove what a repack made redundant: other packs (but keep and keep2,
 * when not ""), loose objects. */
static void
gitstore_prune_objects(const char *objects, const char *keep, const char *keep2)
{
    struct dirent *d, *f;
    char *path, *file;
    DIR *dir, *sub;

    path = xasprintf("%s/pack", objects);
    if ((dir = opendir(path)) != NULL) {
        while ((d = readdir(dir)) != NULL) {
            if (strncmp(d->d_name, "pack-", 5) != 0 || strstr(d->d_name, keep) != NULL ||
                (keep2[0] != '\0' && strncmp(d->d_name, keep2, strlen(keep2)) == 0) ||
                !(str_endswith(d->d_name, ".pack") || str_endswith(d->d_name, ".idx") ||
                  str_endswith(d->d_name, ".rev")))
                continue;
            file = xasprintf("%s/%s", path, d->d_name);
            unlink(file);
            free(file);
        }
        closedir(dir);
    }
    free(path);
    if ((dir = opendir(objects)) == NULL)
        return;
    while ((d = readdir(dir)) != NULL) {
        if (strlen(d->d_name) != 2 || !isxdigit((unsigned char)d->d_name[0]) ||
            !isxdigit((unsigned char)d->d_name[1]))
            continue;
        path = xasprintf("%s/%s", objects, d->d_name);
        if ((sub = opendir(path)) != NULL) {
            while ((f = readdir(sub)) != NULL) {
                if (f->d_name[0] == '.')
                    continue;
                file = xasprintf("%s/%s", path, f->d_name);
                unlink(file);
                free(file);
            }
            closedir(sub);
        }
        rmdir(path);
        free(path);
    }
    closedir(dir);
}

static int
gitstore_count_oid(const git_oid *id, void *payload)
{
    (void)id;
    ++*(size_t *)payload;
    return 0;
}

/* The number of objects in the pack whose index is idx (0 if unreadable). */
static size_t
gitstore_pack_objects(const char *idx)
{
    git_odb_backend *b = NULL;
    size_t n = 0;

    if (git_odb_backend_one_pack(&b, idx) != 0)
        return 0;
    if (b->foreach != NULL)
        (void)b->foreach(b, gitstore_count_oid, &n);
    b->free(b);
    return n;
}

/*
 * The name ("pack-<hash>") and object count of the pack with the most
 * objects, if any, and the objects in all the others.
 */
static void
gitstore_largest_pack(const char *packdir, char *name, size_t size, size_t *objs, size_t *others)
{
    struct dirent *d;
    char *file;
    size_t n;
    DIR *dir;

    name[0] = '\0';
    *objs = *others = 0;
    if ((dir = opendir(packdir)) == NULL)
        return;
    while ((d = readdir(dir)) != NULL) {
        if (!str_endswith(d->d_name, ".idx"))
            continue;
        file = xasprintf("%s/%s", packdir, d->d_name);
        n = gitstore_pack_objects(file);
        free(file);
        if (n > *objs) {
            *others += *objs;
            *objs = n;
            snprintf(name, size, "%.*s", (int)(strlen(d->d_name) - 4), d->d_name);
        } else {
            *others += n;
        }
    }
    closedir(dir);
}

static int
gitstore_insert_oid(const git_oid *id, void *payload)
{
    return git_packbuilder_insert(payload, id, NULL);
}

/* Insert every object of backend b into pb, then free b. */
static int
gitstore_insert_backend(git_packbuilder *pb, git_odb_backend *b)
{
    int rc = b->foreach != NULL ? b->foreach(b, gitstore_insert_oid, pb) : 0;

    b->free(b);
    return rc;
}

/*
 * The incremental repack: the objects of every pack but the largest, and
 * the loose ones, into pb (no reachability walk: what is unreachable goes
 * at the next full repack).
 */
static int
gitstore_insert_recent(git_packbuilder *pb, const char *objects, const char *keep)
{
    git_odb_backend *b = NULL;
    struct dirent *d;
    char *packdir = xasprintf("%s/pack", objects), *idx;
    DIR *dir;
    int rc = 0;

    if ((dir = opendir(packdir)) != NULL) {
        while (rc == 0 && (d = readdir(dir)) != NULL) {
            if (!str_endswith(d->d_name, ".idx") || (keep[0] != '\0' && strncmp(d->d_name, keep, strlen(keep)) == 0))
                continue;
            idx = xasprintf("%s/%s", packdir, d->d_name);
            rc = git_odb_backend_one_pack(&b, idx);
            free(idx);
            if (rc == 0)
                rc = gitstore_insert_backend(pb, b);
        }
        closedir(dir);
    }
    free(packdir);
    if (rc == 0 && (rc = git_odb_backend_loose(&b, objects, -1, 0, 0, 0)) == 0)
        rc = gitstore_insert_backend(pb, b);
    return rc;
}

static int
gitstore_push_ref_oid(git_reference *ref, void *payload)
{
    git_revwalk *walk = payload;
    git_reference *resolved = NULL;

    if (git_reference_resolve(&resolved, ref) == 0) {
        /* Every ref of the mirror names a commit; anything else is skipped. */
        (void)git_revwalk_push(walk, git_reference_target(resolved));
        git_reference_free(resolved);
    }
    git_reference_free(ref);
    return 0;
}

/* Another thread's handle repacked the mirror: reopen ours. */
static int
gitstore_refresh(struct gitstore *gs, char **err)
{
    unsigned long now = gitstore_epoch(gs->path, 0);
    git_repository *repo = NULL;

    if (now == gs->epoch && gs->repo != NULL)
        return 0;
    if (git_repository_open_bare(&repo, gs->path) != 0) {
        set_error(err, "cannot reopen the mirror %s: %s", gs->path, gitstore_giterr());
        return -1;
    }
    if (gitstore_swap_repo(gs, repo, err) != 0)
        return -1;
    gs->epoch = now;
    return 0;
}

int
gitstore_maintain(struct gitstore *gs, char **err)
{
    git_packbuilder *pb = NULL;
    git_revwalk *walk = NULL;
    char *objects, *packdir = NULL, name[GIT_OID_HEXSZ + 1], big[64];
    size_t packs, loose17, nobj, bigobjs, rest;
    bool full;
    double t0;
    char a[32], b[32], c[32], sec[32];
    int rc = -1;

    if (gitstore_refresh(gs, err) != 0 || gitstore_flush(gs, err) != 0)
        return -1;
    objects = xasprintf("%s/objects", gs->path);
    gitstore_count_objects(objects, &packs, &loose17);
    /* Like git gc --auto: too many packs (each holds a descriptor and a
     * mapping, and every lookup searches them all), or too many loose
     * objects (estimated from one of the 256 fan-out directories). */
    if (packs <= GITSTORE_MAX_PACKS && loose17 * 256 <= GITSTORE_MAX_LOOSE) {
        free(objects);
        return 0;
    }
    t0 = now_mono();
    packdir = xasprintf("%s/pack", objects);
    /*
     * Geometric, like git repack --geometric=2, by object counts: while
     * the objects that came since (other packs, loose) are fewer than half
     * of the largest pack's, only those are packed, so the cost follows
     * the new objects and not the whole history; otherwise everything
     * reachable is packed anew, which doubles the largest pack at least,
     * so full repacks get rarer as history grows.  (Sizes would mislead: a
     * loose tree is stored whole, the same tree in a pack as a delta.)
     */
    gitstore_largest_pack(packdir, big, sizeof big, &bigobjs, &rest);
    full = big[0] == '\0' || (rest + loose17 * 256) * 2 > bigobjs;
    if (full)
        big[0] = '\0';
    if (git_packbuilder_new(&pb, gs->repo) != 0 ||
        (full ? git_revwalk_new(&walk, gs->repo) != 0 ||
                    git_reference_foreach(gs->repo, gitstore_push_ref_oid, walk) != 0 ||
                    git_packbuilder_insert_walk(pb, walk) != 0
              : gitstore_insert_recent(pb, objects, big) != 0) ||
        git_packbuilder_write(pb, packdir, 0, NULL, NULL) != 0) {
        set_error(err, "cannot repack the mirror %s: %s", gs->path, gitstore_giterr());
        goto out;
    }
    nobj = git_packbuilder_object_count(pb);
    git_oid_tostr(name, sizeof name, git_packbuilder_hash(pb));
    {
        /* Prune only with the new pack and its index in place. */
        char *pack = xasprintf("%s/pack-%s.pack", packdir, name);
        char *idx = xasprintf("%s/pack-%s.idx", packdir, name);
        struct stat st;
        bool there = stat(pack, &st) == 0 && stat(idx, &st) == 0;

        free(pack);
        free(idx);
        if (!there) {
            set_error(err, "repack of %s: the new pack pack-%s is not where libgit2 said", gs->path, name);
            goto out;
        }
    }
    gitstore_prune_objects(objects, name, big);
    gitstore_epoch(gs->path, 1);
    gs->epoch = gitstore_epoch(gs->path, 0);
    {
        git_repository *repo = NULL;

        if (git_repository_open_bare(&repo, gs->path) == 0 && gitstore_swap_repo(gs, repo, err) != 0)
            goto out;
    }
    snprintf(a, sizeof a, "%zu", packs);
    snprintf(b, sizeof b, "%zu", loose17 * 256);
    snprintf(c, sizeof c, "%zu", nobj);
    snprintf(sec, sizeof sec, "%.3f", now_mono() - t0);
    log_info("repacked the mirror", "mirror", gs->path, "how", full ? "all reachable objects" : "new objects only",
             "packs_before", a, "loose_before_estimate", b, "objects", c, "seconds", sec);
    rc = 0;
out:
    git_revwalk_free(walk);
    git_packbuilder_free(pb);
    free(packdir);
    free(objects);
    return rc;
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
    int rc = -1;

    *exists = false;
    if (gitstore_remote(gs, &remote, err) != 0)
        return -1;
    gitstore_callbacks(gs, &cb);
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

    if (gitstore_refresh(gs, err) != 0)
        return GITSTORE_ERROR;
    /* Objects before any ref that names them, the push's own ref
     * included: a kill -9 at any later instruction leaves a mirror whose
     * refs all name objects it has. */
    if (gitstore_flush(gs, err) != 0)
        return GITSTORE_ERROR;
    if (git_reference_create(&lr, gs->repo, GITSTORE_PUSH_REF, commit, 1, "gitsyncd: push") != 0) {
        gitstore_fail(err, "cannot prepare the push");
        return GITSTORE_ERROR;
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

int
gitstore_base_get(struct gitstore *gs, git_oid *base, bool *exists, char **err)
{
    git_reference *ref = NULL;
    int rc;

    memset(base, 0, sizeof *base);
    *exists = false;
    if (gitstore_refresh(gs, err) != 0)
        return -1;
    rc = git_reference_lookup(&ref, gs->repo, GITSTORE_BASE_REF);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return gitstore_fail(err, "cannot read " GITSTORE_BASE_REF);
    git_oid_cpy(base, git_reference_target(ref));
    *exists = true;
    git_reference_free(ref);
    return 0;
}

int
gitstore_base_set(struct gitstore *gs, const struct gitstore_entry *entries,
                  size_t n, const git_oid *old, const char *message,
                  git_oid *out, char **err)
{
    static const struct config_identity me = { "gitsyncd", "gitsyncd@localhost" };
    git_tree_update *u;
    git_reference *ref = NULL;
    git_signature *sig = NULL;
    git_commit *pc = NULL;
    git_tree *tree = NULL;
    const git_commit *parents[1];
    git_oid tree_oid;
    char **paths;
    size_t i;
    bool has_old = old != NULL && !git_oid_is_zero(old);
    int rc = -1;

    if (gitstore_refresh(gs, err) != 0)
        return -1;
    u = xcalloc(n + 1, sizeof *u);
    paths = xcalloc(n + 1, sizeof *paths);
    for (i = 0; i < n; i++) {
        paths[i] = gitstore_path(gs, entries[i].folder, entries[i].slug);
        u[i].action = GIT_TREE_UPDATE_UPSERT;
        u[i].path = paths[i];
        u[i].filemode = GIT_FILEMODE_BLOB;
        git_oid_cpy(&u[i].id, &entries[i].blob);
    }
    qsort(u, n, sizeof *u, gitstore_update_cmp);
    if (gitstore_update_tree(gs, NULL, u, n, &tree_oid, err) != 0)
        goto out;
    if (git_tree_lookup(&tree, gs->repo, &tree_oid) != 0 ||
        gitstore_signature(&sig, NULL, NULL, &me, 0) != 0) {
        gitstore_fail(err, "cannot build the base");
        goto out;
    }
    if (has_old) {
        if (git_commit_lookup(&pc, gs->repo, old) != 0) {
            gitstore_fail(err, "cannot read the old base");
            goto out;
        }
        parents[0] = pc;
    }
    if (git_commit_create(out, gs->repo, NULL, sig, sig, "UTF-8", message, tree,
                          has_old ? 1 : 0, parents) != 0) {
        gitstore_fail(err, "cannot commit the base");
        goto out;
    }
    if (gitstore_flush(gs, err) != 0)
        goto out;
    if (has_old)
        rc = git_reference_create_matching(&ref, gs->repo, GITSTORE_BASE_REF, out, 1,
                                           old, "gitsyncd: base");
    else
        rc = git_reference_create(&ref, gs->repo, GITSTORE_BASE_REF, out, 0, "gitsyncd: base");
    if (rc != 0) {
        set_error(err, "cannot move " GITSTORE_BASE_REF " (%s): %s",
                  rc == GIT_EMODIFIED || rc == GIT_EEXISTS ? "it moved meanwhile" : "error",
                  gitstore_giterr());
        rc = -1;
        goto out;
    }
    rc = 0;
out:
    git_reference_free(ref);
    git_signature_free(sig);
    git_commit_free(pc);
    git_tree_free(tree);
    for (i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(u);
    return rc;
}

void
gitstore_deltas_free(struct gitstore_delta *deltas, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(deltas[i].folder);
        free(deltas[i].slug);
    }
    free(deltas);
}

int
gitstore_diff(struct gitstore *gs, const git_oid *a, const git_oid *b,
              struct gitstore_delta **deltas, size_t *n, char **err)
{
    struct gitstore_entry *ea = NULL, *eb = NULL;
    struct gitstore_delta *d = NULL;
    size_t na = 0, nb = 0, i = 0, j = 0, count = 0;
    int c;

    *deltas = NULL;
    *n = 0;
    if (gitstore_read_tree(gs, a, &ea, &na, err) != 0)
        return -1;
    if (gitstore_read_tree(gs, b, &eb, &nb, err) != 0) {
        gitstore_entries_free(ea, na);
        return -1;
    }
    while (i < na || j < nb) {
        c = i == na ? 1 : j == nb ? -1 : gitstore_entry_cmp(&ea[i], &eb[j]);
        if (c == 0 && git_oid_equal(&ea[i].blob, &eb[j].blob)) {
            i++;
            j++;
            continue;
        }
        d = xreallocarray(d, count + 1, sizeof *d);
        memset(&d[count], 0, sizeof *d);
        if (c < 0) {
            d[count].type = GITSTORE_DELETED;
            d[count].folder = xstrdup(ea[i].folder);
            d[count].slug = xstrdup(ea[i].slug);
            git_oid_cpy(&d[count].old_blob, &ea[i].blob);
            i++;
        } else if (c > 0) {
            d[count].type = GITSTORE_ADDED;
            d[count].folder = xstrdup(eb[j].folder);
            d[count].slug = xstrdup(eb[j].slug);
            git_oid_cpy(&d[count].new_blob, &eb[j].blob);
            j++;
        } else {
            d[count].type = GITSTORE_MODIFIED;
            d[count].folder = xstrdup(ea[i].folder);
            d[count].slug = xstrdup(ea[i].slug);
            git_oid_cpy(&d[count].old_blob, &ea[i].blob);
            git_oid_cpy(&d[count].new_blob, &eb[j].blob);
            i++;
            j++;
        }
        count++;
    }
    gitstore_entries_free(ea, na);
    gitstore_entries_free(eb, nb);
    *deltas = d;
    *n = count;
    return 0;
}

int
gitstore_lost_head(struct gitstore *gs, git_oid *head, bool *exists, char **err)
{
    int rc;

    *exists = false;
    if (gitstore_refresh(gs, err) != 0)
        return -1;
    rc = git_reference_name_to_id(head, gs->repo, GITSTORE_LOST_REF);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc != 0)
        return gitstore_fail(err, "cannot read " GITSTORE_LOST_REF);
    *exists = true;
    return 0;
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

const char *
gitstore_result_name(enum gitstore_result r)
{
    switch (r) {
    case GITSTORE_OK:
        return "ok";
    case GITSTORE_ERROR:
        return "error";
    case GITSTORE_NONFASTFORWARD:
        return "non-fast-forward";
    case GITSTORE_REJECTED:
        return "rejected";
    case GITSTORE_AUTH:
        return "auth";
    case GITSTORE_NETWORK:
        return "network";
    }
    return "?";
}
