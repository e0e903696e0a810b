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

#include "gitsyncd/cluster.h"
#include "gitsyncd/hooks.h"
#include "gitsyncd/http.h"
#include "gitsyncd/httpconn.h"
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

/*
 * A client's token buckets: one for requests that pass authentication,
 * one for those that fail it, so that junk from an address (or from
 * everyone behind the same proxy) cannot use up the budget of the real
 * webhooks coming from there.
 */
struct http_client {
    char addr[64];
    struct http_bucket good;
    struct http_bucket bad;
    double seen;
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
    struct httpconn *conns;    /* its connections (and the admin's, on loop 0) */
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
    struct cluster *cluster; /* cluster mode: intake goes to the database */
    struct profile **profiles; /* per workspace, same order as cfg */
    size_t nprofiles;
    atomic_bool ready;
    /* dedup: hash table plus a ring for eviction in arrival order */
    struct http_seen **buckets;
    size_t nbuckets;
    char **ring;
    size_t ringcap, ringpos;
    struct http_client clients[HTTP_CLIENTS];
};

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

/*
 * True if the client at addr may send one more request now: one that
 * passed authentication (good) or one that did not.
 */
static bool
http_rate_ok(struct http_server *s, const char *addr, bool good)
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
        if (s->clients[i].seen < oldest->seen)
            oldest = &s->clients[i];
    }
    if (c == NULL) {
        c = oldest;
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        c->good.tokens = c->bad.tokens = s->cfg->rate_burst;
        c->good.last = c->bad.last = now;
    }
    c->seen = now;
    ok = http_bucket_take(good ? &c->good : &c->bad, now, s->cfg->rate_limit,
                          s->cfg->rate_burst);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* True if the text address a is in one of the trusted proxy ranges. */
static bool
http_trusted(const struct config *cfg, const char *a)
{
    unsigned char bin[16];
    const struct config_net *n;
    size_t i;
    int family, bits, full, rest;

    if (inet_pton(AF_INET, a, bin) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, a, bin) == 1)
        family = AF_INET6;
    else
        return false;
    for (i = 0; i < cfg->ntrusted_proxies; i++) {
        n = &cfg->trusted_proxies[i];
        if (n->family != family)
            continue;
        bits = n->prefix;
        full = bits / 8;
        rest = bits % 8;
        if (memcmp(bin, n->addr, (size_t)full) != 0)
            continue;
        if (rest != 0 && ((bin[full] ^ n->addr[full]) & (0xff << (8 - rest)) & 0xff) != 0)
            continue;
        return true;
    }
    return false;
}

/*
 * One address of a forwarding header, trimmed into out: spaces and quotes
 * gone, "[v6]:port" and "v4:port" without the port.  Empty if nothing
 * usable.
 */
static void
http_forwarded_addr(const char *p, size_t len, char *out, size_t size)
{
    char tmp[64], *t = tmp, *colon;
    size_t n;

    while (len > 0 && (*p == ' ' || *p == '\t' || *p == '"')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '"'))
        len--;
    n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (*t == '[') {
        t++;
        if ((colon = strchr(t, ']')) != NULL)
            *colon = '\0';
    } else if ((colon = strchr(t, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
        *colon = '\0';
    }
    snprintf(out, size, "%s", t);
}

/*
 * The client's address: the peer's, unless the peer is a trusted proxy;
 * then the nearest address in Forwarded (for=) or else X-Forwarded-For
 * that is not itself a trusted proxy, read from the right (the left part
 * is whatever the client chose to send).
 */
static void
http_client_addr(struct http_server *s, struct evhttp_request *req, const char *peer,
                 char *out, size_t size)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const struct evkeyval *kv;
    const char *names[] = { "Forwarded", "X-Forwarded-For" }, *p, *end, *item;
    char cand[64];
    struct buf all;
    size_t i, len;

    snprintf(out, size, "%s", peer);
    if (s->cfg->ntrusted_proxies == 0 || !http_trusted(s->cfg, peer))
        return;
    for (i = 0; i < nitems(names); i++) {
        /* Every header of that name, in order, as one list. */
        buf_init(&all);
        for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
            if (strcasecmp(kv->key, names[i]) == 0)
                buf_printf(&all, "%s%s", all.len > 0 ? "," : "", kv->value);
        }
        if (all.len == 0) {
            buf_free(&all);
            continue;
        }
        /* From the right: the first hop that is not a trusted proxy. */
        end = all.data + all.len;
        while (end > all.data) {
            for (p = end; p > all.data && p[-1] != ','; p--)
                ;
            item = p;
            len = (size_t)(end - p);
            if (i == 0) {
                /* Forwarded: for=...; the other pairs are ignored. */
                const char *f = NULL, *q;

                for (q = p; q + 4 <= end; q++) {
                    if (strncasecmp(q, "for=", 4) == 0 && (q == p || q[-1] == ';' || q[-1] == ' ')) {
                        f = q + 4;
                        break;
                    }
                }
                if (f == NULL) {
                    end = p > all.data ? p - 1 : all.data;
                    continue;
                }
                for (q = f; q < end && *q != ';'; q++)
                    ;
                item = f;
                len = (size_t)(q - f);
            }
            http_forwarded_addr(item, len, cand, sizeof cand);
            if (cand[0] != '\0') {
                snprintf(out, size, "%s", cand);
                if (!http_trusted(s->cfg, cand))
                    break;
            }
            end = p > all.data ? p - 1 : all.data;
        }
        buf_free(&all);
        return;
    }
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

/* Count an error answer by code, and log it under the flood guard. */
static void
http_error_note(struct evhttp_request *req, int code, const char *workspace,
                const char *msg)
{
    char c[8], *peer = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);

    snprintf(c, sizeof c, "%d", code);
    metrics_inc("http_errors_total", 1, "code", c, (char *)NULL);
    if (!log_flood_ok())
        return;
    if (conn != NULL)
        evhttp_connection_get_peer(conn, &peer, &port);
    log_warn("request refused", "code", c, "workspace", workspace ? workspace : "",
             "peer", peer != NULL ? peer : "", "path", evhttp_request_get_uri(req),
             "error", msg);
}

/* Answer {"error": msg}, and count and log it. */
static void
http_error_from(struct http_server *s, struct evhttp_request *req, int code,
                const char *workspace, const char *msg)
{
    char *clean;

    (void)s;
    http_error_note(req, code, workspace, msg);
    clean = log_redact(msg);
    http_reply_json(req, code, json_pack("{s:o}", "error", http_text(clean)));
    free(clean);
}

/*
 * libevent answers some requests itself, before any callback of ours: a
 * malformed request line or header, a Content-Length it cannot read or
 * that comes with Transfer-Encoding, a body over max_body, headers over
 * their limit, a method it does not allow.  It does so with
 * evhttp_send_error, which this definition takes the place of (libevent
 * calls it through the dynamic linker, so the executable's own comes
 * first), so that those answers are JSON, counted and logged like ours.
 */
void
evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
    const char *msg;

    switch (error) {
    case HTTP_BADREQUEST:
        msg = "malformed request (request line, a header, Content-Length or Transfer-Encoding)";
        break;
    case HTTP_ENTITYTOOLARGE:
        msg = "request too large (the body is over max_body or the headers over 64 KiB)";
        break;
    case HTTP_NOTIMPLEMENTED:
        msg = "unknown HTTP method";
        break;
    case HTTP_NOTFOUND:
        msg = "no such route";
        break;
    default:
        msg = reason != NULL ? reason : "the request cannot be answered";
        break;
    }
    evhttp_clear_headers(evhttp_request_get_output_headers(req));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    http_error_note(req, error, NULL, msg);
    http_reply_json(req, error, json_pack("{s:s}", "error", msg));
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

/* What hide_workspaces answers for every request it must not tell apart. */
#define HTTP_HIDDEN "unauthorized: a missing or bad signature, or no such workspace"

/*
 * Refuse a request that did not pass authentication (or was malformed) with
 * code, or with 429 once the client's budget for such requests is spent;
 * the status sent.  With hide_workspaces, an unknown workspace, a bad
 * signature and a malformed request (which a known workspace may refuse
 * before its signature is checked) all get the same 401; the log keeps
 * the reason.
 */
static int
http_refuse(struct http_server *s, struct evhttp_request *req, const char *client,
            const char *wsname, int code, const char *msg)
{
    if (!http_rate_ok(s, client, false)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        code = 429;
        msg = "too many requests from this address";
    }
    if (!s->cfg->hide_workspaces || (code != 400 && code != 401 && code != 404)) {
        http_error_from(s, req, code, wsname, msg);
        return code;
    }
    http_error_note(req, 401, wsname, msg);
    http_reply_json(req, 401, json_pack("{s:s}", "error", HTTP_HIDDEN));
    return 401;
}

/*
 * Cluster mode: commit a verified event to the database before answering
 * (the replica may die the next instant); the database's delivery ids,
 * not this process's, tell duplicates.  Returns the HTTP status sent.
 */
static int
http_hook_cluster(struct http_server *s, struct evhttp_request *req, const char *wsname,
                  bool git, const struct hook_push *push, const struct job_resource *res,
                  const char *delivery)
{
    enum cluster_intake r;

    if (git && push->request != NULL)
        r = cluster_add_check(s->cluster, wsname, push->request, push->request_ref, push->after,
                              delivery, now_wall());
    else if (git)
        r = cluster_add_git(s->cluster, wsname, push->after, delivery, now_wall());
    else
        r = cluster_add_resource(s->cluster, wsname, res, delivery);
    if (r == CLUSTER_UNAVAILABLE) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
        http_error_from(s, req, 503, wsname,
                        "the cluster database is unavailable: the event was not taken, send it again");
        return 503;
    }
    if (r == CLUSTER_DUPLICATE) {
        if (log_flood_ok())
            log_info("duplicate delivery ignored", "workspace", wsname, "source", git ? "git" : "platform",
                     "delivery", delivery);
        http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "duplicate",
                                            "delivery", http_text(delivery)));
        return 200;
    }
    if (git && push->request != NULL)
        log_info("request check committed to the cluster", "workspace", wsname, "request", push->request,
                 "head", push->after, "delivery", delivery ? delivery : "");
    else if (git)
        log_info("push committed to the cluster", "workspace", wsname, "ref", push->ref, "after",
                 push->after, "delivery", delivery ? delivery : "");
    else
        log_info("platform change committed to the cluster", "workspace", wsname, "kind", res->kind,
                 "slug", res->slug ? res->slug : "", "id", res->id ? res->id : "",
                 "action", res->action ? res->action : "");
    http_reply_json(req, 202, json_pack("{s:s}", "status", "queued"));
    return 202;
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
    char *reason = NULL, *delivery = NULL, *peer = NULL, code[8], client[64];
    ev_uint16_t port;
    size_t len;
    int status = 500;
    bool git = strcmp(source, "git") == 0;

    /* The name is looked up before anything else: an unknown one (any
     * text a client sends) must not become a label, a key or a log
     * value of its own; they all share "unknown". */
    ws = config_find_workspace(s->cfg, wsname);
    wsname = ws != NULL ? ws->name : "unknown";
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
    http_client_addr(s, req, peer != NULL ? peer : "?", client, sizeof client);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        status = http_refuse(s, req, client, wsname, 405, "method not allowed: webhooks are POSTed");
        goto count;
    }
    if (ws == NULL) {
        status = http_refuse(s, req, client, NULL, 404, "unknown workspace");
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
        status = http_refuse(s, req, client, wsname, 401, reason);
        break;
    case HOOK_BAD:
        status = http_refuse(s, req, client, wsname, 400, reason);
        break;
    case HOOK_IGNORE:
    case HOOK_QUEUE:
        if (!http_rate_ok(s, client, true)) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
            http_error_from(s, req, 429, wsname, "too many requests from this address");
            status = 429;
        } else if (s->cluster == NULL && delivery != NULL && http_seen(s, delivery)) {
            status = 200;
            if (log_flood_ok())
                log_info("duplicate delivery ignored", "workspace", wsname, "source", source,
                         "delivery", delivery);
            http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "duplicate",
                                                "delivery", http_text(delivery)));
        } else if (v == HOOK_IGNORE) {
            status = 200;
            if (log_flood_ok())
                log_info("webhook ignored", "workspace", wsname, "source", source, "reason", reason);
            http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "ignored", "reason", http_text(reason)));
        } else if (s->cluster != NULL) {
            status = http_hook_cluster(s, req, wsname, git, &push, &res, delivery);
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
        bool db = s->cluster == NULL || cluster_ready(s->cluster);

        http_reply_json(req, ready && db ? 200 : 503,
                        json_pack("{s:s}", "status", !ready ? "starting" : db ? "ready"
                                                   : "cluster database unavailable"));
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

/*
 * True if the request has Content-Length headers that disagree: libevent
 * reads the body by the first, and what a proxy in front took by
 * another would be read as a request of its own (request smuggling).
 */
static bool
http_length_conflict(struct evhttp_request *req)
{
    const struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const struct evkeyval *kv;
    const char *first = NULL;

    for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
        if (strcasecmp(kv->key, "Content-Length") != 0)
            continue;
        if (first == NULL)
            first = kv->value;
        else if (strcmp(first, kv->value) != 0)
            return true;
    }
    return false;
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
    if (http_length_conflict(req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        http_error_from(s, req, 400, NULL, "Content-Length headers with different values");
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

/* A whole request arrived: the deadline of its connection starts again. */
static void
http_received(struct http_server *s, struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct event_base *base = conn != NULL ? evhttp_connection_get_base(conn) : NULL;
    size_t i;

    for (i = 0; base != NULL && i < s->nloops; i++) {
        if (s->loops[i].base == base && s->loops[i].conns != NULL) {
            httpconn_received(s->loops[i].conns, req);
            return;
        }
    }
}

static void
http_main_cb(struct evhttp_request *req, void *arg)
{
    struct http_server *s = arg;

    http_received(s, req);
    pthread_rwlock_rdlock(&s->cfg_lock);
    http_route(req, arg, true, s->admin == NULL);
    pthread_rwlock_unlock(&s->cfg_lock);
}

static void
http_admin_cb(struct evhttp_request *req, void *arg)
{
    struct http_server *s = arg;

    http_received(s, req);
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
http_accept_on(struct evhttp *h, struct httpconn *conns, evutil_socket_t fd,
               const char *addr, char **err)
{
    struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(h, fd);

    if (bound == NULL) {
        close(fd);
        return set_error(err, "cannot listen on %s: libevent refused the socket", addr);
    }
    httpconn_listener(conns, bound);
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
        if (fd < 0 || http_accept_on(s->loops[i].http, s->loops[i].conns, fd, addr, err) != 0)
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
    httpconn_set_limits(l->conns, l->s->cfg->request_timeout_ms, l->s->cfg->max_connections);
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
    httpconn_set_limits(s->loops[0].conns, cfg->request_timeout_ms, cfg->max_connections);
    if (s->admin != NULL)
        http_limits(s->admin, cfg);
    for (i = 1; i < s->nloops; i++) {
        if (!s->loops[i].running) {
            http_limits(s->loops[i].http, cfg);
            httpconn_set_limits(s->loops[i].conns, cfg->request_timeout_ms, cfg->max_connections);
        }
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
           struct cluster *cl, char **err)
{
    struct http_server *s = xcalloc(1, sizeof *s);
    pthread_rwlockattr_t attr;
    size_t i;

    s->cluster = cl;
    httpconn_route_libevent_log();
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
        s->loops[i].conns = httpconn_new(s->loops[i].base);
        if (s->loops[i].http == NULL || s->loops[i].conns == NULL) {
            set_error(err, "cannot set up HTTP on the event loop of request thread %zu", i);
            http_free(s);
            return NULL;
        }
        evhttp_set_gencb(s->loops[i].http, http_main_cb, s);
        httpconn_attach(s->loops[i].conns, s->loops[i].http);
    }
    s->http = s->loops[0].http;
    if (cfg->admin_listen != NULL) {
        s->admin = evhttp_new(base);
        evhttp_set_gencb(s->admin, http_admin_cb, s);
        httpconn_attach(s->loops[0].conns, s->admin);
    }
    {
        int port = 0;
        evutil_socket_t fd;

        if (http_set_config(s, cfg, err) != 0 || http_bind(s, cfg->listen, err) != 0 ||
            (s->admin != NULL &&
             ((fd = http_listen(cfg->admin_listen, false, &port, err)) < 0 ||
              http_accept_on(s->admin, s->loops[0].conns, fd, cfg->admin_listen, err) != 0)) ||
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
    httpconn_forget_listeners(l->conns);
    http_unbind(l->http);
}

void
http_stop_accepting(struct http_server *s)
{
    size_t i;

    httpconn_forget_listeners(s->loops[0].conns);
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
    /* Connections first (evhttp frees them), then the table's references,
     * then the loops. */
    for (i = 0; i < s->nloops; i++) {
        if (s->loops[i].http != NULL)
            evhttp_free(s->loops[i].http);
    }
    if (s->admin != NULL)
        evhttp_free(s->admin);
    for (i = 0; i < s->nloops; i++) {
        httpconn_free(s->loops[i].conns);
        if (i > 0 && s->loops[i].base != NULL)
            event_base_free(s->loops[i].base);
    }
    free(s->loops);
    for (i = 0; i < s->nprofiles; i++)
        profile_free(s->profiles[i]);
    free(s->profiles);
    http_seen_free(s);
    pthread_mutex_destroy(&s->lock);
    pthread_rwlock_destroy(&s->cfg_lock);
    free(s);
}
