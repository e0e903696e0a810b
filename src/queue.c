/* queue: coalescing per-workspace jobs and the worker pool. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/log.h"
#include "gitsyncd/metrics.h"
#include "gitsyncd/queue.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

/*
 * A workspace whose job failed (its platform or remote down, hanging, or
 * refusing) waits before its next job: 1 s after the first failure, then
 * twice as long after each one more, at most 5 minutes.  Events meanwhile
 * merge into its pending job as usual, so it holds no worker while it
 * waits and other workspaces go on.  A job that succeeds ends the backoff.
 */
#define QUEUE_BACKOFF_MIN 1.0
#define QUEUE_BACKOFF_MAX 300.0

/* A configuration and the jobs using it. */
struct queue_conf {
    struct config *cfg;
    int refs;
};

/* One workspace's slot. */
struct queue_ws {
    char *name;
    struct job *pending;
    bool running;
    bool ready; /* in the ready list */
    unsigned failures; /* jobs failed in a row */
    double not_before; /* now_mono() before which no job starts (backoff) */
    struct queue_ws *next;
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t *threads;
    int nthreads;
    job_fn fn;
    void *arg;
    struct queue_conf *conf;
    struct queue_ws *slots;
    struct queue_ws **ready; /* FIFO */
    size_t nready, capready;
    size_t npending;
    size_t nrunning;
    unsigned long jobs_run;
    bool stopping;
};

/* Drop a reference to a configuration; lock held. */
static void
do_queue_conf_put(struct queue *q, struct queue_conf *c)
{
    if (--c->refs == 0 && c != q->conf) {
        config_free(c->cfg);
        free(c);
    }
}

/* The slot of workspace, created if missing; lock held. */
static struct queue_ws *
do_queue_slot(struct queue *q, const char *workspace)
{
    struct queue_ws *s;

    for (s = q->slots; s != NULL; s = s->next) {
        if (strcmp(s->name, workspace) == 0)
            return s;
    }
    s = xcalloc(1, sizeof *s);
    s->name = xstrdup(workspace);
    s->next = q->slots;
    q->slots = s;
    return s;
}

/* Put a slot with a pending job on the ready list and wake a worker; lock held. */
static void
do_queue_ready(struct queue *q, struct queue_ws *s)
{
    if (q->nready == q->capready) {
        q->capready = q->capready ? q->capready * 2 : 16;
        q->ready = xreallocarray(q->ready, q->capready, sizeof *q->ready);
    }
    q->ready[q->nready++] = s;
    s->ready = true;
    pthread_cond_signal(&q->cond);
}

/* Publish a workspace's queue state in /status; lock held. */
static void
do_queue_status(const struct queue_ws *s)
{
    status_update(s->name, json_pack("{s:b, s:b}", "queued", s->pending != NULL,
                                     "running", s->running));
}

/* The pending job of a slot, made if there is none; lock held. */
static struct job *
do_queue_job(struct queue *q, struct queue_ws *s)
{
    if (s->pending == NULL) {
        s->pending = xcalloc(1, sizeof *s->pending);
        s->pending->workspace = xstrdup(s->name);
        s->pending->first_event_at = now_wall();
        q->npending++;
        do_queue_status(s);
    }
    if (!s->running && !s->ready)
        do_queue_ready(q, s);
    return s->pending;
}

/* Publish the queue depth; lock held. */
static void
do_queue_gauge(struct queue *q)
{
    metrics_set("queue_depth", (double)q->npending, (char *)NULL);
    metrics_set("jobs_running", (double)q->nrunning, (char *)NULL);
}

void
queue_add_full(struct queue *q, const char *workspace)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping) {
        do_queue_job(q, do_queue_slot(q, workspace))->full = true;
        do_queue_gauge(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void
queue_add_git(struct queue *q, const char *workspace, const char *after,
              const char *delivery, double received_at)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping) {
        job_add_git(do_queue_job(q, do_queue_slot(q, workspace)), after, delivery, received_at);
        do_queue_gauge(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void
queue_add_check(struct queue *q, const char *workspace, const char *request,
                const char *ref, const char *sha, const char *delivery,
                double received_at)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping) {
        job_add_check(do_queue_job(q, do_queue_slot(q, workspace)), request, ref, sha,
                      delivery, received_at);
        do_queue_gauge(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void
queue_add_resource(struct queue *q, const char *workspace,
                   const struct job_resource *r)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping) {
        job_add_resource(do_queue_job(q, do_queue_slot(q, workspace)), r,
                         q->conf->cfg->max_dirty);
        do_queue_gauge(q);
    }
    pthread_mutex_unlock(&q->lock);
}

void
queue_add_wake(struct queue *q, const char *workspace)
{
    pthread_mutex_lock(&q->lock);
    if (!q->stopping) {
        do_queue_job(q, do_queue_slot(q, workspace));
        do_queue_gauge(q);
    }
    pthread_mutex_unlock(&q->lock);
}

/*
 * The first ready workspace not backing off, taken off the ready list; or
 * NULL, with *wait the seconds until one is due (0: none is waiting).
 * Lock held.
 */
static struct queue_ws *
do_queue_take(struct queue *q, double *wait)
{
    double now = now_mono(), w;
    struct queue_ws *s;
    size_t i;

    *wait = 0;
    for (i = 0; i < q->nready; i++) {
        s = q->ready[i];
        w = s->not_before - now;
        if (w <= 0) {
            memmove(q->ready + i, q->ready + i + 1, (q->nready - i - 1) * sizeof *q->ready);
            q->nready--;
            s->ready = false;
            return s;
        }
        if (*wait == 0 || w < *wait)
            *wait = w;
    }
    return NULL;
}

/* Wait on the queue's condition for at most seconds (0: no limit); lock held. */
static void
do_queue_wait(struct queue *q, double seconds)
{
    struct timespec ts;

    if (seconds <= 0) {
        pthread_cond_wait(&q->cond, &q->lock);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)seconds;
    ts.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

/* After a job of s: start, go on with or end its backoff; lock held. */
static void
do_queue_backoff(struct queue_ws *s, bool failed)
{
    char n[16], secs[32];
    double delay;
    unsigned i;

    if (!failed) {
        if (s->failures > 0) {
            log_info("the workspace syncs again: backoff ended", "workspace", s->name);
            status_update(s->name, json_pack("{s:i, s:f}", "consecutive_failures", 0,
                                             "backoff_seconds", 0.0));
        }
        s->failures = 0;
        s->not_before = 0;
        return;
    }
    s->failures++;
    delay = QUEUE_BACKOFF_MIN;
    for (i = 1; i < s->failures && delay < QUEUE_BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > QUEUE_BACKOFF_MAX)
        delay = QUEUE_BACKOFF_MAX;
    s->not_before = now_mono() + delay;
    snprintf(n, sizeof n, "%u", s->failures);
    snprintf(secs, sizeof secs, "%.0f", delay);
    log_warn("the workspace's sync failed: its next job waits (backoff)", "workspace", s->name,
             "consecutive_failures", n, "seconds", secs);
    status_update(s->name, json_pack("{s:i, s:f}", "consecutive_failures", (int)s->failures,
                                     "backoff_seconds", delay));
}

/* A worker: take a ready workspace's job, run it, repeat. */
static void *
queue_worker(void *arg)
{
    struct queue *q = arg;
    struct queue_ws *s;
    struct queue_conf *c;
    struct job *job;
    const struct config_workspace *ws;
    double wait;
    int rc;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        s = NULL;
        while (!q->stopping && (s = do_queue_take(q, &wait)) == NULL)
            do_queue_wait(q, wait);
        if (q->stopping)
            break;
        job = s->pending;
        s->pending = NULL;
        q->npending--;
        s->running = true;
        q->nrunning++;
        do_queue_status(s);
        c = q->conf;
        c->refs++;
        do_queue_gauge(q);
        pthread_mutex_unlock(&q->lock);

        ws = config_find_workspace(c->cfg, job->workspace);
        rc = 0;
        if (ws != NULL)
            rc = q->fn(c->cfg, ws, job, q->arg);
        else
            log_warn("job dropped: the workspace is no longer configured", "workspace",
                     job->workspace);
        job_free(job);

        pthread_mutex_lock(&q->lock);
        if (!q->stopping)
            do_queue_backoff(s, rc != 0);
        q->jobs_run++;
        s->running = false;
        q->nrunning--;
        do_queue_status(s);
        do_queue_gauge(q);
        do_queue_conf_put(q, c);
        /* Events that came in meanwhile wait in s->pending: queue it. */
        if (s->pending != NULL && !s->ready && !q->stopping)
            do_queue_ready(q, s);
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

struct queue *
queue_new(int nworkers, job_fn fn, void *arg, struct config *cfg)
{
    struct queue *q = xcalloc(1, sizeof *q);
    int i;

    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->fn = fn;
    q->arg = arg;
    q->conf = xcalloc(1, sizeof *q->conf);
    q->conf->cfg = cfg;
    q->conf->refs = 1;
    q->nthreads = nworkers > 0 ? nworkers : 1;
    q->threads = xcalloc((size_t)q->nthreads, sizeof *q->threads);
    for (i = 0; i < q->nthreads; i++)
        pthread_create(&q->threads[i], NULL, queue_worker, q);
    return q;
}

void
queue_set_config(struct queue *q, struct config *cfg)
{
    struct queue_conf *old;

    pthread_mutex_lock(&q->lock);
    old = q->conf;
    q->conf = xcalloc(1, sizeof *q->conf);
    q->conf->cfg = cfg;
    q->conf->refs = 1;
    do_queue_conf_put(q, old);
    pthread_mutex_unlock(&q->lock);
}

size_t
queue_depth(struct queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->npending;
    pthread_mutex_unlock(&q->lock);
    return n;
}

unsigned long
queue_jobs_run(struct queue *q)
{
    unsigned long n;

    pthread_mutex_lock(&q->lock);
    n = q->jobs_run;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void
queue_stop(struct queue *q)
{
    int i;

    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    q->stopping = true;
    if (q->npending > 0)
        log_info("stopping: pending jobs dropped (the next start reconciles in full)",
                 "pending", q->npending == 1 ? "1" : "several");
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    q->nthreads = 0;
}

void
queue_free(struct queue *q)
{
    struct queue_ws *s, *next;

    if (q == NULL)
        return;
    queue_stop(q);
    for (s = q->slots; s != NULL; s = next) {
        next = s->next;
        job_free(s->pending);
        free(s->name);
        free(s);
    }
    free(q->ready);
    free(q->threads);
    config_free(q->conf->cfg);
    free(q->conf);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}
