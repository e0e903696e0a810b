/*
 * platform: a profile-driven REST client (libcurl + jansson) for one
 * workspace's platform, and the mapping between a platform object and its
 * Git form (server fields dropped, references as slugs).  One struct
 * platform per thread: it owns a reused CURL handle.
 */
#ifndef GITSYNCD_PLATFORM_H
#define GITSYNCD_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "gitsyncd/config.h"
#include "gitsyncd/profile.h"

enum platform_result {
    PLATFORM_OK = 0,
    PLATFORM_ERROR = -1,     /* network, timeout, 5xx after retries */
    PLATFORM_NOTFOUND = -2,  /* 404 */
    PLATFORM_CONFLICT = -3,  /* 409 */
    PLATFORM_INVALID = -4,   /* 400, 422: the platform refused the content */
    PLATFORM_AUTH = -5,      /* 401, 403 */
    PLATFORM_NOTSUP = -6,    /* the profile says the platform cannot do it */
};

struct platform;

/* Counters a caller may read (retries made, requests sent, connections). */
struct platform_stats {
    unsigned long requests;
    unsigned long retries;
    unsigned long connections;
};

/* A client for workspace (name used in logs and metrics). */
struct platform *platform_new(const struct profile *profile,
                              const struct config_platform *cfg,
                              const char *workspace);
void platform_free(struct platform *pl);
const struct platform_stats *platform_stats(const struct platform *pl);

/* Called after every HTTP request: method, status (0: no answer), seconds. */
typedef void (*platform_observer_fn)(const char *method, int code,
                                     double seconds, void *arg);
void platform_set_observer(struct platform *pl, platform_observer_fn fn,
                           void *arg);

/* One resource as the platform holds it. */
struct platform_object {
    const struct profile_kind *kind;
    char *id;   /* platform id as text ("4711") */
    char *slug;
    json_t *raw; /* the object as the platform returned it */
};

/* Every resource of every kind: the platform state P, and its id<->slug index. */
struct platform_snapshot {
    struct platform_object *objects;
    size_t n;
    /* (kind, id), (kind, slug) and kind name -> index in objects, for the
     * lookups below (hashed: a listing of n objects costs n, not n^2).
     * NULL in a snapshot built by hand: the lookups then scan. */
    json_t *index;
};

/* List every kind, all pages. */
enum platform_result platform_snapshot(struct platform *pl,
                                       struct platform_snapshot **out,
                                       char **err);
void platform_snapshot_free(struct platform_snapshot *snap);
/* Append a copy of obj (an object of kind k as the platform returns it,
 * e.g. just created) so that later lookups find it; ignored without an
 * id or a slug. */
void platform_snapshot_add(struct platform_snapshot *snap,
                           const struct profile_kind *k, const json_t *obj);
/* Find by kind and slug, or by kind and id; NULL if absent. */
const struct platform_object *
platform_snapshot_find_slug(const struct platform_snapshot *snap,
                            const struct profile_kind *k, const char *slug);
const struct platform_object *
platform_snapshot_find_id(const struct platform_snapshot *snap,
                          const struct profile_kind *k, const char *id);

/* List all resources of kind k (every page) as a JSON array. */
enum platform_result platform_list(struct platform *pl,
                                   const struct profile_kind *k,
                                   json_t **items, char **err);
/* Get one by id, or by slug (NULL *item when there is none). */
enum platform_result platform_get(struct platform *pl,
                                  const struct profile_kind *k,
                                  const char *id, json_t **item, char **err);
enum platform_result platform_get_by_slug(struct platform *pl,
                                          const struct profile_kind *k,
                                          const char *slug, json_t **item,
                                          char **err);
/*
 * Create, update, delete; body is the platform form (ids, not slugs).
 * A create or update sends only the fields the profile's create: or
 * update: block lists (all, without one); a create whose body lacks a
 * field the profile requires on create is PLATFORM_INVALID, naming it.
 * actor ("Name <email>", or NULL) is sent as X-Actor where the platform
 * takes it.  Error messages carry the platform's own message and name the
 * resource.  *result (if not NULL) gets the object the platform returned.
 */
enum platform_result platform_create(struct platform *pl,
                                     const struct profile_kind *k,
                                     const json_t *body, const char *actor,
                                     json_t **result, char **err);
enum platform_result platform_update(struct platform *pl,
                                     const struct profile_kind *k,
                                     const char *id, const json_t *body,
                                     const char *actor, json_t **result,
                                     char **err);
/*
 * What a write could not do: the fields of body (platform form) that the
 * profile's create: or update: list leaves out and whose value the
 * platform's object after the write (after; NULL: before, unchanged)
 * does not hold, plus, on an update, fields the object had before that
 * body leaves out and the platform keeps.  A JSON array of platform field
 * names (see profile_git_name), empty when the write did everything.
 */
json_t *platform_unapplied(const struct profile_kind *k, bool create,
                           const json_t *body, const json_t *before,
                           const json_t *after);
enum platform_result platform_delete(struct platform *pl,
                                     const struct profile_kind *k,
                                     const char *id, const char *actor,
                                     char **err);

/* Audit entries after cursor (NULL: from the start), as a JSON array. */
enum platform_result platform_audit(struct platform *pl, const char *after,
                                    json_t **entries, char **err);

/*
 * The Git form of a platform object: server fields dropped, reference
 * fields replaced by the referenced resource's slug (looked up in snap).
 * Returns NULL with *err set if a reference names an unknown id.
 */
json_t *platform_to_git(const struct profile_kind *k, const json_t *raw,
                        const struct platform_snapshot *snap, char **err);
/*
 * The platform form of a Git document: slugs of references turned back
 * into ids (looked up in snap).  NULL with *err if a slug is unknown.
 */
json_t *platform_from_git(const struct profile_kind *k, const json_t *doc,
                          const struct platform_snapshot *snap, char **err);

const char *platform_result_name(enum platform_result r);

/*
 * Shutdown: from now on every platform request of the process (in flight
 * or started later) is aborted once it has run grace seconds past this
 * call or past its own start, whichever is later (checked about once a
 * second), and none is retried.  A platform that answers finishes the
 * running jobs; one that hangs cannot hold the exit for its timeout.
 */
void platform_stop(double grace);

#endif
