/*
 * queue: at most one pending job per workspace, later events merged into
 * it, run by a pool of worker threads; jobs of one workspace never run at
 * once (DESIGN §2).  The queue also owns the current configuration:
 * workers run with the one that was current when their job started, and a
 * replaced configuration is freed when no job uses it any more.
 */
#ifndef GITSYNCD_QUEUE_H
#define GITSYNCD_QUEUE_H

#include <stddef.h>

#include "gitsyncd/config.h"
#include "gitsyncd/job.h"

struct queue;

/* Start nworkers threads that run fn; the queue takes cfg. */
struct queue *queue_new(int nworkers, job_fn fn, void *arg, struct config *cfg);
/* Make cfg current (a reload); the old one is freed once idle. */
void queue_set_config(struct queue *q, struct config *cfg);

/* Ask for a full reconcile of workspace. */
void queue_add_full(struct queue *q, const char *workspace);
/* A push arrived: the branch moved to after. */
void queue_add_git(struct queue *q, const char *workspace, const char *after,
                   const char *delivery, double received_at);
/*
 * A pull/merge request wants a check: its head is at ref (sha as the
 * event says).  A later event for the same request replaces it.
 */
void queue_add_check(struct queue *q, const char *workspace,
                     const char *request, const char *ref, const char *sha,
                     const char *delivery, double received_at);
/* The platform changed a resource (r is copied). */
void queue_add_resource(struct queue *q, const char *workspace,
                        const struct job_resource *r);

/*
 * Cluster mode: the database holds events for workspace; queue an empty
 * job, which the job function fills from there (cluster.h).
 */
void queue_add_wake(struct queue *q, const char *workspace);

/* Jobs waiting for a worker. */
size_t queue_depth(struct queue *q);
/* Jobs run so far (tests). */
unsigned long queue_jobs_run(struct queue *q);
/* Stop: no new jobs start, running ones finish, pending ones are dropped. */
void queue_stop(struct queue *q);
void queue_free(struct queue *q);

#endif
