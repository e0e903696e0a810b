/*
 * plan: what merging a pull request (or a tree) would do to the platform
 * (DESIGN §11).  The request's changed resource files (since its merge
 * base with the workspace branch) are validated against the profile,
 * their references resolved against the merged tree, and compared with
 * the live platform: per resource create, update (which top-level
 * fields) or delete; the max_deletes guard and resources the platform
 * changed since the merge base are flagged.  A plan never changes the
 * platform or the remote; it only fetches into the mirror.
 */
#ifndef GITSYNCD_PLAN_H
#define GITSYNCD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "gitsyncd/config.h"

enum plan_action {
    PLAN_CREATE,
    PLAN_UPDATE,
    PLAN_DELETE,
    PLAN_UNCHANGED, /* the platform already holds the request's version */
};

struct plan_item {
    char *kind;
    char *slug;
    char *path;          /* in the repository */
    enum plan_action action;
    char **fields;       /* update: the top-level fields that differ */
    size_t nfields;
    bool platform_changed; /* the platform's version is not the merge base's */
};

/* A file that fails validation: path:line:col: message. */
struct plan_error {
    char *path;
    int line, col;
    char *message;
};

struct plan {
    char *workspace;
    char *source;        /* what was planned: a ref, or a directory */
    char head[41];       /* the request's commit, or "" for a directory */
    char target[41];     /* the workspace branch, or "" when it has none */
    char base[41];       /* their merge base, or "" */
    struct plan_item *items;   /* sorted by path */
    size_t nitems;
    struct plan_error *errors; /* sorted by path */
    size_t nerrors;
    size_t creates, updates, deletes, unchanged, drifted;
    long max_deletes;    /* -1: unlimited */
    bool guard;          /* deletes > max_deletes: the sync would refuse them */
};

/*
 * Plan ref of the workspace's remote (a full ref name, or a branch name)
 * against the workspace branch: both are fetched into the mirror.
 * Returns 0 with *out filled (even when files are invalid), -1 with *err
 * when the plan could not be made (fetch, platform, profile).
 */
int plan_ref(const struct config *cfg, const struct config_workspace *ws,
             const char *ref, struct plan *out, char **err);
/* Plan a directory holding the workspace's tree (its sub-path's content). */
int plan_dir(const struct config *cfg, const struct config_workspace *ws,
             const char *dir, struct plan *out, char **err);
void plan_free(struct plan *p);

/* True when nothing is invalid and the guard would not refuse. */
bool plan_ok(const struct plan *p);
/* One line: "2 to update, 1 to create; 1 invalid file" (a new string). */
char *plan_summary(const struct plan *p);
/* The plan for a terminal, JSON (a new reference), Markdown (a comment). */
void plan_print(FILE *f, const struct plan *p);
json_t *plan_json(const struct plan *p);
char *plan_markdown(const struct plan *p);

const char *plan_action_name(enum plan_action a);

#endif
