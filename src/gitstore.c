/* gitstore: the bare mirror itself: open, repair, the in-memory object
 * store and its flush, the base and lost-head refs.  The module's other
 * parts: gitstore-transport.c (fetch, push, credentials), gitstore-tree.c
 * (trees, blobs, commits, diffs), gitstore-maintain.c (repacking). */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#include "gitstore-int.h"

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

/* The repack count of the mirror at path, after adding bump to it. */
unsigned long
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
const char *
gitstore_giterr(void)
{
    const git_error *e = git_error_last();

    return e != NULL && e->message != NULL ? e->message : "unknown libgit2 error";
}

/* Set *err to "what: libgit2's message". */
int
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

/*
 * Write an object into the write-back store without asking libgit2's
 * object database first: git_odb_write checks whether the object exists
 * and, on a miss, which every new object is, rescans objects/pack and the
 * multi-pack-index, so an import of 100,000 blobs spent most of its time
 * in readdir.  The check here skips that rescan; an object that a pack
 * written meanwhile by another handle already holds is merely written
 * once more, loose, which git tolerates.
 */
int
gitstore_put(struct gitstore *gs, git_object_t type, const void *data,
             size_t len, git_oid *out, char **err)
{
    git_odb *odb = NULL;
    int rc;

    if (git_repository_odb(&odb, gs->repo) != 0)
        return gitstore_fail(err, "cannot open the object database");
    if (gs->wb == NULL) {
        rc = git_odb_write(out, odb, data, len, type);
    } else if ((rc = git_odb_hash(out, data, len, type)) == 0 &&
               !git_odb_exists_ext(odb, out, GIT_ODB_LOOKUP_NO_REFRESH)) {
        rc = gs->wb->parent.write(&gs->wb->parent, out, data, len, type);
    }
    git_odb_free(odb);
    return rc != 0 ? gitstore_fail(err, "cannot write an object") : 0;
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

/*
 * Write every object held in memory into the mirror as one pack (the
 * indexer writes the .pack and its .idx before this returns).  Thousands
 * of loose files cost a file creation each: an import of 100,000
 * resources spent most of its time in the kernel creating them.
 */
static int
gitstore_flush_pack(struct gitstore *gs, char **err)
{
    git_buf pack = GIT_BUF_INIT;
    git_indexer_progress stats;
    git_odb_writepack *wp = NULL;
    git_odb *odb = NULL;
    int rc = -1;

    memset(&stats, 0, sizeof stats);
    if (git_mempack_dump(&pack, gs->repo, gs->wb->mem) != 0 ||
        git_repository_odb(&odb, gs->repo) != 0 ||
        git_odb_write_pack(&wp, odb, NULL, NULL) != 0 ||
        wp->append(wp, pack.ptr, pack.size, &stats) != 0 ||
        wp->commit(wp, &stats) != 0)
        set_error(err, "cannot write %zu new objects to the mirror %s as a pack: %s",
                  gs->wb->n, gs->path, gitstore_giterr());
    else
        rc = 0;
    if (wp != NULL)
        wp->free(wp);
    git_odb_free(odb);
    git_buf_dispose(&pack);
    return rc;
}

/* Write the objects held in memory to the mirror: loose, or past
 * GITSTORE_WB_PACK of them as one pack. */
int
gitstore_flush(struct gitstore *gs, char **err)
{
    struct gitstore_wb *wb = gs->wb;
    git_object_t type;
    size_t i, len;
    void *data;
    char hex[GIT_OID_HEXSZ + 1];

    if (wb == NULL || wb->n == 0)
        return 0;
    if (wb->n > GITSTORE_WB_PACK) {
        if (gitstore_flush_pack(gs, err) != 0)
            return -1;
        i = wb->n;
    } else {
        i = 0;
    }
    for (; i < wb->n; i++) {
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
int
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
int
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

int
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
size_t
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

/* Another thread's handle repacked the mirror: reopen ours. */
int
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

/*
 * Cluster mode: where a workspace's base is published on the remote, and
 * where the mirror keeps what it fetched from there.
 */
#define GITSTORE_PUBLISHED_PREFIX "refs/gitsyncd/base/"
#define GITSTORE_FETCHED_BASE_REF "refs/gitsyncd/published-base"

enum gitstore_result
gitstore_base_adopt(struct gitstore *gs, const char *workspace, const git_oid *want,
                    char **err)
{
    git_oid have;
    git_object *obj = NULL;
    git_reference *ref = NULL;
    enum gitstore_result r;
    char *remote_ref, hex[GIT_OID_HEXSZ + 1];
    bool exists;

    if (gitstore_base_get(gs, &have, &exists, err) != 0)
        return GITSTORE_ERROR;
    if (exists && git_oid_equal(&have, want))
        return GITSTORE_OK;
    git_oid_tostr(hex, sizeof hex, want);
    if (git_object_lookup(&obj, gs->repo, want, GIT_OBJECT_COMMIT) != 0) {
        remote_ref = xasprintf(GITSTORE_PUBLISHED_PREFIX "%s", workspace);
        r = gitstore_fetch_ref(gs, remote_ref, GITSTORE_FETCHED_BASE_REF, err);
        free(remote_ref);
        if (r != GITSTORE_OK)
            return r;
        if (git_object_lookup(&obj, gs->repo, want, GIT_OBJECT_COMMIT) != 0) {
            set_error(err, "the base %s that the cluster database names is not on %s "
                      "(ref " GITSTORE_PUBLISHED_PREFIX "%s)", hex, gs->safe_url, workspace);
            return GITSTORE_ERROR;
        }
    }
    git_object_free(obj);
    if (git_reference_create(&ref, gs->repo, GITSTORE_BASE_REF, want, 1,
                             "gitsyncd: base from the cluster") != 0) {
        gitstore_fail(err, "cannot move " GITSTORE_BASE_REF);
        return GITSTORE_ERROR;
    }
    git_reference_free(ref);
    log_info("base taken from the cluster", "mirror", gs->path, "workspace", workspace,
             "base", hex);
    return GITSTORE_OK;
}

enum gitstore_result
gitstore_base_publish(struct gitstore *gs, const char *workspace, const git_oid *base,
                      char **err)
{
    enum gitstore_result r;
    char *ref = xasprintf(GITSTORE_PUBLISHED_PREFIX "%s", workspace);

    /* Forced: the replica holding the workspace's lock owns the ref, and
     * the database (updated after, compare-and-swap) is what others read. */
    r = gitstore_push(gs, ref, base, NULL, err);
    free(ref);
    return r;
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
