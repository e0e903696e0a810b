/* cmd-serve: `gitsyncd serve`, the daemon: HTTP front, queue, workers. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <git2.h>
#include <jansson.h>

#include "gitsyncd/check.h"
#include "gitsyncd/cluster.h"
#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/http.h"
#include "gitsyncd/log.h"
#include "gitsyncd/metrics.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/queue.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/statelock.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

/* A periodic full reconcile of one workspace. */
struct serve_timer {
    struct event *ev;
    char *workspace;
    struct serve *sv;
};

struct serve {
    struct event_base *base;
    const char *path;
    struct config *cfg; /* current; owned by the queue */
    struct queue *queue;
    struct http_server *http;
    struct cluster *cluster; /* cluster mode, or NULL */
    struct serve_timer *timers;
    size_t ntimers;
};

/* Blocks from this size up get their own mapping (see cmd_serve). */
#define SERVE_MMAP_THRESHOLD (128 * 1024)

static void
serve_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd [-c FILE] serve\n"
            "\n"
            "Run the daemon: listen for webhooks from the Git host and the platform,\n"
            "serve /metrics, /status, /healthz and /readyz, and keep every configured\n"
            "workspace in two-way sync (a full reconcile at start-up and every\n"
            "sync.interval).  SIGHUP reloads the configuration (a broken one is\n"
            "logged and the old one kept); SIGTERM stops accepting, lets running\n"
            "syncs finish (cancelling a platform request that runs 5 s past it)\n"
            "and exits 0.  Logs go to standard error.\n");
}

/* An ISO 8601 UTC time. */
static json_t *
serve_time(double t)
{
    char buf[32];
    time_t s = (time_t)t;
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

/* A list of issues for /status. */
static json_t *
serve_issues(const struct reconcile_issues *list)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < list->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "kind", list->v[i].kind,
                                           "slug", list->v[i].slug, "path", list->v[i].path,
                                           "id", list->v[i].id, "message", list->v[i].message));
    return a;
}

/* Platform requests, counted per workspace, method and status. */
static void
serve_observe_request(const char *workspace, const char *method, int code,
                      double seconds, void *arg)
{
    char c[8];

    (void)arg;
    snprintf(c, sizeof c, "%d", code);
    metrics_inc("platform_requests_total", 1, "workspace", workspace, "method", method,
                "code", c, (char *)NULL);
    metrics_observe("platform_request_duration_seconds", seconds, (char *)NULL);
}

/* One reconcile, then metrics, status and a log line. */
static int
serve_sync(const struct config *cfg, const struct config_workspace *ws,
           const struct job *job, void *arg)
{
    struct reconcile_report rep;
    const char *w = ws->name;
    double t0 = now_wall(), took;
    char *err = NULL, buf[64];
    json_t *st;
    size_t i;
    int rc;

    (void)arg;
    rc = reconcile_run(cfg, ws, job, &rep, &err);
    /* A pass parses whole listings and trees, then frees them: give the
     * freed pages back, so that RSS follows what is live (glibc keeps them
     * otherwise, and a long-running daemon looks like it leaks). */
    malloc_trim(0);
    took = now_wall() - t0;
    metrics_inc("jobs_total", 1, "workspace", w, "result", rc == 0 ? "ok" : "error", (char *)NULL);
    metrics_observe("job_duration_seconds", took, (char *)NULL);
    metrics_inc("commits_total", (double)rep.commits, "workspace", w, (char *)NULL);
    if (rep.pushes > 0)
        metrics_inc("pushes_total", (double)rep.pushes, "workspace", w, "result", "ok", (char *)NULL);
    if (rep.push_retries > 0)
        metrics_inc("pushes_total", (double)rep.push_retries, "workspace", w, "result",
                    "non-fast-forward", (char *)NULL);
    if (rc != 0 && err != NULL && strncmp(err, "push failed", 11) == 0)
        metrics_inc("pushes_total", 1, "workspace", w, "result", "error", (char *)NULL);
    metrics_inc("resources_applied_total", (double)rep.created, "workspace", w, "action", "created", (char *)NULL);
    metrics_inc("resources_applied_total", (double)rep.updated, "workspace", w, "action", "updated", (char *)NULL);
    metrics_inc("resources_applied_total", (double)rep.deleted, "workspace", w, "action", "deleted", (char *)NULL);
    metrics_inc("conflicts_total", (double)rep.conflicts, "workspace", w, "policy",
                config_conflict_name(ws->sync.conflict), (char *)NULL);
    metrics_set("conflicts_open", (double)rep.conflicts_open.n, "workspace", w, (char *)NULL);
    metrics_set("refused_deletes", (double)rep.refused_deletes.n, "workspace", w, (char *)NULL);
    metrics_set("branch_missing", rep.branch_missing ? 1 : 0, "workspace", w, (char *)NULL);
    if (rc == 0) {
        metrics_set("invalid_resources", (double)(rep.invalid.n + rep.invalid_platform.n),
                    "workspace", w, (char *)NULL);
        metrics_set("invalid_platform_objects", (double)rep.invalid_platform.n, "workspace", w,
                    (char *)NULL);
        metrics_set("last_sync_timestamp_seconds", now_wall(), "workspace", w, (char *)NULL);
    }
    for (i = 0; i < rep.nevent_to_commit; i++)
        metrics_observe("event_to_commit_seconds", rep.event_to_commit[i], (char *)NULL);
    if (rep.push_to_apply >= 0)
        metrics_observe("push_to_apply_seconds", rep.push_to_apply, (char *)NULL);

    st = json_pack("{s:o, s:s, s:f, s:I, s:I, s:I, s:I, s:I}", "last_run", serve_time(t0),
                   "last_result", rc == 0 ? "ok" : "error", "last_duration_seconds", took,
                   "commits", (json_int_t)rep.commits, "created", (json_int_t)rep.created,
                   "updated", (json_int_t)rep.updated, "deleted", (json_int_t)rep.deleted,
                   "conflicts", (json_int_t)rep.conflicts);
    if (rc == 0) {
        json_object_set_new(st, "last_success", serve_time(now_wall()));
        json_object_set_new(st, "head", json_string(rep.head));
        json_object_set_new(st, "base", json_string(rep.base));
        json_object_set_new(st, "invalid_files", serve_issues(&rep.invalid));
        json_object_set_new(st, "refused_deletes", serve_issues(&rep.refused_deletes));
        json_object_set_new(st, "unresolved_conflicts", serve_issues(&rep.conflicts_open));
        json_object_set_new(st, "apply_errors", serve_issues(&rep.apply_errors));
        json_object_set_new(st, "invalid_resources", serve_issues(&rep.invalid_platform));
        json_object_set_new(st, "not_applied", serve_issues(&rep.not_applied));
        json_object_set_new(st, "last_error", json_null());
    } else {
        json_object_set_new(st, "last_error", json_string(err != NULL ? err : "unknown"));
        json_object_set_new(st, "last_error_at", serve_time(now_wall()));
    }
    json_object_set_new(st, "branch", json_string(ws->git.branch));
    json_object_set_new(st, "state", json_string(rep.branch_missing ? "branch_missing"
                                                 : rc == 0 ? "ok" : "error"));
    status_update(w, st);
    snprintf(buf, sizeof buf, "%.3f", took);
    if (rc == 0)
        log_info("sync done", "workspace", w, "seconds", buf, "full",
                 job != NULL && job->full ? "true" : "false");
    else
        log_error("sync failed", "workspace", w, "seconds", buf, "error", err);
    reconcile_report_free(&rep);
    free(err);
    return rc;
}

/* The job function: the sync it asks for, then its request checks. */
static int
serve_job(const struct config *cfg, const struct config_workspace *ws,
          const struct job *job, void *arg)
{
    enum check_result r;
    char *err;
    size_t i;
    int rc = 0;

    if (job_wants_sync(job))
        rc = serve_sync(cfg, ws, job, arg);
    for (i = 0; job != NULL && i < job->nchecks; i++) {
        err = NULL;
        r = check_run(cfg, ws, &job->checks[i], &err);
        metrics_inc("checks_total", 1, "workspace", ws->name, "result", check_result_name(r), (char *)NULL);
        if (r != CHECK_ERROR && job->checks[i].received_at > 0)
            metrics_observe("request_to_status_seconds", now_wall() - job->checks[i].received_at, (char *)NULL);
        free(err);
    }
    return rc;
}

/* Cluster mode's job function: the job is made from the database. */
static int
serve_cluster_job(const struct config *cfg, const struct config_workspace *ws,
                  const struct job *job, void *arg)
{
    struct serve *sv = arg;

    return cluster_run_job(sv->cluster, cfg, ws, job, serve_job, NULL);
}

/* Timer: queue a full reconcile. */
static void
serve_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct serve_timer *t = arg;

    (void)fd;
    (void)what;
    log_debug("periodic full reconcile", "workspace", t->workspace);
    queue_add_full(t->sv->queue, t->workspace);
}

/* (Re)make the interval timers of the current configuration. */
static void
serve_timers(struct serve *sv)
{
    struct timeval tv;
    size_t i;

    for (i = 0; i < sv->ntimers; i++) {
        event_free(sv->timers[i].ev);
        free(sv->timers[i].workspace);
    }
    free(sv->timers);
    sv->timers = xcalloc(sv->cfg->nworkspaces + 1, sizeof *sv->timers);
    sv->ntimers = 0;
    /* In a cluster the database says when a full reconcile is due. */
    for (i = 0; sv->cluster == NULL && i < sv->cfg->nworkspaces; i++) {
        const struct config_workspace *ws = &sv->cfg->workspaces[i];
        struct serve_timer *t;

        if (ws->sync.interval_ms <= 0)
            continue;
        t = &sv->timers[sv->ntimers++];
        t->workspace = xstrdup(ws->name);
        t->sv = sv;
        t->ev = event_new(sv->base, -1, EV_PERSIST, serve_timer_cb, t);
        tv.tv_sec = (time_t)(ws->sync.interval_ms / 1000);
        tv.tv_usec = (suseconds_t)(ws->sync.interval_ms % 1000) * 1000;
        event_add(t->ev, &tv);
    }
}

/* A full reconcile of every workspace. */
static void
serve_all_full(struct serve *sv)
{
    const char **names = xcalloc(sv->cfg->nworkspaces + 1, sizeof *names);
    size_t i;

    for (i = 0; i < sv->cfg->nworkspaces; i++) {
        names[i] = sv->cfg->workspaces[i].name;
        if (sv->cluster == NULL)
            queue_add_full(sv->queue, names[i]);
    }
    /* A cluster runs new workspaces' first full reconcile when it
     * registers them, and the others' when they are due. */
    if (sv->cluster != NULL)
        cluster_set_workspaces(sv->cluster, sv->cfg);
    status_keep_only(names);
    free(names);
}

/* SIGHUP: load the file again; keep the old configuration if it is broken. */
static void
serve_reload(evutil_socket_t fd, short what, void *arg)
{
    struct serve *sv = arg;
    struct config *cfg = NULL;
    char *err = NULL;

    (void)fd;
    (void)what;
    log_info("reloading the configuration", "file", sv->path);
    if (config_load(sv->path, &cfg, &err) != 0 || http_set_config(sv->http, cfg, &err) != 0) {
        log_error("reload failed: keeping the old configuration", "error", err);
        free(err);
        config_free(cfg);
        return;
    }
    if (strcmp(cfg->listen, sv->cfg->listen) != 0)
        log_warn("listen changed: it takes effect at the next restart", "listen", cfg->listen);
    if (cfg->http_threads != sv->cfg->http_threads) {
        char n[16];

        snprintf(n, sizeof n, "%d", cfg->http_threads);
        log_warn("http_threads changed: it takes effect at the next restart", "http_threads", n);
    }
    log_set_level(cfg->log_level);
    log_set_format(cfg->log_format);
    cmd_apply_log_opts();
    sv->cfg = cfg;
    queue_set_config(sv->queue, cfg);
    serve_timers(sv);
    serve_all_full(sv);
    {
        char n[24];

        snprintf(n, sizeof n, "%zu", cfg->nworkspaces);
        log_info("configuration reloaded", "workspaces", n);
    }
}

/*
 * Seconds a platform request may run after SIGTERM (or after it started,
 * if later) before it is cancelled: running syncs finish against a
 * platform that answers, and one that hangs cannot hold the exit for its
 * timeout (a sync cut short is finished by the next start, as after a
 * crash).
 */
#define SERVE_STOP_GRACE 5.0

/* SIGTERM, SIGINT: stop accepting, let running jobs finish (their platform
 * requests bounded by SERVE_STOP_GRACE), leave the loop. */
static void
serve_stop(evutil_socket_t fd, short what, void *arg)
{
    struct serve *sv = arg;

    (void)fd;
    (void)what;
    log_info("stopping: no new requests; waiting for running syncs "
             "(a platform request is cancelled 5 s after this or after it started)");
    platform_stop(SERVE_STOP_GRACE);
    http_stop_accepting(sv->http);
    queue_stop(sv->queue);
    event_base_loopbreak(sv->base);
}

int
cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    struct serve sv;
    struct statelock *lock = NULL;
    struct event *sigterm, *sigint, *sighup;
    char *err = NULL;
    int c, r, rc = EXIT_OK;
    size_t i;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            serve_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                serve_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        serve_usage(stderr);
        return EXIT_USAGE;
    }
    memset(&sv, 0, sizeof sv);
    sv.path = global_opts.config_path != NULL ? global_opts.config_path : GITSYNCD_DEFAULT_CONFIG;
    if (config_load(sv.path, &sv.cfg, &err) != 0) {
        fprintf(stderr, "gitsyncd: %s\n", err);
        free(err);
        return EXIT_USAGE;
    }
    log_set_level(sv.cfg->log_level);
    log_set_format(sv.cfg->log_format);
    if (cmd_apply_log_opts() != 0) {
        config_free(sv.cfg);
        return EXIT_USAGE;
    }
    if (mkdir(sv.cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "gitsyncd: state_dir %s: %s\n", sv.cfg->state_dir, strerror(errno));
        config_free(sv.cfg);
        return EXIT_FAILURE_RUNTIME;
    }
    /* One process per state_dir: a second serve, or a cron'd sync --once,
     * would race this one on the mirrors' refs. */
    if (statelock_acquire(sv.cfg->state_dir, "serve", 0, &lock, &err) != 0) {
        fprintf(stderr, "gitsyncd: refusing to start: %s\n", err);
        free(err);
        config_free(sv.cfg);
        return EXIT_FAILURE_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);
    /*
     * A job's large buffers (a listing page, a folder's tree, a pack
     * window's delta base) come and go.  glibc raises its mmap threshold
     * to the size of the largest block freed (up to 32 MB), after which
     * such buffers are carved from the worker's heap, which then stays as
     * large as the largest job made it, partly resident, though the live
     * heap between jobs is a few MB (the soak measured 3.3 MB live in
     * 37 MB of arenas).  A fixed threshold keeps them in their own
     * mappings, given back when freed.
     */
    mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    git_libgit2_init();
    evthread_use_pthreads();
    metrics_init(PACKAGE_VERSION);
    reconcile_set_request_observer(serve_observe_request, NULL);

    sv.base = event_base_new();
    if (sv.cfg->cluster.database != NULL) {
        sv.cluster = cluster_new(sv.cfg);
        log_info("cluster mode: replicas share the work through PostgreSQL", "replica",
                 cluster_replica(sv.cluster));
        sv.queue = queue_new(sv.cfg->workers, serve_cluster_job, &sv, sv.cfg);
        cluster_start(sv.cluster, sv.queue);
    } else {
        sv.queue = queue_new(sv.cfg->workers, serve_job, NULL, sv.cfg);
    }
    sv.http = http_start(sv.base, sv.cfg, sv.queue, sv.cluster, &err);
    if (sv.http == NULL) {
        fprintf(stderr, "gitsyncd: %s\n", err);
        free(err);
        queue_free(sv.queue);
        cluster_free(sv.cluster);
        event_base_free(sv.base);
        statelock_release(lock);
        return EXIT_FAILURE_RUNTIME;
    }
    sigterm = evsignal_new(sv.base, SIGTERM, serve_stop, &sv);
    sigint = evsignal_new(sv.base, SIGINT, serve_stop, &sv);
    sighup = evsignal_new(sv.base, SIGHUP, serve_reload, &sv);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);
    serve_timers(&sv);
    serve_all_full(&sv);
    http_set_ready(sv.http, true);
    {
        char n[24];

        char t[24];

        snprintf(n, sizeof n, "%d", sv.cfg->workers);
        snprintf(t, sizeof t, "%d", sv.cfg->http_threads);
        log_info("gitsyncd serving", "version", PACKAGE_VERSION, "listen", sv.cfg->listen,
                 "admin_listen", sv.cfg->admin_listen ? sv.cfg->admin_listen : "",
                 "workers", n, "http_threads", t);
    }
    event_base_dispatch(sv.base);

    for (i = 0; i < sv.ntimers; i++) {
        event_free(sv.timers[i].ev);
        free(sv.timers[i].workspace);
    }
    free(sv.timers);
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    http_free(sv.http);
    /* The listener wakes workers: it stops first; the connections close
     * once the workers are gone. */
    cluster_stop(sv.cluster);
    queue_free(sv.queue);
    cluster_free(sv.cluster);
    event_base_free(sv.base);
    reconcile_shutdown();
    status_shutdown();
    metrics_shutdown();
    git_libgit2_shutdown();
    curl_global_cleanup();
    log_info("gitsyncd stopped");
    statelock_release(lock);
    return rc;
}
