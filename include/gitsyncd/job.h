/*
 * job: the unit of work the queue hands to a worker, and the function that
 * runs it (the reconciler).  Events are hints: a job says what is known to
 * have changed; the reconcile compares real states.
 */
#ifndef GITSYNCD_JOB_H
#define GITSYNCD_JOB_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct config_workspace;

/* A resource the platform said changed (from one change event). */
struct job_resource {
    char *kind;        /* profile kind name, or NULL if only the id is known */
    char *id;          /* platform id as text, or NULL */
    char *slug;        /* or NULL */
    char *action;      /* "created", "updated", "deleted", or NULL */
    char *event_id;    /* webhook-id of the event, for Gitsyncd-Event */
    char *actor_name;  /* who made the change, or NULL */
    char *actor_email;
    long long seq;     /* platform's sequence number, or -1 */
    double received_at; /* wall clock when the event arrived */
};

/* A pull/merge request to check (DESIGN §11), from one request event. */
struct job_check {
    char *request;     /* its number on the Git host */
    char *ref;         /* the remote ref holding its head */
    char *sha;         /* its head as the event named it, or NULL */
    char *delivery;    /* the event's delivery id, or NULL */
    double received_at; /* wall clock when the event arrived */
};

struct job {
    char *workspace;
    bool full;         /* compare everything (start-up, interval, overflow) */
    bool git_moved;    /* a push webhook arrived */
    char *git_after;   /* the pushed commit, hex, or NULL */
    char *git_delivery; /* delivery id of the push */
    double git_received_at; /* wall clock of the first push webhook merged in */
    struct job_resource *dirty; /* in arrival order, one entry per resource */
    size_t ndirty;
    double first_event_at; /* wall clock of the oldest event merged in */
    struct job_check *checks; /* requests to check, one entry per request */
    size_t nchecks;
};

/*
 * Run one job for one workspace.  Called on a worker thread; never two at
 * once for the same workspace.  Returns 0 on success, -1 on failure (the
 * job is counted as failed; the next event or interval retries).
 */
typedef int (*job_fn)(const struct config *cfg,
                      const struct config_workspace *ws,
                      const struct job *job, void *arg);

void job_free(struct job *job);

/* Merge one event into j (the queue's coalescing; cluster mode's too). */
/* A push: the branch moved to after.  The first arrival time is kept. */
void job_add_git(struct job *j, const char *after, const char *delivery,
                 double received_at);
/* A request to check; a later event for the same request replaces it. */
void job_add_check(struct job *j, const char *request, const char *ref,
                   const char *sha, const char *delivery, double received_at);
/* A changed resource (copied); one entry per resource, a later event
 * replacing an earlier one; past max_dirty the job becomes full. */
void job_add_resource(struct job *j, const struct job_resource *r,
                      size_t max_dirty);
/* True if a job asks for a sync (not only for checks). */
bool job_wants_sync(const struct job *job);
/* Free the strings of one check (not c itself). */
void job_check_free(struct job_check *c);
/* Free the strings of one resource event (not r itself). */
void job_resource_free(struct job_resource *r);

#endif
