/*
 * httpconn: per-loop table of open HTTP connections; a deadline per
 * request, a cap on connections, a pause on accept errors.
 *
 * evhttp makes each connection's bufferevent through our callback
 * (evhttp_set_bevcb), so the table holds a reference to every one.  A
 * sweep every HTTPCONN_TICK_MS (and at once when a connection is refused)
 * drops the ones evhttp has freed (their callbacks are cleared) and shuts
 * down the socket of any whose deadline passed: evhttp then reads end of
 * file and frees the connection itself, so nothing is freed under its
 * feet.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "gitsyncd/httpconn.h"
#include "gitsyncd/log.h"
#include "gitsyncd/metrics.h"
#include "gitsyncd/util.h"

#define HTTPCONN_TICK_MS 100
/* How long the listener rests after an accept error. */
#define HTTPCONN_PAUSE_MS 250

struct httpconn_entry {
    struct bufferevent *bev;   /* one reference is ours */
    double deadline;           /* now_mono() by which a request must be whole */
    bool closing;              /* shut down, waiting for evhttp to free it */
};

struct httpconn_listener {
    struct httpconn *c;
    struct evconnlistener *lev;
    struct event *resume;
};

struct httpconn {
    struct event_base *base;
    struct event *sweep;
    struct httpconn_entry *v;
    size_t n, cap;
    size_t live;               /* open, as of the last sweep plus new ones */
    double timeout;            /* seconds */
    int max;
    struct httpconn_listener **listeners;
    size_t nlisteners;
};

/* Drop freed connections; shut down those past their deadline. */
static void
httpconn_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpconn *c = arg;
    struct httpconn_entry *e;
    bufferevent_event_cb errcb;
    double now = now_mono();
    unsigned long expired = 0;
    size_t i = 0;
    char n[32];

    (void)fd;
    (void)what;
    c->live = 0;
    while (i < c->n) {
        e = &c->v[i];
        bufferevent_getcb(e->bev, NULL, NULL, &errcb, NULL);
        if (errcb == NULL) {
            /* evhttp freed it: ours was the last reference. */
            bufferevent_decref(e->bev);
            c->v[i] = c->v[--c->n];
            continue;
        }
        c->live++;
        if (!e->closing && now >= e->deadline && bufferevent_getfd(e->bev) >= 0) {
            shutdown(bufferevent_getfd(e->bev), SHUT_RDWR);
            e->closing = true;
            if (e->deadline > 0)
                expired++;
        }
        i++;
    }
    if (expired > 0) {
        metrics_inc("requests_timed_out_total", (double)expired, (char *)NULL);
        if (log_flood_ok()) {
            snprintf(n, sizeof n, "%lu", expired);
            log_warn("connections closed: no whole request within request_timeout",
                     "count", n);
        }
    }
}

/* evhttp's bufferevent factory: every new connection passes here. */
static struct bufferevent *
httpconn_bev_cb(struct event_base *base, void *arg)
{
    struct httpconn *c = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct httpconn_entry *e;
    char max[16];

    if (bev == NULL)
        return NULL;
    /* At the cap, count again: connections may have closed since the
     * last sweep. */
    if (c->live >= (size_t)c->max)
        httpconn_sweep_cb(-1, 0, c);
    bufferevent_incref(bev);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = xreallocarray(c->v, c->cap, sizeof *c->v);
    }
    e = &c->v[c->n++];
    e->bev = bev;
    e->closing = false;
    e->deadline = now_mono() + c->timeout;
    if (c->live >= (size_t)c->max) {
        /* Over the cap: closed as soon as evhttp has given it its socket. */
        e->deadline = 0;
        metrics_inc("connections_refused_total", 1, (char *)NULL);
        if (log_flood_ok()) {
            snprintf(max, sizeof max, "%d", c->max);
            log_warn("connection refused: max_connections open", "max_connections", max);
        }
        event_active(c->sweep, EV_TIMEOUT, 0);
    } else {
        c->live++;
    }
    return bev;
}

struct httpconn *
httpconn_new(struct event_base *base)
{
    struct httpconn *c = xcalloc(1, sizeof *c);
    struct timeval tick = { 0, HTTPCONN_TICK_MS * 1000 };

    c->base = base;
    c->timeout = 30;
    c->max = 1024;
    c->sweep = event_new(base, -1, EV_PERSIST, httpconn_sweep_cb, c);
    if (c->sweep == NULL || event_add(c->sweep, &tick) != 0) {
        if (c->sweep != NULL)
            event_free(c->sweep);
        free(c);
        return NULL;
    }
    return c;
}

void
httpconn_set_limits(struct httpconn *c, long long timeout_ms, int max)
{
    c->timeout = (double)timeout_ms / 1000;
    c->max = max > 0 ? max : 1;
}

void
httpconn_attach(struct httpconn *c, struct evhttp *http)
{
    evhttp_set_bevcb(http, httpconn_bev_cb, c);
}

/* The listener rested: accept again. */
static void
httpconn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpconn_listener *l = arg;

    (void)fd;
    (void)what;
    evconnlistener_enable(l->lev);
}

/*
 * Every listener with a pause, for the error callback, which libevent
 * hands the listener and evhttp's argument, not ours.
 */
static pthread_mutex_t httpconn_listeners_lock = PTHREAD_MUTEX_INITIALIZER;
static struct httpconn_listener **httpconn_all;
static size_t httpconn_nall;

/* accept() failed (out of descriptors, most likely): rest a moment. */
static void
httpconn_accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct timeval pause = { 0, HTTPCONN_PAUSE_MS * 1000 };
    struct httpconn_listener *l = NULL;
    int err = EVUTIL_SOCKET_ERROR();
    size_t i;

    (void)arg;
    pthread_mutex_lock(&httpconn_listeners_lock);
    for (i = 0; i < httpconn_nall && l == NULL; i++) {
        if (httpconn_all[i]->lev == lev)
            l = httpconn_all[i];
    }
    pthread_mutex_unlock(&httpconn_listeners_lock);
    metrics_inc("accept_errors_total", 1, (char *)NULL);
    if (log_flood_ok())
        log_warn("cannot accept connections; pausing the listener", "error",
                 evutil_socket_error_to_string(err), "pause_ms", "250");
    if (l == NULL)
        return;
    evconnlistener_disable(lev);
    event_add(l->resume, &pause);
}

void
httpconn_listener(struct httpconn *c, struct evhttp_bound_socket *bound)
{
    struct evconnlistener *lev = evhttp_bound_socket_get_listener(bound);
    struct httpconn_listener *l;

    if (lev == NULL)
        return;
    l = xcalloc(1, sizeof *l);
    l->c = c;
    l->lev = lev;
    l->resume = evtimer_new(c->base, httpconn_resume_cb, l);
    c->listeners = xreallocarray(c->listeners, c->nlisteners + 1, sizeof *c->listeners);
    c->listeners[c->nlisteners++] = l;
    pthread_mutex_lock(&httpconn_listeners_lock);
    httpconn_all = xreallocarray(httpconn_all, httpconn_nall + 1, sizeof *httpconn_all);
    httpconn_all[httpconn_nall++] = l;
    pthread_mutex_unlock(&httpconn_listeners_lock);
    evconnlistener_set_error_cb(lev, httpconn_accept_error_cb);
}

void
httpconn_forget_listeners(struct httpconn *c)
{
    size_t i, j;

    pthread_mutex_lock(&httpconn_listeners_lock);
    for (i = 0; i < c->nlisteners; i++) {
        for (j = 0; j < httpconn_nall; j++) {
            if (httpconn_all[j] == c->listeners[i]) {
                httpconn_all[j] = httpconn_all[--httpconn_nall];
                break;
            }
        }
        if (c->listeners[i]->resume != NULL)
            event_free(c->listeners[i]->resume);
        free(c->listeners[i]);
    }
    if (httpconn_nall == 0) {
        free(httpconn_all);
        httpconn_all = NULL;
    }
    pthread_mutex_unlock(&httpconn_listeners_lock);
    free(c->listeners);
    c->listeners = NULL;
    c->nlisteners = 0;
}

/* The table entry of req's connection, or NULL. */
static struct httpconn_entry *
httpconn_find(const struct httpconn *c, struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn != NULL ? evhttp_connection_get_bufferevent(conn) : NULL;
    size_t i;

    for (i = 0; bev != NULL && i < c->n; i++) {
        if (c->v[i].bev == bev)
            return &c->v[i];
    }
    return NULL;
}

void
httpconn_received(struct httpconn *c, struct evhttp_request *req)
{
    struct httpconn_entry *e = httpconn_find(c, req);

    if (e != NULL && !e->closing)
        e->deadline = now_mono() + c->timeout;
}

bool
httpconn_owns(const struct httpconn *c, struct evhttp_request *req)
{
    return httpconn_find(c, req) != NULL;
}

void
httpconn_free(struct httpconn *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++)
        bufferevent_decref(c->v[i].bev);
    httpconn_forget_listeners(c);
    free(c->v);
    event_free(c->sweep);
    free(c);
}

/* libevent's log line, through ours. */
static void
httpconn_libevent_log(int severity, const char *msg)
{
    if (severity == EVENT_LOG_DEBUG) {
        log_debug("libevent", "message", msg);
        return;
    }
    if (!log_flood_ok())
        return;
    if (severity == EVENT_LOG_ERR)
        log_error("libevent", "message", msg);
    else if (severity == EVENT_LOG_WARN)
        log_warn("libevent", "message", msg);
    else
        log_info("libevent", "message", msg);
}

void
httpconn_route_libevent_log(void)
{
    event_set_log_callback(httpconn_libevent_log);
}
