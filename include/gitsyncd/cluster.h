/*
 * cluster: several replicas sharing the work through PostgreSQL (DESIGN
 * §10), on when the configuration has a `cluster:` block.
 *
 * - Intake: a verified event is committed to gitsyncd_events (deduplicated
 *   by delivery id in gitsyncd_deliveries) before the webhook is answered;
 *   a trigger NOTIFYs channel "gitsyncd" with the workspace's name.
 * - Wake: each replica LISTENs; a notification queues an empty job for the
 *   workspace (queue_add_wake).  A sweep every cluster.sweep also wakes
 *   workspaces whose events a dead replica left, and claims the periodic
 *   full reconciles that are due (gitsyncd_workspaces.next_full), once per
 *   interval across the cluster.
 * - One writer: cluster_run_job runs a workspace's job only while this
 *   replica's connection holds the workspace's session advisory lock; the
 *   job is made of the events in the database, which are deleted only once
 *   it went through.  The base (published on the remote) and the audit
 *   cursor travel in gitsyncd_workspaces, so any replica can take over.
 *
 * Every thread uses its own connection.  Nothing here blocks the caller
 * for longer than cluster.connect_timeout when the database is down.
 */
#ifndef GITSYNCD_CLUSTER_H
#define GITSYNCD_CLUSTER_H

#include <stdbool.h>

#include "gitsyncd/config.h"
#include "gitsyncd/job.h"

struct cluster;
struct queue;

enum cluster_intake {
    CLUSTER_COMMITTED,   /* in the database: answer 202 */
    CLUSTER_DUPLICATE,   /* its delivery id was seen: answer 200 */
    CLUSTER_UNAVAILABLE, /* the database could not take it: answer 503 */
};

/* Take cfg's cluster settings (cfg->cluster.database must be set). */
struct cluster *cluster_new(const struct config *cfg);
/* Start the listener thread; wakes go to q. */
void cluster_start(struct cluster *cl, struct queue *q);
/* The workspaces of a new configuration (start, reload). */
void cluster_set_workspaces(struct cluster *cl, const struct config *cfg);
/* True while the database is reachable and its schema current (/readyz). */
bool cluster_ready(struct cluster *cl);
/* This replica's name. */
const char *cluster_replica(const struct cluster *cl);

/* Intake, from any thread (each uses a connection of its own). */
enum cluster_intake cluster_add_git(struct cluster *cl, const char *workspace,
                                    const char *after, const char *delivery,
                                    double received_at);
enum cluster_intake cluster_add_check(struct cluster *cl, const char *workspace,
                                      const char *request, const char *ref,
                                      const char *sha, const char *delivery,
                                      double received_at);
enum cluster_intake cluster_add_resource(struct cluster *cl, const char *workspace,
                                         const struct job_resource *r,
                                         const char *delivery);

/*
 * The job function in cluster mode, for the wake job a worker took: take
 * the workspace's lock (busy: return 0, its holder goes on), make the job
 * of the events in the database, run fn with it, publish the base and the
 * audit state, delete the events it handled, let go.  Returns fn's result.
 */
int cluster_run_job(struct cluster *cl, const struct config *cfg,
                    const struct config_workspace *ws, const struct job *wake,
                    job_fn fn, void *arg);

/* Why the last cluster_run_job ran nothing (lock busy: which replica holds
 * it; database unavailable; backoff), or NULL. */
const char *cluster_last_refusal(struct cluster *cl);

/*
 * `gitsyncd doctor`: connect with cfg's cluster settings and say, in
 * *report (caller frees), what the database holds for workspace.  0 when
 * it is usable.
 */
int cluster_probe(const struct config *cfg, const char *workspace, char **report);

/* Stop the listener; close every connection (threads using them stopped). */
void cluster_stop(struct cluster *cl);
void cluster_free(struct cluster *cl);

#endif
