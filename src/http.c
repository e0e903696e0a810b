/* http: routes, webhook intake, rate limits and delivery dedup. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "gitsyncd/hooks.h"
#include "gitsyncd/http.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"
#include "gitsyncd/metrics.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

#define HTTP_CLIENTS 4096
#define HTTP_MAX_HEADERS (64 * 1024)
#define HTTP_BACKLOG 1024

/* A remembered delivery id. */
struct http_seen {
    char *id;
    double expires;
    struct http_seen *next; /* hash chain */
};

/* A token bucket: rate tokens a second, at most burst. */
struct http_bucket {
    double tokens;
    double last;
};

/* Refill b to now; true (taking a token) if one is there. */
static bool
http_bucket_take(struct http_bucket *b, double now, double rate, double burst)
{
    b->tokens += (now - b->last) * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last = now;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}

/* A client's token bucket. */
struct http_client {
    char addr[64];
    struct http_bucket bucket;
};

/*
 * One event loop answering requests.  Loop 0 is the daemon's main loop;
 * with http_threads above 1, each further loop runs in a thread of its
 * own with its own listening socket on the same address (SO_REUSEPORT:
 * the kernel spreads connections over them).  A request is handled
 * entirely by the loop that accepted its connection.
 */
struct http_loop {
    struct http_server *s;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    bool running;
};

struct http_server {
    struct event_base *base;
    struct evhttp *http;       /* loops[0].http */
    struct evhttp *admin;      /* on loop 0 */
    struct http_loop *loops;
    size_t nloops;
    /* cfg and profiles: every request reads them, a reload replaces them */
    pthread_rwlock_t cfg_lock;
    /* the dedup table, the client buckets and the flood guard */
    pthread_mutex_t lock;
    const struct config *cfg;
    struct queue *queue;
    struct profile **profiles; /* per workspace, same order as cfg */
    size_t nprofiles;
    atomic_bool ready;
    /* dedup: hash table plus a ring for eviction in arrival order */
    struct http_seen **buckets;
    size_t nbuckets;
    char **ring;
    size_t ringcap, ringpos;
    struct http_client clients[HTTP_CLIENTS];
    /* flood guard for refusal and ignore lines (libevent thread only) */
    struct http_bucket noise;
    unsigned long noise_dropped;
};

/* Lines a second, and burst, for refused, ignored and duplicate webhooks. */
#define HTTP_NOISE_RATE 50.0
#define HTTP_NOISE_BURST 200.0

/* FNV-1a. */
static size_t
http_hash(const char *s)
{
    size_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* True if id was seen within the TTL; else remember it. */
static bool
http_seen_locked(struct http_server *s, const char *id);

static bool
http_seen(struct http_server *s, const char *id)
{
    bool seen;

    pthread_mutex_lock(&s->lock);
    seen = http_seen_locked(s, id);
    pthread_mutex_unlock(&s->lock);
    return seen;
}

static bool
http_seen_locked(struct http_server *s, const char *id)
{
    struct http_seen **pp, *e;
    double now = now_mono();
    size_t b;
    char *old;

    if (s->nbuckets == 0)
        return false;
    b = http_hash(id) % s->nbuckets;
    for (e = s->buckets[b]; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0) {
            if (e->expires > now)
                return true;
            e->expires = now + (double)s->cfg->dedup_ttl_ms / 1000;
            return false;
        }
    }
    /* Evict the oldest id when the ring is full. */
    old = s->ring[s->ringpos];
    if (old != NULL) {
        size_t ob = http_hash(old) % s->nbuckets;

        for (pp = &s->buckets[ob]; *pp != NULL; pp = &(*pp)->next) {
            if ((*pp)->id == old) {
                e = *pp;
                *pp = e->next;
                free(e->id);
                free(e);
                break;
            }
        }
    }
    e = xcalloc(1, sizeof *e);
    e->id = xstrdup(id);
    e->expires = now + (double)s->cfg->dedup_ttl_ms / 1000;
    e->next = s->buckets[b];
    s->buckets[b] = e;
    s->ring[s->ringpos] = e->id;
    s->ringpos = (s->ringpos + 1) % s->ringcap;
    return false;
}

/* Free the dedup table. */
static void
http_seen_free(struct http_server *s)
{
    struct http_seen *e, *next;
    size_t i;

    for (i = 0; i < s->nbuckets; i++) {
        for (e = s->buckets[i]; e != NULL; e = next) {
            next = e->next;
            free(e->id);
            free(e);
        }
    }
    free(s->buckets);
    free(s->ring);
    s->buckets = NULL;
    s->ring = NULL;
    s->nbuckets = 0;
}

/* True if the client at addr may send one more request now. */
static bool
http_rate_ok(struct http_server *s, const char *addr)
{
    struct http_client *c = NULL, *oldest = &s->clients[0];
    double now = now_mono();
    size_t i;
    bool ok;

    if (s->cfg->rate_limit <= 0)
        return true;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < HTTP_CLIENTS; i++) {
        if (strcmp(s->clients[i].addr, addr) == 0) {
            c = &s->clients[i];
            break;
        }
        if (s->clients[i].bucket.last < oldest->bucket.last)
            oldest = &s->clients[i];
    }
    if (c == NULL) {
        c = oldest;
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        c->bucket.tokens = s->cfg->rate_burst;
        c->bucket.last = now;
    }
    ok = http_bucket_take(&c->bucket, now, s->cfg->rate_limit, s->cfg->rate_burst);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Answer with a JSON body. */
/*
 * A JSON string of text that may come from a request (a header, a key):
 * jansson refuses text that is not UTF-8, so such text goes out with its
 * bytes above 0x7f as '?'.
 */
static json_t *
http_text(const char *text)
{
    json_t *v = json_string(text);
    char *copy, *p;

    if (v != NULL)
        return v;
    copy = xstrdup(text);
    for (p = copy; *p != '\0'; p++)
        if ((unsigned char)*p > 0x7f)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

static void
http_reply_json(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (s != NULL)
        evbuffer_add(b, s, strlen(s));
    else
        evbuffer_add_printf(b, "{\"error\":\"the answer could not be encoded\"}");
    evbuffer_add(b, "\n", 1);
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
    free(s);
    json_decref(body);
}

/*
 * True if a line about a refused, ignored or duplicate webhook may be
 * logged now.  A flood (a scanner, a misconfigured host, wrk) would
 * otherwise write a line per request: past HTTP_NOISE_RATE lines a second
 * they are counted instead, and the count is logged once lines flow again.
 * Lines about queued work are never held back.
 */
static bool
http_noise_ok(struct http_server *s)
{
    unsigned long dropped;
    char n[32];

    pthread_mutex_lock(&s->lock);
    if (!http_bucket_take(&s->noise, now_mono(), HTTP_NOISE_RATE, HTTP_NOISE_BURST)) {
        s->noise_dropped++;
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    dropped = s->noise_dropped;
    s->noise_dropped = 0;
    pthread_mutex_unlock(&s->lock);
    if (dropped > 0) {
        snprintf(n, sizeof n, "%lu", dropped);
        log_warn("webhook log lines suppressed (too many refused or ignored requests)", "count", n);
    }
    return true;
}

/* Answer {"error": msg}, and log it (s: the flood guard, or NULL). */
static void
http_error_from(struct http_server *s, struct evhttp_request *req, int code,
                const char *workspace, const char *msg)
{
    char c[8];

    snprintf(c, sizeof c, "%d", code);
    if (s == NULL || http_noise_ok(s))
        log_warn("request refused", "code", c, "workspace", workspace ? workspace : "",
                 "path", evhttp_request_get_uri(req), "error", msg);
    http_reply_json(req, code, json_pack("{s:o}", "error", http_text(msg)));
}

static void
http_error(struct evhttp_request *req, int code, const char *workspace,
           const char *msg)
{
    http_error_from(NULL, req, code, workspace, msg);
}

/* evhttp header lookup for hooks. */
static const char *
http_header(void *arg, const char *name)
{
    return evhttp_find_header(arg, name);
}

/* The profile of workspace index i. */
static const struct profile *
http_profile(struct http_server *s, const struct config_workspace *ws)
{
    size_t i = (size_t)(ws - s->cfg->workspaces);

    return i < s->nprofiles ? s->profiles[i] : NULL;
}

/* POST /hooks/<workspace>/<source>. */
static void
http_hook(struct http_server *s, struct evhttp_request *req, const char *wsname,
          const char *source)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct hook_headers h = { http_header, evhttp_request_get_input_headers(req) };
    const struct config_workspace *ws;
    struct hook_push push;
    struct job_resource res;
    enum hook_verdict v;
    const char *body;
    char *reason = NULL, *delivery = NULL, *peer = NULL, code[8];
    ev_uint16_t port;
    size_t len;
    int status = 500;
    bool git = strcmp(source, "git") == 0;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        http_error_from(s, req, 405, wsname, "method not allowed: webhooks are POSTed");
        status = 405;
        goto count;
    }
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
    if (!http_rate_ok(s, peer != NULL ? peer : "?")) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        http_error_from(s, req, 429, wsname, "too many requests from this address");
        status = 429;
        goto count;
    }
    ws = config_find_workspace(s->cfg, wsname);
    if (ws == NULL) {
        http_error_from(s, req, 404, NULL, "unknown workspace");
        status = 404;
        wsname = "unknown";
        goto count;
    }
    len = evbuffer_get_length(in);
    body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    if (git) {
        v = hooks_git(ws, &h, body, len, &push, &reason);
        delivery = push.delivery != NULL ? xstrdup(push.delivery) : NULL;
    } else {
        v = hooks_platform(ws, http_profile(s, ws), &h, body, len, now_wall(), &res,
                           &delivery, &reason);
    }
    switch (v) {
    case HOOK_UNAUTHORIZED:
        status = 401;
        http_error_from(s, req, 401, wsname, reason);
        break;
    case HOOK_BAD:
        status = 400;
        http_error_from(s, req, 400, wsname, reason);
        break;
    case HOOK_IGNORE:
    case HOOK_QUEUE:
        if (delivery != NULL && http_seen(s, delivery)) {
            status = 200;
            if (http_noise_ok(s))
                log_info("duplicate delivery ignored", "workspace", wsname, "source", source,
                         "delivery", delivery);
            http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "duplicate",
                                                "delivery", http_text(delivery)));
        } else if (v == HOOK_IGNORE) {
            status = 200;
            if (http_noise_ok(s))
                log_info("webhook ignored", "workspace", wsname, "source", source, "reason", reason);
            http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "ignored", "reason", http_text(reason)));
        } else {
            status = 202;
            if (git && push.request != NULL) {
                log_info("request check queued", "workspace", wsname, "host", hooks_host_name(push.host),
                         "repository", push.repository, "request", push.request,
                         "ref", push.request_ref, "head", push.after, "delivery", delivery ? delivery : "");
                queue_add_check(s->queue, wsname, push.request, push.request_ref, push.after,
                                delivery, now_wall());
            } else if (git) {
                log_info("push queued", "workspace", wsname, "host", hooks_host_name(push.host),
                         "repository", push.repository, "ref", push.ref, "after", push.after,
                         "delivery", delivery ? delivery : "");
                queue_add_git(s->queue, wsname, push.after, delivery, now_wall());
            } else {
                log_info("platform change queued", "workspace", wsname, "kind", res.kind,
                         "slug", res.slug ? res.slug : "", "id", res.id ? res.id : "",
                         "action", res.action ? res.action : "");
                queue_add_resource(s->queue, wsname, &res);
            }
            http_reply_json(req, 202, json_pack("{s:s}", "status", "queued"));
        }
        break;
    }
    if (git)
        hook_push_free(&push);
    else if (v == HOOK_QUEUE)
        hook_resource_free(&res);
    free(reason);
    free(delivery);
count:
    snprintf(code, sizeof code, "%d", status);
    metrics_inc("webhook_requests_total", 1, "workspace", wsname, "source", source,
                "code", code, (char *)NULL);
}

/* Everything on the admin side: /metrics, /status, /healthz, /readyz. */
static bool
http_admin_route(struct http_server *s, struct evhttp_request *req, const char *path)
{
    struct evbuffer *b;
    char *text;

    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/status") != 0 &&
        strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0)
        return false;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
        evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        http_error(req, 405, NULL, "method not allowed");
        return true;
    }
    if (strcmp(path, "/healthz") == 0) {
        http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(path, "/readyz") == 0) {
        bool ready = atomic_load(&s->ready);

        http_reply_json(req, ready ? 200 : 503,
                        json_pack("{s:s}", "status", ready ? "ready" : "starting"));
    } else {
        if (strcmp(path, "/metrics") == 0)
            metrics_set("json_regions", (double)jload_regions_live(), (char *)NULL);
        text = strcmp(path, "/metrics") == 0 ? metrics_render() : status_render();
        b = evbuffer_new();
        evbuffer_add(b, text, strlen(text));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          path[1] == 'm' ? "text/plain; version=0.0.4; charset=utf-8"
                                         : "application/json");
        evhttp_send_reply(req, 200, NULL, b);
        evbuffer_free(b);
        free(text);
    }
    return true;
}

/* The main listener: hooks, and the admin routes unless they moved. */
static void
http_route(struct evhttp_request *req, void *arg, bool hooks, bool admin)
{
    struct http_server *s = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    char *ws, *source, *copy;

    if (path == NULL) {
        http_error_from(s, req, 400, NULL, "bad request URI");
        return;
    }
    if (admin && http_admin_route(s, req, path))
        return;
    if (hooks && strncmp(path, "/hooks/", 7) == 0) {
        copy = xstrdup(path + 7);
        ws = copy;
        source = strchr(copy, '/');
        if (source != NULL) {
            *source++ = '\0';
            if (*ws != '\0' && (strcmp(source, "git") == 0 || strcmp(source, "platform") == 0)) {
                http_hook(s, req, ws, source);
                free(copy);
                return;
            }
        }
        free(copy);
    }
    http_error_from(s, req, 404, NULL, "no such route");
}

static void
http_main_cb(struct evhttp_request *req, void *arg)
{
    struct http_server *s = arg;

    pthread_rwlock_rdlock(&s->cfg_lock);
    http_route(req, arg, true, s->admin == NULL);
    pthread_rwlock_unlock(&s->cfg_lock);
}

static void
http_admin_cb(struct evhttp_request *req, void *arg)
{
    struct http_server *s = arg;

    pthread_rwlock_rdlock(&s->cfg_lock);
    http_route(req, arg, false, true);
    pthread_rwlock_unlock(&s->cfg_lock);
}

/* Apply the limits of the configuration to one evhttp. */
static void
http_limits(struct evhttp *h, const struct config *cfg)
{
    evhttp_set_max_body_size(h, (ev_ssize_t)cfg->max_body);
    evhttp_set_max_headers_size(h, HTTP_MAX_HEADERS);
    evhttp_set_timeout(h, (int)((cfg->request_timeout_ms + 999) / 1000));
    evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                      EVHTTP_REQ_OPTIONS);
}

/*
 * A listening socket on "host:port", non-blocking, TCP_NODELAY (evhttp
 * writes headers and body apart: without it a larger answer such as
 * /metrics waits for the client's delayed ACK; Linux passes the option
 * on to accepted sockets).  reuseport: one of a group sharing the
 * address.  *port, when above 0, replaces the address's port (a group on
 * port 0 shares the port its first socket got); it is set to the port
 * bound.
 */
static evutil_socket_t
http_listen(const char *addr, bool reuseport, int *port, char **err)
{
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char *host = xstrdup(addr), *colon = strrchr(host, ':'), *end, service[16];
    evutil_socket_t fd = -1;
    long p;
    int one = 1, rc;

    if (colon == NULL) {
        set_error(err, "listen address \"%s\" is not host:port", addr);
        goto out;
    }
    *colon = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0 || p > 65535) {
        set_error(err, "listen address \"%s\": the port is not a number from 0 to 65535", addr);
        goto out;
    }
    if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(host, host + 1, strlen(host));
    }
    snprintf(service, sizeof service, "%d", *port > 0 ? *port : (int)p);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] != '\0' ? host : NULL, service, &hints, &ai);
    if (rc != 0) {
        set_error(err, "cannot listen on %s: %s", addr, gai_strerror(rc));
        goto out;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
        set_error(err, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        goto out;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
out:
    if (ai != NULL)
        freeaddrinfo(ai);
    free(host);
    return fd;
}

/* Hand a listening socket to h, which closes it when freed. */
static int
http_accept_on(struct evhttp *h, evutil_socket_t fd, const char *addr, char **err)
{
    if (evhttp_accept_socket_with_handle(h, fd) == NULL) {
        close(fd);
        return set_error(err, "cannot listen on %s: libevent refused the socket", addr);
    }
    return 0;
}

/*
 * Bind every loop to "host:port".  With several loops, each gets its own
 * SO_REUSEPORT socket; as such a group would also share the port with
 * another process of this user (a second gitsyncd), a plain socket tries
 * the address first, so that "address in use" is still an error.
 */
static int
http_bind(struct http_server *s, const char *addr, char **err)
{
    evutil_socket_t fd;
    int port = 0;
    size_t i;

    if (s->nloops > 1) {
        fd = http_listen(addr, false, &port, err);
        if (fd < 0)
            return -1;
        close(fd);
        /* The group binds the address as written (port 0 stays 0 for the
         * first socket, whose port the others then share). */
        port = 0;
    }
    for (i = 0; i < s->nloops; i++) {
        fd = http_listen(addr, s->nloops > 1, &port, err);
        if (fd < 0 || http_accept_on(s->loops[i].http, fd, addr, err) != 0)
            return -1;
    }
    return 0;
}

/* Load each workspace's profile; all or nothing. */
static int
http_load_profiles(const struct config *cfg, struct profile ***out, char **err)
{
    struct profile **v = xcalloc(cfg->nworkspaces + 1, sizeof *v);
    const char *dirs[3];
    char *cfgdir = NULL, *slash;
    size_t i, nd = 0;

    if (cfg->profiles_dir != NULL)
        dirs[nd++] = cfg->profiles_dir;
    if (cfg->path != NULL && (slash = strrchr(cfg->path, '/')) != NULL) {
        cfgdir = xstrndup(cfg->path, (size_t)(slash - cfg->path));
        dirs[nd++] = cfgdir;
    }
    dirs[nd] = NULL;
    for (i = 0; i < cfg->nworkspaces; i++) {
        if (profile_load(cfg->workspaces[i].platform.profile, dirs, &v[i], err) != 0) {
            char *m = xasprintf("workspace %s: %s", cfg->workspaces[i].name, *err);

            free(*err);
            *err = m;
            while (i-- > 0)
                profile_free(v[i]);
            free(v);
            free(cfgdir);
            return -1;
        }
    }
    free(cfgdir);
    *out = v;
    return 0;
}

/* Apply the limits on a loop's own thread (evhttp is not thread-safe). */
static void
http_loop_limits_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *l = arg;

    (void)fd;
    (void)what;
    pthread_rwlock_rdlock(&l->s->cfg_lock);
    http_limits(l->http, l->s->cfg);
    pthread_rwlock_unlock(&l->s->cfg_lock);
}

int
http_set_config(struct http_server *s, const struct config *cfg, char **err)
{
    struct profile **profiles;
    size_t i;

    if (http_load_profiles(cfg, &profiles, err) != 0)
        return -1;
    /* No request is being answered on any loop while this holds. */
    pthread_rwlock_wrlock(&s->cfg_lock);
    for (i = 0; i < s->nprofiles; i++)
        profile_free(s->profiles[i]);
    free(s->profiles);
    s->profiles = profiles;
    s->nprofiles = cfg->nworkspaces;
    s->cfg = cfg;
    http_limits(s->http, cfg);
    if (s->admin != NULL)
        http_limits(s->admin, cfg);
    for (i = 1; i < s->nloops; i++) {
        if (!s->loops[i].running)
            http_limits(s->loops[i].http, cfg);
        else if (event_base_once(s->loops[i].base, -1, EV_TIMEOUT, http_loop_limits_cb,
                                 &s->loops[i], NULL) != 0)
            log_warn("cannot apply new HTTP limits to a request thread until restart");
    }
    if (s->ringcap != (cfg->dedup_size > 0 ? cfg->dedup_size : 1)) {
        http_seen_free(s);
        s->ringcap = cfg->dedup_size > 0 ? cfg->dedup_size : 1;
        s->nbuckets = cfg->dedup_size > 0 ? cfg->dedup_size : 0;
        s->buckets = xcalloc(s->nbuckets + 1, sizeof *s->buckets);
        s->ring = xcalloc(s->ringcap, sizeof *s->ring);
        s->ringpos = 0;
    }
    pthread_rwlock_unlock(&s->cfg_lock);
    return 0;
}

/* A request thread: its loop runs until http_free ends it. */
static void *
http_loop_run(void *arg)
{
    struct http_loop *l = arg;

    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* Start the request threads of loops 1..n-1, signals blocked in them. */
static int
http_start_threads(struct http_server *s, char **err)
{
    sigset_t all, old;
    size_t i;
    int rc = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (i = 1; i < s->nloops && rc == 0; i++) {
        rc = pthread_create(&s->loops[i].thread, NULL, http_loop_run, &s->loops[i]);
        if (rc == 0)
            s->loops[i].running = true;
        else
            set_error(err, "cannot start HTTP request thread %zu: %s", i, strerror(rc));
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

struct http_server *
http_start(struct event_base *base, const struct config *cfg, struct queue *q,
           char **err)
{
    struct http_server *s = xcalloc(1, sizeof *s);
    pthread_rwlockattr_t attr;
    size_t i;

    /* Writers first: a reload must not wait behind a stream of requests. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->cfg_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->ready, false);
    s->base = base;
    s->queue = q;
    s->nloops = cfg->http_threads > 0 ? (size_t)cfg->http_threads : 1;
    s->loops = xcalloc(s->nloops, sizeof *s->loops);
    for (i = 0; i < s->nloops; i++) {
        s->loops[i].s = s;
        s->loops[i].base = i == 0 ? base : event_base_new();
        if (s->loops[i].base == NULL) {
            set_error(err, "cannot create an event loop for HTTP request thread %zu", i);
            http_free(s);
            return NULL;
        }
        s->loops[i].http = evhttp_new(s->loops[i].base);
        evhttp_set_gencb(s->loops[i].http, http_main_cb, s);
    }
    s->http = s->loops[0].http;
    if (cfg->admin_listen != NULL) {
        s->admin = evhttp_new(base);
        evhttp_set_gencb(s->admin, http_admin_cb, s);
    }
    {
        int port = 0;
        evutil_socket_t fd;

        if (http_set_config(s, cfg, err) != 0 || http_bind(s, cfg->listen, err) != 0 ||
            (s->admin != NULL &&
             ((fd = http_listen(cfg->admin_listen, false, &port, err)) < 0 ||
              http_accept_on(s->admin, fd, cfg->admin_listen, err) != 0)) ||
            http_start_threads(s, err) != 0) {
            http_free(s);
            return NULL;
        }
    }
    return s;
}

void
http_set_ready(struct http_server *s, bool ready)
{
    atomic_store(&s->ready, ready);
}

/* Collect one bound socket (evhttp_foreach_bound_socket). */
static void
http_collect(struct evhttp_bound_socket *b, void *arg)
{
    struct evhttp_bound_socket **v = arg;
    size_t i;

    for (i = 0; i < 7 && v[i] != NULL; i++)
        ;
    if (i < 7)
        v[i] = b;
}

/* Close every listening socket of h. */
static void
http_unbind(struct evhttp *h)
{
    struct evhttp_bound_socket *v[8] = { NULL };
    size_t i;

    if (h == NULL)
        return;
    evhttp_foreach_bound_socket(h, http_collect, v);
    for (i = 0; v[i] != NULL; i++)
        evhttp_del_accept_socket(h, v[i]);
}

static void
http_loop_unbind_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_loop *l = arg;

    (void)fd;
    (void)what;
    http_unbind(l->http);
}

void
http_stop_accepting(struct http_server *s)
{
    size_t i;

    http_unbind(s->http);
    http_unbind(s->admin);
    for (i = 1; i < s->nloops; i++) {
        if (s->loops[i].running)
            event_base_once(s->loops[i].base, -1, EV_TIMEOUT, http_loop_unbind_cb,
                            &s->loops[i], NULL);
    }
    atomic_store(&s->ready, false);
}

void
http_free(struct http_server *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 1; i < s->nloops; i++) {
        if (s->loops[i].running) {
            event_base_loopexit(s->loops[i].base, NULL);
            pthread_join(s->loops[i].thread, NULL);
        }
    }
    for (i = 0; i < s->nloops; i++) {
        if (s->loops[i].http != NULL)
            evhttp_free(s->loops[i].http);
        if (i > 0 && s->loops[i].base != NULL)
            event_base_free(s->loops[i].base);
    }
    free(s->loops);
    if (s->admin != NULL)
        evhttp_free(s->admin);
    for (i = 0; i < s->nprofiles; i++)
        profile_free(s->profiles[i]);
    free(s->profiles);
    http_seen_free(s);
    pthread_mutex_destroy(&s->lock);
    pthread_rwlock_destroy(&s->cfg_lock);
    free(s);
}
