/*
 * reconcile: one two-way sync of a workspace (DESIGN §4).  Outbound first
 * (each resource changed on the platform since the base becomes one commit,
 * pushed with compare-and-swap), then inbound (each resource that differs
 * on the branch is validated and applied), then the base advances to what
 * both sides hold.  Level-triggered: a job's events only order commits and
 * name their authors; the states themselves are compared.
 */
#ifndef GITSYNCD_RECONCILE_H
#define GITSYNCD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "gitsyncd/config.h"
#include "gitsyncd/job.h"

/* One problem with one resource, for /status and the summary. */
struct reconcile_issue {
    char *kind;
    char *slug;
    char *path;    /* file in the repository, or NULL */
    char *id;      /* the platform's id (objects the platform returned), or NULL */
    char *message;
};

struct reconcile_issues {
    struct reconcile_issue *v;
    size_t n;
};

/* What one reconcile did. */
struct reconcile_report {
    int passes;             /* how many compare/act rounds ran */
    size_t commits;         /* outbound commits pushed */
    size_t pushes;          /* successful pushes */
    size_t push_retries;    /* non-fast-forward rebuilds */
    size_t created, updated, deleted; /* applied to the platform */
    size_t conflicts;
    size_t unchanged;       /* resources equal on both sides */
    char head[41];          /* remote branch head after the run, or "" */
    char base[41];          /* refs/gitsyncd/base after the run, or "" */
    struct reconcile_issues invalid;        /* files skipped as invalid */
    struct reconcile_issues refused_deletes; /* deletes over max_deletes */
    struct reconcile_issues conflicts_open;  /* branch policy, unresolved */
    struct reconcile_issues apply_errors;    /* the platform refused */
    /* objects the platform returned that cannot be synced (an invalid or
     * duplicate slug, a number out of range, over the codec's limits):
     * skipped, both directions, until fixed on the platform */
    struct reconcile_issues invalid_platform;
    struct reconcile_issues not_applied;     /* fields the API cannot change
                                                (kept across the job's passes) */
    double *event_to_commit; /* seconds, one per commit made for an event */
    size_t nevent_to_commit;
    double push_to_apply;    /* seconds from push webhook to applied, or -1 */
    bool branch_missing;     /* the branch is gone from the remote, a base exists */
    /* called for every platform request when set (metrics) */
};

/* Called for each platform request a reconcile makes (metrics). */
typedef void (*reconcile_request_fn)(const char *workspace, const char *method,
                                     int code, double seconds, void *arg);

/*
 * Run one reconcile of ws for job (NULL: a full one).  Returns 0 when
 * everything that could be synced was (invalid files and refused deletes
 * are reported, not failures), -1 with *err on failure.  The report is
 * filled in both cases; free it with reconcile_report_free.
 */
int reconcile_run(const struct config *cfg, const struct config_workspace *ws,
                  const struct job *job, struct reconcile_report *rep,
                  char **err);
void reconcile_report_free(struct reconcile_report *rep);

/*
 * Recovery from a deleted workspace branch (report.branch_missing): push
 * the base back as the branch, descending from its last head
 * (gitstore_restore_branch).  head (size >= 41) gets the pushed commit.
 */
int reconcile_restore_branch(const struct config *cfg, const struct config_workspace *ws,
                             char *head, size_t size, char **err);

/*
 * Cluster mode (cluster.h).  What ws has read of its platform's audit
 * log, as {"platform", "cursor", "actors"} (NULL: nothing yet; caller
 * decrefs), and its replacement by what another replica exported (a state
 * read from another platform URL is ignored).
 */
json_t *reconcile_audit_export(const struct config_workspace *ws);
void reconcile_audit_import(const struct config_workspace *ws, const json_t *state);
/* Make the mirror's base the commit want (hex), fetched from where another
 * replica published it if need be; with git.write pull_request or auto,
 * also take what the open request proposes from its branch on the remote. */
int reconcile_base_adopt(const struct config *cfg, const struct config_workspace *ws,
                         const char *want, char **err);
/* Publish the mirror's base on the remote unless it is known (hex, or
 * NULL); out (size >= 41) gets the base others should now read. */
int reconcile_base_publish(const struct config *cfg, const struct config_workspace *ws,
                           const char *known, char *out, size_t size, char **err);

/* Set the observer of platform requests (process-wide, before workers). */
void reconcile_set_request_observer(reconcile_request_fn fn, void *arg);

/* Drop this thread's cached repositories and clients (after a reload). */
void reconcile_thread_reset(void);

/* Free what workspaces remember between jobs (the audit log's cursor and
 * actors); at exit, once no job runs. */
void reconcile_shutdown(void);

#endif
