/* gitstore-maintain: keeping the mirror lean, as git gc --auto would. */
#include "autoconfig.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2/sys/odb_backend.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#include "gitstore-int.h"

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
