/*
 * gitstore internals: what the parts of the gitstore module (gitstore.c,
 * gitstore-transport.c, gitstore-tree.c, gitstore-maintain.c) share, and
 * nothing else includes.  The public interface is gitsyncd/gitstore.h.
 */
#ifndef GITSYNCD_GITSTORE_INT_H
#define GITSYNCD_GITSTORE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "gitsyncd/gitstore.h"

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

/* A list of ref names. */
struct gitstore_names {
    char **v;
    size_t n;
};

/* Shared helpers, defined in the file named. */
unsigned long gitstore_epoch(const char *path, unsigned long bump); /* gitstore.c */
const char *gitstore_giterr(void); /* gitstore.c */
int gitstore_fail(char **err, const char *what); /* gitstore.c */
int gitstore_flush(struct gitstore *gs, char **err); /* gitstore.c */
int gitstore_swap_repo(struct gitstore *gs, git_repository *repo, char **err); /* gitstore.c */
int gitstore_remote(struct gitstore *gs, git_remote **out, char **err); /* gitstore.c */
int gitstore_collect_name(const char *name, void *arg); /* gitstore.c */
size_t gitstore_repair(struct gitstore *gs); /* gitstore.c */
int gitstore_refresh(struct gitstore *gs, char **err); /* gitstore.c */

#endif
