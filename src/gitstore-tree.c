/* gitstore-tree: reading resource trees and blobs, building trees and
 * commits in memory, the base snapshot and diffs between commits. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#include "gitstore-int.h"

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
