/*
 * demo-platform: a small SaaS platform for gitsyncd's demo and tests.
 * Models and syncs over a REST API shaped like Hightouch's v1, an audit
 * log, and Standard-Webhooks-signed change events (see --help).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gitsyncd/util.h"

#define DP_MAX_BODY (1 << 20)

static const char dp_usage_text[] =
    "usage: demo-platform [options]\n"
    "\n"
    "A small SaaS platform for gitsyncd's demo and tests: models and syncs\n"
    "over a REST API shaped like Hightouch's v1, an audit log, and change\n"
    "events signed with Standard Webhooks.\n"
    "\n"
    "Options:\n"
    "  --listen ADDR:PORT     where to listen (default 127.0.0.1:8090; port 0 picks one)\n"
    "  --port-file FILE       write the port it listens on to FILE\n"
    "  --token TOKEN          the bearer token every request needs (default demo-token)\n"
    "  --webhook-url URL      POST a signed event there for every change\n"
    "  --webhook-secret S     whsec_<base64> secret that signs the events\n"
    "  --data FILE            keep the state in FILE (JSON, written atomically)\n"
    "  --seed N               start with N example resources (models, then syncs)\n"
    "  --skip-in-lists SLUG   leave that resource out of page listings (as a\n"
    "                         listing racing a deletion does); ?slug= and GET\n"
    "                         by id still find it\n"
    "  --fail-rate R          answer that fraction of requests 503 (or 429 with\n"
    "                         Retry-After: 1) before doing anything\n"
    "  --latency-ms M         wait M ms before answering each request\n"
    "  --max-page N           give at most N items per page whatever limit asks\n"
    "                         for (hasMore still tells the truth), as many APIs do\n"
    "  -h, --help             this text\n"
    "\n"
    "API (every request needs Authorization: Bearer TOKEN, else 401; a write\n"
    "may name its actor with X-Actor: Name <email>):\n"
    "  GET    /api/v1/{models,syncs}?limit=L&offset=O  {\"data\": [...], \"hasMore\": bool}\n"
    "  GET    /api/v1/{models,syncs}?slug=S            the same shape, 0 or 1 item\n"
    "  POST   /api/v1/{models,syncs}                   201 object; 409 slug taken;\n"
    "                                                  422 {\"error\": ...} invalid\n"
    "  GET    /api/v1/{models,syncs}/ID                200 object; 404\n"
    "  PATCH  /api/v1/{models,syncs}/ID                200 object (top-level merge)\n"
    "  DELETE /api/v1/{models,syncs}/ID                204; 409 model used by a sync\n"
    "  GET    /api/v1/audit?after=SEQ                  {\"data\": [{seq, kind, id, slug,\n"
    "                                                  action, actor, at}]}\n"
    "\n"
    "A model: id, slug, name, sourceId, queryType, raw {sql}, primaryKey, tags,\n"
    "createdAt, updatedAt.  A sync: id, slug, modelId, destinationId,\n"
    "configuration, schedule (object or null), disabled, createdAt, updatedAt.\n"
    "Slugs match ^[a-z0-9][a-z0-9-]{0,99}$.  Unknown fields are refused (422).\n"
    "Events: {\"type\": \"model.updated\", \"timestamp\", \"data\": {seq, kind, id,\n"
    "slug, action, actor}}, retried with backoff until the receiver answers 2xx.\n";

struct dp_kind {
    const char *name;   /* model */
    const char *plural; /* models */
    json_t *items;      /* array, ordered by id */
};

static struct {
    struct dp_kind kinds[2];
    json_t *audit;
    long long next_id;
    long long seq;
    const char *token;
    const char *data_file;
    const char *webhook_url;
    unsigned char secret[256];
    int secret_len;
    double fail_rate;
    const char *skip_in_lists; /* a slug page listings leave out */
    int latency_ms;
    long max_page;             /* items per page at most, 0: as asked */
    regex_t slug_re;
    struct event_base *base;
    /* webhook delivery */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    json_t *outbox; /* events not yet delivered, in order */
    bool stopping;
} dp;

/* The current time as RFC 3339. */
static char *
dp_now(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

/* Send a JSON answer. */
static void
dp_reply(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    char *s;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    if (body != NULL) {
        s = json_dumps(body, JSON_PRESERVE_ORDER | JSON_INDENT(2));
        evbuffer_add(b, s, strlen(s));
        evbuffer_add(b, "\n", 1);
        free(s);
        json_decref(body);
    }
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

/* Send {"error": msg}. */
static void
dp_error(struct evhttp_request *req, int code, const char *fmt, ...) GS_PRINTF(3, 4);

static void
dp_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    dp_reply(req, code, json_pack("{s:s}", "error", msg));
    free(msg);
}

/* Save the whole state to --data, atomically. */
static void
dp_save(void)
{
    json_t *state;
    char *s, *err = NULL;

    if (dp.data_file == NULL)
        return;
    state = json_pack("{s:I, s:I, s:O, s:O, s:O}", "nextId", (json_int_t)dp.next_id,
                      "seq", (json_int_t)dp.seq, "models", dp.kinds[0].items,
                      "syncs", dp.kinds[1].items, "audit", dp.audit);
    s = json_dumps(state, JSON_PRESERVE_ORDER | JSON_INDENT(1));
    json_decref(state);
    if (write_file_atomic(dp.data_file, s, strlen(s), 0600, &err) != 0) {
        fprintf(stderr, "demo-platform: cannot save: %s\n", err);
        free(err);
    }
    free(s);
}

/* Load --data if it exists. */
static int
dp_load(void)
{
    json_error_t jerr;
    json_t *state;

    if (dp.data_file == NULL || access(dp.data_file, F_OK) != 0)
        return 0;
    state = json_load_file(dp.data_file, 0, &jerr);
    if (state == NULL) {
        fprintf(stderr, "demo-platform: %s:%d:%d: %s\n", dp.data_file, jerr.line,
                jerr.column, jerr.text);
        return -1;
    }
    dp.next_id = json_integer_value(json_object_get(state, "nextId"));
    dp.seq = json_integer_value(json_object_get(state, "seq"));
    json_decref(dp.kinds[0].items);
    json_decref(dp.kinds[1].items);
    json_decref(dp.audit);
    dp.kinds[0].items = json_incref(json_object_get(state, "models"));
    dp.kinds[1].items = json_incref(json_object_get(state, "syncs"));
    dp.audit = json_incref(json_object_get(state, "audit"));
    json_decref(state);
    if (!json_is_array(dp.kinds[0].items) || !json_is_array(dp.kinds[1].items) ||
        !json_is_array(dp.audit)) {
        fprintf(stderr, "demo-platform: %s: not a demo-platform state file\n", dp.data_file);
        return -1;
    }
    return 0;
}

/* The index of the resource with id in kind, or -1. */
static long
dp_find(const struct dp_kind *k, long long id)
{
    size_t i;
    json_t *v;

    json_array_foreach(k->items, i, v) {
        if (json_integer_value(json_object_get(v, "id")) == id)
            return (long)i;
    }
    return -1;
}

/* The resource of kind with slug, or NULL. */
static json_t *
dp_find_slug(const struct dp_kind *k, const char *slug)
{
    size_t i;
    json_t *v;

    json_array_foreach(k->items, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "slug")), slug) == 0)
            return v;
    }
    return NULL;
}

/* Record a change in the audit log and queue its event. */
static void
dp_record(const struct dp_kind *k, json_t *obj, const char *action,
          const json_t *actor)
{
    json_t *entry, *event;
    char *at = dp_now(), *type;

    dp.seq++;
    entry = json_pack("{s:I, s:s, s:O, s:O, s:s, s:O, s:s}", "seq", (json_int_t)dp.seq,
                      "kind", k->name, "id", json_object_get(obj, "id"), "slug",
                      json_object_get(obj, "slug"), "action", action, "actor", actor,
                      "at", at);
    json_array_append(dp.audit, entry);
    if (dp.webhook_url != NULL) {
        type = xasprintf("%s.%s", k->name, action);
        event = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", at, "data", entry);
        free(type);
        pthread_mutex_lock(&dp.lock);
        json_array_append_new(dp.outbox, event);
        pthread_cond_signal(&dp.cond);
        pthread_mutex_unlock(&dp.lock);
    }
    json_decref(entry);
    free(at);
    dp_save();
}

/* The actor of a request: X-Actor "Name <email>", else the API user. */
static json_t *
dp_actor(struct evhttp_request *req)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Actor");
    const char *lt, *gt;
    char *name;
    json_t *a;

    if (h == NULL || (lt = strchr(h, '<')) == NULL || (gt = strchr(lt, '>')) == NULL)
        return json_pack("{s:s, s:s}", "name", h != NULL ? h : "API", "email",
                         "api@demo.invalid");
    name = xstrndup(h, (size_t)(lt - h));
    while (name[0] != '\0' && name[strlen(name) - 1] == ' ')
        name[strlen(name) - 1] = '\0';
    a = json_pack("{s:s, s:s%}", "name", name, "email", lt + 1, (size_t)(gt - lt - 1));
    free(name);
    return a;
}

/* Check a model or sync; sets msg and returns the HTTP code, or 0. */
static int
dp_validate(const struct dp_kind *k, json_t *obj, const json_t *self, char **msg)
{
    static const char *const model_fields[] = {
        "id", "slug", "name", "sourceId", "queryType", "raw", "primaryKey", "tags",
        "createdAt", "updatedAt", NULL,
    };
    static const char *const sync_fields[] = {
        "id", "slug", "modelId", "destinationId", "configuration", "schedule",
        "disabled", "createdAt", "updatedAt", NULL,
    };
    const char *const *fields = k == &dp.kinds[0] ? model_fields : sync_fields;
    const char *key, *slug;
    json_t *v, *other;
    size_t i;

    json_object_foreach(obj, key, v) {
        for (i = 0; fields[i] != NULL && strcmp(fields[i], key) != 0; i++)
            ;
        if (fields[i] == NULL) {
            *msg = xasprintf("unknown field \"%s\"", key);
            return 422;
        }
    }
    slug = json_string_value(json_object_get(obj, "slug"));
    if (slug == NULL || regexec(&dp.slug_re, slug, 0, NULL, 0) != 0) {
        *msg = xasprintf("slug must match ^[a-z0-9][a-z0-9-]{0,99}$");
        return 422;
    }
    other = dp_find_slug(k, slug);
    if (other != NULL && other != self) {
        *msg = xasprintf("slug \"%s\" is taken by %s %lld", slug, k->name,
                         (long long)json_integer_value(json_object_get(other, "id")));
        return 409;
    }
#define REQUIRE(name, test, what) \
    do { \
        v = json_object_get(obj, name); \
        if (v == NULL || !(test)) { \
            *msg = xasprintf("%s is required and must be %s", name, what); \
            return 422; \
        } \
    } while (0)
#define OPTIONAL(name, test, what) \
    do { \
        v = json_object_get(obj, name); \
        if (v != NULL && !(test)) { \
            *msg = xasprintf("%s must be %s", name, what); \
            return 422; \
        } \
    } while (0)
    if (k == &dp.kinds[0]) {
        REQUIRE("name", json_is_string(v) && json_string_length(v) > 0, "a non-empty string");
        REQUIRE("sourceId", json_is_integer(v), "an integer");
        REQUIRE("queryType", json_is_string(v), "a string");
        OPTIONAL("raw", json_is_object(v) && json_is_string(json_object_get(v, "sql")),
                 "an object with a string sql");
        OPTIONAL("primaryKey", json_is_string(v), "a string");
        OPTIONAL("tags", json_is_object(v), "an object");
    } else {
        REQUIRE("modelId", json_is_integer(v), "an integer");
        if (dp_find(&dp.kinds[0], json_integer_value(v)) < 0) {
            *msg = xasprintf("modelId %lld names no model", (long long)json_integer_value(v));
            return 422;
        }
        REQUIRE("destinationId", json_is_integer(v), "an integer");
        OPTIONAL("configuration", json_is_object(v), "an object");
        OPTIONAL("schedule", json_is_object(v) || json_is_null(v), "an object or null");
        OPTIONAL("disabled", json_is_boolean(v), "a boolean");
    }
#undef REQUIRE
#undef OPTIONAL
    return 0;
}

/* Fill in the defaults a real platform would (normalisation). */
static void
dp_defaults(const struct dp_kind *k, json_t *obj)
{
    if (k == &dp.kinds[0]) {
        if (json_object_get(obj, "tags") == NULL)
            json_object_set_new(obj, "tags", json_object());
        if (json_object_get(obj, "primaryKey") == NULL)
            json_object_set_new(obj, "primaryKey", json_string("id"));
    } else {
        if (json_object_get(obj, "configuration") == NULL)
            json_object_set_new(obj, "configuration", json_object());
        if (json_object_get(obj, "schedule") == NULL)
            json_object_set_new(obj, "schedule", json_null());
        if (json_object_get(obj, "disabled") == NULL)
            json_object_set_new(obj, "disabled", json_false());
    }
}

/* Parse the request body as a JSON object; answers the error itself. */
static json_t *
dp_body(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *v;

    v = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        dp_error(req, 400, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        dp_error(req, 400, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* An object with its keys in the documented order. */
static json_t *
dp_ordered(const struct dp_kind *k, json_t *obj)
{
    static const char *const model_order[] = {
        "id", "slug", "name", "sourceId", "queryType", "raw", "primaryKey", "tags",
        "createdAt", "updatedAt", NULL,
    };
    static const char *const sync_order[] = {
        "id", "slug", "modelId", "destinationId", "configuration", "schedule",
        "disabled", "createdAt", "updatedAt", NULL,
    };
    const char *const *order = k == &dp.kinds[0] ? model_order : sync_order;
    json_t *out = json_object(), *v;
    size_t i;

    for (i = 0; order[i] != NULL; i++) {
        v = json_object_get(obj, order[i]);
        if (v != NULL)
            json_object_set(out, order[i], v);
    }
    json_decref(obj);
    return out;
}

/* POST /api/v1/<kind> */
static void
dp_create(struct evhttp_request *req, struct dp_kind *k)
{
    json_t *obj = dp_body(req), *actor;
    char *msg = NULL, *now;
    int code;

    if (obj == NULL)
        return;
    json_object_del(obj, "id");
    json_object_del(obj, "createdAt");
    json_object_del(obj, "updatedAt");
    code = dp_validate(k, obj, NULL, &msg);
    if (code != 0) {
        dp_error(req, code, "%s", msg);
        free(msg);
        json_decref(obj);
        return;
    }
    dp_defaults(k, obj);
    now = dp_now();
    json_object_set_new(obj, "id", json_integer(++dp.next_id));
    json_object_set_new(obj, "createdAt", json_string(now));
    json_object_set_new(obj, "updatedAt", json_string(now));
    free(now);
    obj = dp_ordered(k, obj);
    json_array_append(k->items, obj);
    actor = dp_actor(req);
    dp_record(k, obj, "created", actor);
    json_decref(actor);
    dp_reply(req, 201, obj);
}

/* PATCH /api/v1/<kind>/<id> */
static void
dp_update(struct evhttp_request *req, struct dp_kind *k, long idx)
{
    json_t *old = json_array_get(k->items, (size_t)idx), *patch, *obj, *actor;
    char *msg = NULL, *now;
    const char *key;
    json_t *v;
    int code;

    patch = dp_body(req);
    if (patch == NULL)
        return;
    obj = json_deep_copy(old);
    json_object_foreach(patch, key, v) {
        if (strcmp(key, "id") == 0 || strcmp(key, "createdAt") == 0 || strcmp(key, "updatedAt") == 0)
            continue;
        json_object_set(obj, key, v);
    }
    json_decref(patch);
    code = dp_validate(k, obj, old, &msg);
    if (code != 0) {
        dp_error(req, code, "%s", msg);
        free(msg);
        json_decref(obj);
        return;
    }
    if (json_equal(obj, old)) {
        /* Nothing changed: no audit entry, no event. */
        json_decref(obj);
        dp_reply(req, 200, json_incref(old));
        return;
    }
    now = dp_now();
    json_object_set_new(obj, "updatedAt", json_string(now));
    free(now);
    obj = dp_ordered(k, obj);
    json_array_set(k->items, (size_t)idx, obj);
    actor = dp_actor(req);
    dp_record(k, obj, "updated", actor);
    json_decref(actor);
    dp_reply(req, 200, obj);
}

/* DELETE /api/v1/<kind>/<id> */
static void
dp_delete(struct evhttp_request *req, struct dp_kind *k, long idx)
{
    json_t *obj = json_incref(json_array_get(k->items, (size_t)idx)), *v, *actor;
    long long id = json_integer_value(json_object_get(obj, "id"));
    size_t i;

    if (k == &dp.kinds[0]) {
        json_array_foreach(dp.kinds[1].items, i, v) {
            if (json_integer_value(json_object_get(v, "modelId")) == id) {
                dp_error(req, 409, "model %lld is used by sync \"%s\"", id,
                         json_string_value(json_object_get(v, "slug")));
                json_decref(obj);
                return;
            }
        }
    }
    json_array_remove(k->items, (size_t)idx);
    actor = dp_actor(req);
    dp_record(k, obj, "deleted", actor);
    json_decref(actor);
    json_decref(obj);
    evhttp_send_reply(req, 204, NULL, NULL);
}

/* GET /api/v1/<kind>?limit&offset|slug */
static void
dp_list(struct evhttp_request *req, struct dp_kind *k, struct evkeyvalq *q)
{
    const char *slug = evhttp_find_header(q, "slug");
    const char *ls = evhttp_find_header(q, "limit"), *os = evhttp_find_header(q, "offset");
    long limit = ls != NULL ? atol(ls) : 100, offset = os != NULL ? atol(os) : 0, i, n;
    json_t *data = json_array(), *v;

    if (slug != NULL) {
        v = dp_find_slug(k, slug);
        if (v != NULL)
            json_array_append(data, v);
        dp_reply(req, 200, json_pack("{s:o, s:b}", "data", data, "hasMore", 0));
        return;
    }
    if (limit < 1 || limit > 1000 || offset < 0) {
        json_decref(data);
        dp_error(req, 400, "limit must be 1 to 1000 and offset at least 0");
        return;
    }
    if (dp.max_page > 0 && limit > dp.max_page)
        limit = dp.max_page;
    n = (long)json_array_size(k->items);
    for (i = offset; i < n && i < offset + limit; i++) {
        v = json_array_get(k->items, (size_t)i);
        if (dp.skip_in_lists != NULL &&
            strcmp(json_string_value(json_object_get(v, "slug")), dp.skip_in_lists) == 0)
            continue;
        json_array_append(data, v);
    }
    dp_reply(req, 200, json_pack("{s:o, s:b}", "data", data, "hasMore", offset + limit < n));
}

/* GET /api/v1/audit?after=SEQ */
static void
dp_audit(struct evhttp_request *req, struct evkeyvalq *q)
{
    const char *as = evhttp_find_header(q, "after");
    long long after = as != NULL ? atoll(as) : 0;
    json_t *data = json_array(), *v;
    size_t i;

    json_array_foreach(dp.audit, i, v) {
        if (json_integer_value(json_object_get(v, "seq")) > after)
            json_array_append(data, v);
    }
    dp_reply(req, 200, json_pack("{s:o}", "data", data));
}

/* Every request: auth, faults, routing. */
static void
dp_handle(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req), *auth, *rest;
    struct evhttp_uri *parsed;
    struct evkeyvalq q;
    struct dp_kind *k = NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const char *path;
    char *expect, *end;
    long long id;
    long idx;
    size_t i;

    (void)arg;
    if (dp.latency_ms > 0)
        usleep((useconds_t)dp.latency_ms * 1000);
    if (dp.fail_rate > 0 && (double)rand() / RAND_MAX < dp.fail_rate) {
        if (rand() % 2 == 0) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
            dp_error(req, 429, "rate limited (fault injection)");
        } else {
            dp_error(req, 503, "unavailable (fault injection)");
        }
        return;
    }
    auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    expect = xasprintf("Bearer %s", dp.token);
    if (auth == NULL || strcmp(auth, expect) != 0) {
        free(expect);
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        dp_error(req, 401, "missing or wrong bearer token");
        return;
    }
    free(expect);
    parsed = evhttp_uri_parse(uri);
    if (parsed == NULL) {
        dp_error(req, 400, "bad URI");
        return;
    }
    path = evhttp_uri_get_path(parsed);
    TAILQ_INIT(&q);
    if (evhttp_uri_get_query(parsed) != NULL)
        evhttp_parse_query_str(evhttp_uri_get_query(parsed), &q);
    if (path == NULL || strncmp(path, "/api/v1/", 8) != 0) {
        dp_error(req, 404, "no such route");
        goto out;
    }
    rest = path + 8;
    if (strcmp(rest, "audit") == 0) {
        if (method == EVHTTP_REQ_GET)
            dp_audit(req, &q);
        else
            dp_error(req, 405, "method not allowed");
        goto out;
    }
    for (i = 0; i < 2; i++) {
        size_t n = strlen(dp.kinds[i].plural);

        if (strncmp(rest, dp.kinds[i].plural, n) == 0 && (rest[n] == '\0' || rest[n] == '/')) {
            k = &dp.kinds[i];
            rest += n;
            break;
        }
    }
    if (k == NULL) {
        dp_error(req, 404, "no such route");
        goto out;
    }
    if (*rest == '\0') {
        if (method == EVHTTP_REQ_GET)
            dp_list(req, k, &q);
        else if (method == EVHTTP_REQ_POST)
            dp_create(req, k);
        else
            dp_error(req, 405, "method not allowed");
        goto out;
    }
    errno = 0;
    id = strtoll(rest + 1, &end, 10);
    if (*end != '\0' || errno != 0 || rest[1] == '\0') {
        dp_error(req, 404, "no such route");
        goto out;
    }
    idx = dp_find(k, id);
    if (idx < 0) {
        dp_error(req, 404, "no %s with id %lld", k->name, id);
        goto out;
    }
    if (method == EVHTTP_REQ_GET)
        dp_reply(req, 200, json_incref(json_array_get(k->items, (size_t)idx)));
    else if (method == EVHTTP_REQ_PATCH || method == EVHTTP_REQ_PUT)
        dp_update(req, k, idx);
    else if (method == EVHTTP_REQ_DELETE)
        dp_delete(req, k, idx);
    else
        dp_error(req, 405, "method not allowed");
out:
    evhttp_clear_headers(&q);
    evhttp_uri_free(parsed);
}

/* libcurl write callback: the receiver's answer body is not needed. */
static size_t
dp_discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* Sign and POST one event; true when the receiver took it (2xx). */
static bool
dp_deliver(CURL *c, json_t *event)
{
    struct curl_slist *h = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *body, *id, *signed_text, sig[128], *hdr;
    char ts[32];
    long code = 0;
    CURLcode rc;

    body = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
    id = xasprintf("msg_%lld", (long long)json_integer_value(
                                   json_object_get(json_object_get(event, "data"), "seq")));
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    signed_text = xasprintf("%s.%s.%s", id, ts, body);
    HMAC(EVP_sha256(), dp.secret, dp.secret_len, (unsigned char *)signed_text,
         strlen(signed_text), mac, &maclen);
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
    h = curl_slist_append(h, "Content-Type: application/json");
    hdr = xasprintf("webhook-id: %s", id);
    h = curl_slist_append(h, hdr);
    free(hdr);
    hdr = xasprintf("webhook-timestamp: %s", ts);
    h = curl_slist_append(h, hdr);
    free(hdr);
    hdr = xasprintf("webhook-signature: v1,%s", sig);
    h = curl_slist_append(h, hdr);
    free(hdr);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, dp.webhook_url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dp_discard);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    free(body);
    free(id);
    free(signed_text);
    return rc == CURLE_OK && code >= 200 && code < 300;
}

/* The delivery thread: events in order, each retried until it lands. */
static void *
dp_deliverer(void *arg)
{
    CURL *c = curl_easy_init();
    json_t *event;
    int backoff_ms = 100;

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&dp.lock);
        while (json_array_size(dp.outbox) == 0 && !dp.stopping)
            pthread_cond_wait(&dp.cond, &dp.lock);
        if (dp.stopping) {
            pthread_mutex_unlock(&dp.lock);
            break;
        }
        event = json_incref(json_array_get(dp.outbox, 0));
        pthread_mutex_unlock(&dp.lock);
        if (dp_deliver(c, event)) {
            pthread_mutex_lock(&dp.lock);
            json_array_remove(dp.outbox, 0);
            pthread_mutex_unlock(&dp.lock);
            backoff_ms = 100;
        } else {
            usleep((useconds_t)backoff_ms * 1000);
            backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
        }
        json_decref(event);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* --seed N: example models (with multi-line SQL), then syncs. */
static void
dp_seed(long n)
{
    static const char *const tables[] = { "users", "orders", "events", "accounts", "tickets" };
    long i, models = (n + 1) / 2;
    json_t *obj, *actor = json_pack("{s:s, s:s}", "name", "Seed", "email", "seed@demo.invalid");
    char *sql, *slug, *name, *now = dp_now();
    const char *t;

    for (i = 0; i < n; i++) {
        t = tables[i % 5];
        if (i < models) {
            slug = xasprintf("%s-%ld", t, i + 1);
            name = xasprintf("Active %s %ld", t, i + 1);
            sql = xasprintf("select id,\n       email,\n       created_at\n  from %s\n where deleted_at is null\n", t);
            obj = json_pack("{s:I, s:s, s:s, s:i, s:s, s:{s:s}, s:s, s:{s:s}, s:s, s:s}",
                            "id", (json_int_t)++dp.next_id, "slug", slug, "name", name,
                            "sourceId", 1, "queryType", "raw_sql", "raw", "sql", sql,
                            "primaryKey", "id", "tags", "team", "growth", "createdAt", now,
                            "updatedAt", now);
            json_array_append(dp.kinds[0].items, obj);
            dp_record(&dp.kinds[0], obj, "created", actor);
            free(sql);
            free(name);
        } else {
            json_t *model = json_array_get(dp.kinds[0].items, (size_t)((i - models) % models));

            slug = xasprintf("%s-to-crm", json_string_value(json_object_get(model, "slug")));
            obj = json_pack("{s:I, s:s, s:O, s:i, s:{s:s, s:s}, s:{s:s, s:{s:{s:s, s:i}}}, s:b, s:s, s:s}",
                            "id", (json_int_t)++dp.next_id, "slug", slug, "modelId",
                            json_object_get(model, "id"), "destinationId", 3, "configuration",
                            "object", "Contact", "mode", "upsert", "schedule", "type", "interval",
                            "schedule", "interval", "unit", "hour", "quantity", 1, "disabled", 0,
                            "createdAt", now, "updatedAt", now);
            json_array_append(dp.kinds[1].items, obj);
            dp_record(&dp.kinds[1], obj, "created", actor);
        }
        free(slug);
        json_decref(obj);
    }
    json_decref(actor);
    free(now);
}

static void
dp_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopexit(dp.base, NULL);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'P' },
        { "token", required_argument, NULL, 't' },
        { "webhook-url", required_argument, NULL, 'w' },
        { "webhook-secret", required_argument, NULL, 's' },
        { "data", required_argument, NULL, 'd' },
        { "seed", required_argument, NULL, 'S' },
        { "fail-rate", required_argument, NULL, 'f' },
        { "latency-ms", required_argument, NULL, 'L' },
        { "skip-in-lists", required_argument, NULL, 'K' },
        { "max-page", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = "127.0.0.1:8090", *port_file = NULL, *secret = NULL;
    struct evhttp_bound_socket *bound;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct evhttp *http;
    struct event *sigterm, *sigint;
    pthread_t thread;
    char *host, *colon;
    long seed = 0;
    int c, port;

    dp.token = "demo-token";
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'P': port_file = optarg; break;
        case 't': dp.token = optarg; break;
        case 'w': dp.webhook_url = optarg; break;
        case 's': secret = optarg; break;
        case 'd': dp.data_file = optarg; break;
        case 'S': seed = atol(optarg); break;
        case 'f': dp.fail_rate = atof(optarg); break;
        case 'L': dp.latency_ms = atoi(optarg); break;
        case 'K': dp.skip_in_lists = optarg; break;
        case 'M': dp.max_page = atol(optarg); break;
        case 'h':
            fputs(dp_usage_text, stdout);
            return 0;
        default:
            fputs(dp_usage_text, stderr);
            return 2;
        }
    }
    if (secret != NULL) {
        const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
        size_t len = strlen(b64);

        if (len > 300 || (dp.secret_len = EVP_DecodeBlock(dp.secret, (const unsigned char *)b64, (int)len)) <= 0) {
            fprintf(stderr, "demo-platform: --webhook-secret is not whsec_<base64>\n");
            return 2;
        }
        while (len > 0 && b64[len - 1] == '=') {
            dp.secret_len--;
            len--;
        }
    } else if (dp.webhook_url != NULL) {
        fprintf(stderr, "demo-platform: --webhook-url needs --webhook-secret\n");
        return 2;
    }
    regcomp(&dp.slug_re, "^[a-z0-9][a-z0-9-]{0,99}$", REG_EXTENDED | REG_NOSUB);
    dp.kinds[0] = (struct dp_kind){ "model", "models", json_array() };
    dp.kinds[1] = (struct dp_kind){ "sync", "syncs", json_array() };
    dp.audit = json_array();
    dp.outbox = json_array();
    pthread_mutex_init(&dp.lock, NULL);
    pthread_cond_init(&dp.cond, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    if (dp_load() != 0)
        return 1;
    if (seed > 0 && json_array_size(dp.kinds[0].items) == 0)
        dp_seed(seed);

    evthread_use_pthreads();
    dp.base = event_base_new();
    http = evhttp_new(dp.base);
    evhttp_set_max_body_size(http, DP_MAX_BODY);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(http, dp_handle, NULL);
    host = xstrdup(listen);
    colon = strrchr(host, ':');
    if (colon == NULL) {
        fprintf(stderr, "demo-platform: --listen wants ADDR:PORT\n");
        return 2;
    }
    *colon = '\0';
    bound = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)atoi(colon + 1));
    if (bound == NULL) {
        fprintf(stderr, "demo-platform: cannot listen on %s: %s\n", listen, strerror(errno));
        return 1;
    }
    /* Answers are written as headers then body: without TCP_NODELAY a
     * large answer waits for the client's delayed ACK (40 ms) each time.
     * Linux passes the option on to accepted sockets. */
    {
        int one = 1;

        setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (port_file != NULL) {
        char buf[16], *err = NULL;

        snprintf(buf, sizeof buf, "%d\n", port);
        if (write_file_atomic(port_file, buf, strlen(buf), 0644, &err) != 0) {
            fprintf(stderr, "demo-platform: %s\n", err);
            return 1;
        }
    }
    fprintf(stderr, "demo-platform: listening on %s:%d (%zu models, %zu syncs)\n", host, port,
            json_array_size(dp.kinds[0].items), json_array_size(dp.kinds[1].items));
    free(host);
    pthread_create(&thread, NULL, dp_deliverer, NULL);
    sigterm = evsignal_new(dp.base, SIGTERM, dp_signal, NULL);
    sigint = evsignal_new(dp.base, SIGINT, dp_signal, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    signal(SIGPIPE, SIG_IGN);
    event_base_dispatch(dp.base);

    pthread_mutex_lock(&dp.lock);
    dp.stopping = true;
    pthread_cond_signal(&dp.cond);
    pthread_mutex_unlock(&dp.lock);
    pthread_join(thread, NULL);
    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(dp.base);
    json_decref(dp.kinds[0].items);
    json_decref(dp.kinds[1].items);
    json_decref(dp.audit);
    json_decref(dp.outbox);
    regfree(&dp.slug_re);
    curl_global_cleanup();
    return 0;
}
