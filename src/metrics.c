/* metrics: counters, gauges and histograms in Prometheus text format. */
#include "autoconfig.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitsyncd/metrics.h"
#include "gitsyncd/util.h"

enum metrics_type { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double metrics_latency_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};
#define NBUCKETS (sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0])

/* One metric family: the table of everything gitsyncd exports. */
struct metrics_family {
    const char *name;
    enum metrics_type type;
    const char *help;
};

static const struct metrics_family metrics_families[] = {
    { "webhook_requests_total", M_COUNTER, "Webhook requests by workspace, source (git, platform) and HTTP status." },
    { "http_errors_total", M_COUNTER, "Error answers by HTTP status, on every route, also those to requests too malformed or large to route." },
    { "connections_refused_total", M_COUNTER, "Connections closed at once because max_connections were open." },
    { "requests_timed_out_total", M_COUNTER, "Connections closed because no whole request arrived within request_timeout." },
    { "accept_errors_total", M_COUNTER, "Failed accepts (out of descriptors, most likely); each pauses the listener for 250 ms." },
    { "queue_depth", M_GAUGE, "Jobs waiting for a worker." },
    { "jobs_running", M_GAUGE, "Jobs running now (busy workers)." },
    { "jobs_total", M_COUNTER, "Sync jobs run, by workspace and result (ok, error)." },
    { "job_duration_seconds", M_HISTOGRAM, "How long a sync job took." },
    { "commits_total", M_COUNTER, "Commits pushed to the branch for platform changes." },
    { "pushes_total", M_COUNTER, "Pushes to the Git remote by result." },
    { "resources_applied_total", M_COUNTER, "Resources applied to the platform by action." },
    { "conflicts_total", M_COUNTER, "Resources changed on both sides, by policy." },
    { "conflicts_open", M_GAUGE, "Conflicts waiting on a gitsyncd/conflict/ branch." },
    { "invalid_resources", M_GAUGE, "Resources skipped as invalid: files on the branch and objects on the platform." },
    { "invalid_platform_objects", M_GAUGE, "Platform objects not synced: invalid or duplicate slug, number out of range, over the limits." },
    { "refused_deletes", M_GAUGE, "Deletions refused because a push deleted more than max_deletes." },
    { "branch_missing", M_GAUGE, "1 while the workspace branch is missing on the remote and a base exists (nothing synced)." },
    { "platform_requests_total", M_COUNTER, "HTTP requests to the platform by method and status (0: no answer)." },
    { "platform_request_duration_seconds", M_HISTOGRAM, "Latency of platform requests." },
    { "last_sync_timestamp_seconds", M_GAUGE, "When the last successful sync of a workspace ended." },
    { "event_to_commit_seconds", M_HISTOGRAM, "From a platform change event to its commit on the remote." },
    { "push_to_apply_seconds", M_HISTOGRAM, "From a push webhook to the platform holding the change." },
    { "checks_total", M_COUNTER, "Pull request checks by workspace and result (ok, failed: invalid or guard, error)." },
    { "request_to_status_seconds", M_HISTOGRAM, "From a pull request webhook to its commit status posted." },
    { "json_regions", M_GAUGE, "Parsed JSON texts (webhook bodies, platform answers) whose values are still in memory; 0 while idle." },
    { "cluster_intake_total", M_COUNTER, "Cluster mode: webhook events by result (committed to the database, duplicate, error: answered 503)." },
    { "cluster_intake_seconds", M_HISTOGRAM, "Cluster mode: how long committing one webhook event to the database took." },
    { "cluster_lock_total", M_COUNTER, "Cluster mode: tries to take a workspace's lock, by result (acquired, busy: another replica runs it)." },
    { "cluster_db_errors_total", M_COUNTER, "Cluster mode: failed database statements and connections." },
    { "cluster_database_up", M_GAUGE, "Cluster mode: 1 while this replica's database connection for notifications is up." },
    { "cluster_events_pending", M_GAUGE, "Cluster mode: events waiting in the database, all workspaces (refreshed by the sweep)." },
    { "build_info", M_GAUGE, "The running version." },
};

struct metrics_series {
    const struct metrics_family *family;
    char *labels; /* rendered: a="x",b="y" (may be "") */
    double value; /* counter, gauge; histogram sum */
    unsigned long long count;
    unsigned long long buckets[NBUCKETS];
    struct metrics_series *next;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series *metrics_head;
static double metrics_start;

/* The family called name; aborts on a typo (a programming error). */
static const struct metrics_family *
metrics_family(const char *name)
{
    size_t i;

    for (i = 0; i < nitems(metrics_families); i++) {
        if (strcmp(metrics_families[i].name, name) == 0)
            return &metrics_families[i];
    }
    fprintf(stderr, "gitsyncd: fatal: unknown metric %s\n", name);
    abort();
}

/* Render label pairs from ap, escaping values. */
static char *
metrics_labels(va_list ap)
{
    struct buf b;
    const char *k, *v, *p;

    buf_init(&b);
    buf_adds(&b, "");
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        if (v == NULL)
            v = "";
        buf_printf(&b, "%s%s=\"", b.len ? "," : "", k);
        for (p = v; *p != '\0'; p++) {
            if (*p == '\\' || *p == '"')
                buf_addc(&b, '\\');
            if (*p == '\n')
                buf_adds(&b, "\\n");
            else
                buf_addc(&b, *p);
        }
        buf_addc(&b, '"');
    }
    return buf_detach(&b);
}

/* The series of family f with labels; created if missing; lock held. */
static struct metrics_series *
do_metrics_series(const struct metrics_family *f, char *labels)
{
    struct metrics_series *s;

    for (s = metrics_head; s != NULL; s = s->next) {
        if (s->family == f && strcmp(s->labels, labels) == 0) {
            free(labels);
            return s;
        }
    }
    s = xcalloc(1, sizeof *s);
    s->family = f;
    s->labels = labels;
    s->next = metrics_head;
    metrics_head = s;
    return s;
}

void
metrics_inc(const char *name, double n, ...)
{
    const struct metrics_family *f = metrics_family(name);
    va_list ap;
    char *labels;

    va_start(ap, n);
    labels = metrics_labels(ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_lock);
    do_metrics_series(f, labels)->value += n;
    pthread_mutex_unlock(&metrics_lock);
}

void
metrics_set(const char *name, double v, ...)
{
    const struct metrics_family *f = metrics_family(name);
    va_list ap;
    char *labels;

    va_start(ap, v);
    labels = metrics_labels(ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_lock);
    do_metrics_series(f, labels)->value = v;
    pthread_mutex_unlock(&metrics_lock);
}

void
metrics_observe(const char *name, double v, ...)
{
    const struct metrics_family *f = metrics_family(name);
    struct metrics_series *s;
    va_list ap;
    char *labels;
    size_t i;

    va_start(ap, v);
    labels = metrics_labels(ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_lock);
    s = do_metrics_series(f, labels);
    s->value += v;
    s->count++;
    for (i = 0; i < NBUCKETS; i++) {
        if (v <= metrics_latency_buckets[i])
            s->buckets[i]++;
    }
    pthread_mutex_unlock(&metrics_lock);
}

double
metrics_get(const char *name, ...)
{
    const struct metrics_family *f = metrics_family(name);
    struct metrics_series *s;
    double v = 0;
    va_list ap;
    char *labels;

    va_start(ap, name);
    labels = metrics_labels(ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_lock);
    for (s = metrics_head; s != NULL; s = s->next) {
        if (s->family == f && strcmp(s->labels, labels) == 0)
            v = f->type == M_HISTOGRAM ? (double)s->count : s->value;
    }
    pthread_mutex_unlock(&metrics_lock);
    free(labels);
    return v;
}

void
metrics_init(const char *version)
{
    metrics_start = now_wall();
    metrics_set("build_info", 1, "version", version, (char *)NULL);
    metrics_set("queue_depth", 0, (char *)NULL);
    metrics_set("jobs_running", 0, (char *)NULL);
}

void
metrics_shutdown(void)
{
    struct metrics_series *s, *next;

    pthread_mutex_lock(&metrics_lock);
    for (s = metrics_head; s != NULL; s = next) {
        next = s->next;
        free(s->labels);
        free(s);
    }
    metrics_head = NULL;
    pthread_mutex_unlock(&metrics_lock);
}

/* A number as Prometheus writes it. */
static void
metrics_number(struct buf *b, double v)
{
    if (isinf(v))
        buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(b, "%.0f", v);
    else
        buf_printf(b, "%.17g", v);
}

/* Resident memory from /proc/self/statm, in bytes. */
static double
metrics_rss(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

char *
metrics_render(void)
{
    const struct metrics_family *f;
    struct metrics_series *s;
    struct buf b;
    size_t i, j;

    buf_init(&b);
    pthread_mutex_lock(&metrics_lock);
    for (i = 0; i < nitems(metrics_families); i++) {
        f = &metrics_families[i];
        buf_printf(&b, "# HELP gitsyncd_%s %s\n# TYPE gitsyncd_%s %s\n", f->name, f->help,
                   f->name, f->type == M_COUNTER ? "counter" : f->type == M_GAUGE ? "gauge" : "histogram");
        for (s = metrics_head; s != NULL; s = s->next) {
            if (s->family != f)
                continue;
            if (f->type != M_HISTOGRAM) {
                buf_printf(&b, "gitsyncd_%s%s%s%s ", f->name, *s->labels ? "{" : "", s->labels,
                           *s->labels ? "}" : "");
                metrics_number(&b, s->value);
                buf_addc(&b, '\n');
                continue;
            }
            for (j = 0; j < NBUCKETS; j++) {
                buf_printf(&b, "gitsyncd_%s_bucket{%s%sle=\"", f->name, s->labels, *s->labels ? "," : "");
                metrics_number(&b, metrics_latency_buckets[j]);
                buf_printf(&b, "\"} %llu\n", s->buckets[j]);
            }
            buf_printf(&b, "gitsyncd_%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels,
                       *s->labels ? "," : "", s->count);
            buf_printf(&b, "gitsyncd_%s_sum%s%s%s ", f->name, *s->labels ? "{" : "", s->labels,
                       *s->labels ? "}" : "");
            metrics_number(&b, s->value);
            buf_printf(&b, "\ngitsyncd_%s_count%s%s%s %llu\n", f->name, *s->labels ? "{" : "",
                       s->labels, *s->labels ? "}" : "", s->count);
        }
    }
    pthread_mutex_unlock(&metrics_lock);
    buf_adds(&b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                 "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ");
    metrics_number(&b, metrics_rss());
    buf_adds(&b, "\n# HELP process_start_time_seconds Start time of the process since the epoch in seconds.\n"
                 "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ");
    buf_printf(&b, "%.3f\n", metrics_start);
    return buf_detach(&b);
}
