/* Unit tests for queue: coalescing, one job per workspace, parallelism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitsyncd/config.h"
#include "gitsyncd/queue.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int runs, running, max_running, same_ws_overlap;
static int running_per_ws[8];
static size_t last_ndirty;
static bool last_full;
static int sleep_ms;

/* A slow job that records what ran and how much overlapped. */
static int
slow_job(const struct config *cfg, const struct config_workspace *ws,
         const struct job *job, void *arg)
{
    int idx = (int)(ws - cfg->workspaces);

    (void)arg;
    pthread_mutex_lock(&lock);
    runs++;
    running++;
    if (running > max_running)
        max_running = running;
    if (++running_per_ws[idx] > 1)
        same_ws_overlap = 1;
    last_ndirty = job->ndirty;
    last_full = job->full;
    pthread_mutex_unlock(&lock);
    usleep((useconds_t)sleep_ms * 1000);
    pthread_mutex_lock(&lock);
    running--;
    running_per_ws[idx]--;
    pthread_mutex_unlock(&lock);
    return 0;
}

static struct config *
make_config(int nws, size_t max_dirty)
{
    struct config *cfg = NULL;
    struct buf b;
    char *err = NULL;
    int i;

    buf_init(&b);
    buf_printf(&b, "max_dirty: %zu\nworkspaces:\n", max_dirty);
    for (i = 0; i < nws; i++)
        buf_printf(&b, "  - name: w%d\n    platform: {profile: demo, url: 'http://127.0.0.1:1', token: t}\n"
                       "    git: {url: 'file:///nonexistent'}\n", i);
    if (config_parse("q.yaml", b.data, b.len, &cfg, &err) != 0)
        fail_msg("%s", err);
    buf_free(&b);
    return cfg;
}

static void
reset(int ms)
{
    runs = running = max_running = same_ws_overlap = 0;
    memset(running_per_ws, 0, sizeof running_per_ws);
    sleep_ms = ms;
}

/*
 * True if /status shows a workspace with a job queued or running: the
 * queue sets these under its lock, so a job a worker has taken but not
 * yet started still counts (queue_depth() no longer does).
 */
static bool
status_busy(void)
{
    char *text = status_render();
    json_t *doc = json_loads(text, 0, NULL), *w;
    const char *name;
    bool busy = false;

    json_object_foreach(json_object_get(doc, "workspaces"), name, w) {
        if (json_is_true(json_object_get(w, "queued")) ||
            json_is_true(json_object_get(w, "running")))
            busy = true;
    }
    json_decref(doc);
    free(text);
    return busy;
}

/* Wait until the queue is idle and nothing runs. */
static void
drain(struct queue *q)
{
    int i, r;

    for (i = 0; i < 1000; i++) {
        pthread_mutex_lock(&lock);
        r = running;
        pthread_mutex_unlock(&lock);
        if (queue_depth(q) == 0 && r == 0 && !status_busy())
            return;
        usleep(10000);
    }
    fail_msg("the queue never drained");
}

/* 1,000 events while a job runs become at most one more job. */
static void
test_coalesce(void **state)
{
    struct queue *q;
    struct job_resource r;
    char id[16];
    int i;

    (void)state;
    reset(300);
    q = queue_new(2, slow_job, NULL, make_config(1, 2000));
    queue_add_full(q, "w0");
    usleep(50000);
    memset(&r, 0, sizeof r);
    r.kind = "model";
    for (i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "%d", i % 100);
        r.id = id;
        r.received_at = now_wall();
        queue_add_resource(q, "w0", &r);
    }
    assert_true(queue_depth(q) <= 1);
    usleep(50000);
    drain(q);
    assert_int_equal(runs, 2);
    assert_int_equal(same_ws_overlap, 0);
    /* One entry per resource: 100 distinct ids. */
    assert_int_equal(last_ndirty, 100);
    queue_free(q);
}

/* Past max_dirty the pending job becomes a full reconcile. */
static void
test_overflow_becomes_full(void **state)
{
    struct queue *q;
    struct job_resource r;
    char id[16];
    int i;

    (void)state;
    reset(200);
    q = queue_new(1, slow_job, NULL, make_config(1, 10));
    queue_add_full(q, "w0");
    usleep(50000);
    memset(&r, 0, sizeof r);
    r.kind = "model";
    for (i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "%d", i);
        r.id = id;
        queue_add_resource(q, "w0", &r);
    }
    drain(q);
    assert_int_equal(runs, 2);
    assert_true(last_full);
    assert_int_equal(last_ndirty, 10);
    queue_free(q);
}

/* Eight workspaces run at the same time on eight workers. */
static void
test_parallel(void **state)
{
    struct queue *q;
    char name[8];
    int i;

    (void)state;
    reset(500);
    q = queue_new(8, slow_job, NULL, make_config(8, 100));
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "w%d", i);
        queue_add_full(q, name);
    }
    usleep(100000);
    drain(q);
    assert_int_equal(runs, 8);
    assert_int_equal(max_running, 8);
    queue_free(q);
}

/* Events for one busy workspace never run two of its jobs at once. */
static void
test_one_at_a_time(void **state)
{
    struct queue *q;
    int i;

    (void)state;
    reset(20);
    q = queue_new(4, slow_job, NULL, make_config(1, 100));
    for (i = 0; i < 200; i++) {
        queue_add_git(q, "w0", "abc", NULL, now_wall());
        usleep(500);
    }
    drain(q);
    assert_int_equal(same_ws_overlap, 0);
    assert_true(runs >= 2 && runs < 200);
    queue_free(q);
}

/* w0's "queued" and "running" in /status, as "q,r" (0 or 1 each). */
static void
status_of_w0(char out[4])
{
    char *text = status_render();
    json_t *doc = json_loads(text, 0, NULL), *w;

    assert_non_null(doc);
    w = json_object_get(json_object_get(doc, "workspaces"), "w0");
    snprintf(out, 4, "%d,%d", json_is_true(json_object_get(w, "queued")),
             json_is_true(json_object_get(w, "running")));
    json_decref(doc);
    free(text);
}

/* /status shows whether a workspace's job runs and whether one waits. */
static void
test_status_shows_queue(void **state)
{
    struct queue *q;
    char st[4];
    int i;

    (void)state;
    reset(300);
    q = queue_new(1, slow_job, NULL, make_config(1, 100));
    queue_add_full(q, "w0");
    usleep(100000);
    status_of_w0(st);
    assert_string_equal(st, "0,1");
    queue_add_full(q, "w0");
    status_of_w0(st);
    assert_string_equal(st, "1,1");
    drain(q);
    for (i = 0; i < 100; i++) {
        status_of_w0(st);
        if (strcmp(st, "0,0") == 0)
            break;
        usleep(10000);
    }
    assert_string_equal(st, "0,0");
    queue_free(q);
    status_shutdown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_overflow_becomes_full),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_one_at_a_time),
        cmocka_unit_test(test_status_shows_queue),
    };

    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
