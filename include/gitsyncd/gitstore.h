/*
 * gitstore: the workspace's bare mirror (<state_dir>/<workspace>.git) and
 * everything that talks to libgit2: fetch, read the resource tree, build
 * per-resource commits in memory, push with compare-and-swap, and the base
 * ref refs/gitsyncd/base (DESIGN §4).  One struct gitstore per thread.
 *
 * Paths: a resource lives at <sub-path><folder>/<slug>.yaml; functions
 * here take (folder, slug) and add the sub-path themselves.
 */
#ifndef GITSYNCD_GITSTORE_H
#define GITSYNCD_GITSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <git2.h>

#include "gitsyncd/config.h"

/* Results of operations that talk to the remote; distinct, reported. */
enum gitstore_result {
    GITSTORE_OK = 0,
    GITSTORE_ERROR = -1,            /* anything else (local, corrupt) */
    GITSTORE_NONFASTFORWARD = -2,   /* the remote moved: fetch and rebuild */
    GITSTORE_REJECTED = -3,         /* the server refused (hook, protection) */
    GITSTORE_AUTH = -4,             /* credentials refused */
    GITSTORE_NETWORK = -5,          /* unreachable, timeout, TLS */
};

struct gitstore;

struct gitstore_opts {
    const char *state_dir;
    const char *workspace;
    const struct config_git *git;
    const char *const *folders; /* kind folders that hold resources */
    size_t nfolders;
};

/* Open, or create, the bare mirror.  Errors name the path. */
int gitstore_open(const struct gitstore_opts *opts, struct gitstore **out,
                  char **err);
void gitstore_free(struct gitstore *gs);
/* The underlying repository (for callers that need a libgit2 call). */
git_repository *gitstore_repo(struct gitstore *gs);

/*
 * Keep the mirror lean, as git gc --auto would: past 16 pack files or
 * about 4,096 loose objects, write everything reachable from its refs into
 * one pack and delete the rest (libgit2 never packs by itself: each fetch
 * adds a pack and each commit loose objects, and a mirror with hundreds of
 * packs holds a descriptor per pack and searches them all on each lookup).
 * Call it between operations (reconcile_run does, after its passes),
 * never while one runs on the same mirror; a handle of another thread
 * reopens the mirror at its next fetch.
 */
int gitstore_maintain(struct gitstore *gs, char **err);
/*
 * Between jobs: write out the new objects held in memory and close the
 * repository; the next call reopens it.  libgit2 caches inflated delta
 * bases per pack file (up to 16 MB each, freed only with the pack, which
 * is shared by every handle of the process), so an idle daemon that keeps
 * its handles open keeps those caches too.
 */
void gitstore_release(struct gitstore *gs);

/*
 * Fetch remote_ref (a full ref name of the remote, such as a pull
 * request's head) into local_ref of the mirror, with the same
 * credentials, host key checks and timeouts as the branch.  A remote
 * without that ref fetches nothing (local_ref is then absent).
 */
enum gitstore_result gitstore_fetch_ref(struct gitstore *gs, const char *remote_ref,
                                        const char *local_ref, char **err);
/*
 * Fetch the branch into refs/remotes/origin/<branch>.  *head gets the
 * remote head; *exists is false when the remote has no such branch (empty
 * repository, or branch missing).  Errors name the URL without credentials.
 */
enum gitstore_result gitstore_fetch(struct gitstore *gs, git_oid *head,
                                    bool *exists, char **err);

/* One resource file in a tree. */
struct gitstore_entry {
    char *folder;
    char *slug;
    git_oid blob;
    const char *irregular; /* NULL for a file; else what it is ("a symbolic
                              link", "a submodule", "a directory"), static */
};

/*
 * The resources under the sub-path of commit (NULL or zero oid: none),
 * sorted by folder then slug.  Non-resource files are left out; an entry
 * named like a resource that is not a regular file is listed with
 * .irregular set, for the caller to report (never read as a resource).
 */
int gitstore_read_tree(struct gitstore *gs, const git_oid *commit,
                       struct gitstore_entry **entries, size_t *n,
                       char **err);
void gitstore_entries_free(struct gitstore_entry *entries, size_t n);

/* Read a blob into a new NUL-terminated buffer. */
int gitstore_read_blob(struct gitstore *gs, const git_oid *blob, char **data,
                       size_t *len, char **err);
/*
 * The same, but a blob larger than max bytes is refused from its header,
 * without inflating it, and remembered: the next call for it neither
 * reads nor logs again.  *err gives the size and the limit.
 */
int gitstore_read_blob_max(struct gitstore *gs, const git_oid *blob, size_t max, char **data,
                           size_t *len, char **err);
/* Write a blob into the mirror's object database. */
int gitstore_write_blob(struct gitstore *gs, const char *data, size_t len,
                        git_oid *out, char **err);

/* One file change for a commit. */
struct gitstore_change {
    const char *folder;
    const char *slug;
    const git_oid *blob;      /* new content; NULL deletes the file */
    const char *author_name;  /* NULL: the configured identity */
    const char *author_email;
    time_t when;              /* author time; 0 = now */
    const char *message;      /* whole message, trailers included */
};

/*
 * Build a chain of commits on parent (NULL or zero: a root commit), one per
 * change, in memory; *head gets the last.  The committer is the configured
 * identity.  Nothing is pushed and no ref moves.
 */
int gitstore_commit_chain(struct gitstore *gs, const git_oid *parent,
                          const struct gitstore_change *changes, size_t n,
                          git_oid *head, char **err);

/*
 * One commit on parent that sets (or deletes) every change at once, with
 * one message: the import of a first sync.
 */
int gitstore_commit_many(struct gitstore *gs, const git_oid *parent,
                         const struct gitstore_change *changes, size_t n,
                         const char *message, git_oid *head, char **err);

/*
 * Push commit to the branch as a fast-forward of what the remote holds
 * (expected, fetched before: zero when the branch did not exist), so a
 * remote that moved meanwhile gives GITSTORE_NONFASTFORWARD; expected NULL
 * forces the push (conflict branches).  On GITSTORE_OK
 * refs/remotes/origin/<branch> is advanced too.  ref is the remote ref to push to, or NULL for the
 * workspace branch (conflict branches pass "refs/heads/gitsyncd/...").
 */
enum gitstore_result gitstore_push(struct gitstore *gs, const char *ref,
                                   const git_oid *commit,
                                   const git_oid *expected, char **err);

/* Delete ref (refs/heads/...) on the remote; absent is done. */
enum gitstore_result gitstore_push_delete(struct gitstore *gs, const char *ref,
                                          char **err);

/* refs/gitsyncd/base: *exists false when there is none yet. */
int gitstore_base_get(struct gitstore *gs, git_oid *base, bool *exists,
                      char **err);
/*
 * Make a snapshot commit whose tree holds exactly entries (under the
 * sub-path), with the old base as parent, and move refs/gitsyncd/base to it
 * only if it still points at old (zero: must not exist).  *out gets it.
 */
int gitstore_base_set(struct gitstore *gs, const struct gitstore_entry *entries,
                      size_t n, const git_oid *old, const char *message,
                      git_oid *out, char **err);

/*
 * Cluster mode (DESIGN §10): the base is published on the remote as
 * refs/gitsyncd/base/<workspace>, so that any replica can take it.
 * adopt: make refs/gitsyncd/base want, fetching the published ref when
 * the mirror lacks the commit (an error names it when the remote lacks it
 * too).  publish: push base to the published ref.
 */
enum gitstore_result gitstore_base_adopt(struct gitstore *gs, const char *workspace,
                                         const git_oid *want, char **err);
enum gitstore_result gitstore_base_publish(struct gitstore *gs, const char *workspace,
                                           const git_oid *base, char **err);

enum gitstore_delta_type { GITSTORE_ADDED, GITSTORE_MODIFIED, GITSTORE_DELETED };

struct gitstore_delta {
    char *folder;
    char *slug;
    enum gitstore_delta_type type;
    git_oid old_blob; /* zero when added */
    git_oid new_blob; /* zero when deleted */
};

/* The resource changes from commit a to commit b (either may be zero). */
int gitstore_diff(struct gitstore *gs, const git_oid *a, const git_oid *b,
                  struct gitstore_delta **deltas, size_t *n, char **err);
void gitstore_deltas_free(struct gitstore_delta *deltas, size_t n);

/* The branch's last head, kept since the branch disappeared from the
 * remote (gitstore_fetch): *exists false when it did not. */
int gitstore_lost_head(struct gitstore *gs, git_oid *head, bool *exists, char **err);

/*
 * Recovery from a branch deleted on the remote while a base exists (an
 * error state for reconcile): push the base back as the branch, as a
 * commit on the branch's last head (refs/gitsyncd/lost-head, kept by
 * gitstore_fetch when the branch disappeared), or that head itself when
 * it holds the base already.  Refused, with *err, when the branch exists,
 * when there is no base or no known last head.  *head gets the pushed commit.
 */
enum gitstore_result gitstore_restore_branch(struct gitstore *gs, git_oid *head, char **err);

/* A readable name for a result ("non-fast-forward", ...). */
const char *gitstore_result_name(enum gitstore_result r);

#endif
