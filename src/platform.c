/* platform: a profile-driven REST client, and the Git <-> platform mapping. */
#include "autoconfig.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/util.h"

#define PLATFORM_MAX_RESPONSE (64u << 20)
#define PLATFORM_MAX_PAGES 100000
#define PLATFORM_BACKOFF_MS 100
#define PLATFORM_BACKOFF_MAX_MS 5000
/* How much of a validation error's details goes into a message. */
#define PLATFORM_DETAILS_MAX 1000

struct platform {
    const struct profile *profile;
    const struct config_platform *cfg;
    char *workspace;
    char *base;          /* the API base URL, no trailing '/' */
    char *auth;          /* "Authorization: Bearer ..." */
    CURL *curl;
    struct platform_stats stats;
    platform_observer_fn observer;
    void *observer_arg;
    double *window;      /* send times for the client-side rate limit */
    int nwindow;
    int window_pos;
};

/* One HTTP exchange. */
struct platform_response {
    long code;
    struct buf body;
    bool too_big;
    char *link_next;     /* rel="next" of a Link header */
    json_t *json;
};

struct platform *
platform_new(const struct profile *profile, const struct config_platform *cfg,
             const char *workspace)
{
    struct platform *pl = xcalloc(1, sizeof *pl);
    size_t len;

    pl->profile = profile;
    pl->cfg = cfg;
    pl->workspace = xstrdup(workspace);
    pl->base = xstrdup(cfg->url);
    len = strlen(pl->base);
    while (len > 0 && pl->base[len - 1] == '/')
        pl->base[--len] = '\0';
    pl->auth = xasprintf("Authorization: Bearer %s", cfg->token != NULL ? cfg->token : "");
    log_add_secret(cfg->token);
    pl->curl = curl_easy_init();
    if (pl->curl == NULL) {
        fprintf(stderr, "gitsyncd: fatal: curl_easy_init failed\n");
        abort();
    }
    if (profile->rate_limit_requests > 0) {
        pl->nwindow = profile->rate_limit_requests;
        pl->window = xcalloc((size_t)pl->nwindow, sizeof *pl->window);
    }
    return pl;
}

void
platform_free(struct platform *pl)
{
    if (pl == NULL)
        return;
    curl_easy_cleanup(pl->curl);
    free(pl->workspace);
    free(pl->base);
    free(pl->auth);
    free(pl->window);
    free(pl);
}

const struct platform_stats *
platform_stats(const struct platform *pl)
{
    return &pl->stats;
}

void
platform_set_observer(struct platform *pl, platform_observer_fn fn, void *arg)
{
    pl->observer = fn;
    pl->observer_arg = arg;
}

const char *
platform_result_name(enum platform_result r)
{
    switch (r) {
    case PLATFORM_OK: return "ok";
    case PLATFORM_ERROR: return "error";
    case PLATFORM_NOTFOUND: return "not found";
    case PLATFORM_CONFLICT: return "conflict";
    case PLATFORM_INVALID: return "invalid";
    case PLATFORM_AUTH: return "auth";
    case PLATFORM_NOTSUP: return "not supported";
    }
    return "?";
}

/* Set by platform_stop (shutdown): when it began (now_mono() in ms, 0:
 * not stopping) and how long a request may go on past it. */
static atomic_llong platform_stop_ms;
static atomic_llong platform_grace_ms;

void
platform_stop(double grace)
{
    long long now = (long long)(now_mono() * 1000);

    atomic_store(&platform_grace_ms, (long long)(grace * 1000));
    atomic_store(&platform_stop_ms, now > 0 ? now : 1);
}

/*
 * libcurl progress callback (arg: the request's start, now_mono()): once
 * stopping, abort a transfer that has run grace past the stop or past its
 * own start, whichever is later.  libcurl calls it at least once a second,
 * also while no byte moves.
 */
static int
platform_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                  curl_off_t ulnow)
{
    long long stop = atomic_load(&platform_stop_ms);
    long long start = (long long)(*(const double *)arg * 1000);

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (stop == 0)
        return 0;
    return (long long)(now_mono() * 1000) > (start > stop ? start : stop) +
                                                 atomic_load(&platform_grace_ms);
}

/* Sleep for seconds, or less if gitsyncd starts stopping meanwhile. */
static void
platform_sleep(double seconds)
{
    double end = now_mono() + seconds, left;

    while (atomic_load(&platform_stop_ms) == 0 && (left = end - now_mono()) > 0)
        usleep((useconds_t)((left < 0.1 ? left : 0.1) * 1e6));
}

/* libcurl body callback, bounded. */
static size_t
platform_write(char *data, size_t size, size_t n, void *arg)
{
    struct platform_response *r = arg;

    if (r->body.len + size * n > PLATFORM_MAX_RESPONSE) {
        r->too_big = true;
        return 0;
    }
    buf_add(&r->body, data, size * n);
    return size * n;
}

/* libcurl header callback: keep Link's rel="next". */
static size_t
platform_header(char *data, size_t size, size_t n, void *arg)
{
    struct platform_response *r = arg;
    size_t len = size * n;
    char *line, *p, *lt, *gt;

    if (len < 5 || strncasecmp(data, "link:", 5) != 0)
        return len;
    line = xstrndup(data + 5, len - 5);
    for (p = line; (lt = strchr(p, '<')) != NULL; p = gt + 1) {
        gt = strchr(lt, '>');
        if (gt == NULL)
            break;
        if (strstr(gt, "rel=\"next\"") != NULL &&
            (strchr(gt, ',') == NULL || strstr(gt, "rel=\"next\"") < strchr(gt, ','))) {
            free(r->link_next);
            r->link_next = xstrndup(lt + 1, (size_t)(gt - lt - 1));
            break;
        }
    }
    free(line);
    return len;
}

static void
platform_response_free(struct platform_response *r)
{
    buf_free(&r->body);
    free(r->link_next);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Wait until the client-side rate limit lets one more request go. */
static void
platform_rate_wait(struct platform *pl)
{
    double oldest, wait, period;

    if (pl->nwindow == 0)
        return;
    period = (double)pl->profile->rate_limit_period_ms / 1000;
    oldest = pl->window[pl->window_pos];
    wait = oldest + period - now_mono();
    if (oldest > 0 && wait > 0)
        platform_sleep(wait);
    pl->window[pl->window_pos] = now_mono();
    pl->window_pos = (pl->window_pos + 1) % pl->nwindow;
}

/*
 * message, followed by what a validation error's details say field by
 * field (Hightouch's ValidateErrorJSON: {"message", "details": {field:
 * message}}), so that the user learns which field was refused.
 */
static char *
platform_details(const char *message, const json_t *details)
{
    struct buf b;
    const char *key;
    json_t *v;
    char *text;
    bool any = false;

    buf_init(&b);
    buf_adds(&b, message);
    json_object_foreach((json_t *)details, key, v) {
        buf_adds(&b, any ? "; " : " (");
        any = true;
        if (b.len > PLATFORM_DETAILS_MAX) {
            buf_adds(&b, "...");
            break;
        }
        text = json_is_string(v) ? xstrdup(json_string_value(v))
                                 : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        buf_printf(&b, "%.100s: %.200s", key, text != NULL ? text : "?");
        free(text);
    }
    if (any)
        buf_addc(&b, ')');
    return buf_detach(&b);
}

/* The platform's own message from an error answer. */
static char *
platform_message(const struct platform_response *r)
{
    const char *m = NULL;

    if (r->json != NULL) {
        m = json_string_value(json_object_get(r->json, "error"));
        if (m == NULL)
            m = json_string_value(json_object_get(r->json, "message"));
        if (m == NULL && json_is_object(json_object_get(r->json, "error")))
            m = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    }
    if (m != NULL)
        return platform_details(m, json_object_get(r->json, "details"));
    if (r->body.len > 0)
        return xasprintf("%.300s", r->body.data);
    return xasprintf("HTTP %ld", r->code);
}

/* True if an answer is worth trying again. */
static bool
platform_retryable(long code)
{
    return code == 0 || code == 408 || code == 429 || code >= 500;
}

/*
 * True if url has the scheme, host and port of the platform's base URL:
 * the token goes nowhere else, whatever a Link header or an answer says.
 */
static bool
platform_same_origin(const char *base, const char *url)
{
    static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
    CURLU *a = curl_url(), *b = curl_url();
    char *x, *y;
    size_t i;
    bool same = a != NULL && b != NULL &&
                curl_url_set(a, CURLUPART_URL, base, 0) == CURLUE_OK &&
                curl_url_set(b, CURLUPART_URL, url, 0) == CURLUE_OK;

    for (i = 0; same && i < nitems(parts); i++) {
        x = y = NULL;
        same = curl_url_get(a, parts[i], &x, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               curl_url_get(b, parts[i], &y, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               strcasecmp(x, y) == 0;
        curl_free(x);
        curl_free(y);
    }
    curl_url_cleanup(a);
    curl_url_cleanup(b);
    return same;
}

/*
 * One request with retries.  what names the resource in messages.  On
 * PLATFORM_OK r holds the answer: its body, and unless raw is set the
 * body parsed (raw leaves a 2xx body unparsed for the caller; an error
 * answer is always parsed for the platform's message).
 */
static enum platform_result
platform_request_ex(struct platform *pl, const char *method, const char *url,
                    const json_t *body, const char *actor, const char *what,
                    bool raw, struct platform_response *r, char **err)
{
    struct curl_slist *h = NULL;
    char *payload = NULL, *hdr, *msg, curlerr[CURL_ERROR_SIZE];
    double start = now_mono(), t0, budget, delay;
    curl_off_t retry_after;
    json_error_t jerr;
    CURLcode rc = CURLE_OK;
    long conns;
    int attempt;
    enum platform_result res;

    memset(r, 0, sizeof *r);
    if (!platform_same_origin(pl->base, url)) {
        set_error(err, "%s %s: refused to send the token to %s: not the scheme, host and port of platform.url %s",
                  method, what, url, pl->base);
        return PLATFORM_ERROR;
    }
    budget = (double)(pl->cfg->timeout_ms > 0 ? pl->cfg->timeout_ms : 30000) / 1000;
    if (body != NULL)
        payload = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    h = curl_slist_append(h, pl->auth);
    h = curl_slist_append(h, "Accept: application/json");
    if (body != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (actor != NULL) {
        hdr = xasprintf("X-Actor: %s", actor);
        h = curl_slist_append(h, hdr);
        free(hdr);
    }
    for (attempt = 0;; attempt++) {
        platform_response_free(r);
        buf_init(&r->body);
        platform_rate_wait(pl);
        if (attempt > 0 && atomic_load(&platform_stop_ms) != 0) {
            set_error(err, "%s %s: not retried: gitsyncd is stopping", method, what);
            res = PLATFORM_ERROR;
            goto out;
        }
        curl_easy_reset(pl->curl);
        curl_easy_setopt(pl->curl, CURLOPT_URL, url);
        curl_easy_setopt(pl->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(pl->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(pl->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(pl->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)pl->cfg->connect_timeout_ms);
        curl_easy_setopt(pl->curl, CURLOPT_TIMEOUT_MS, (long)(pl->cfg->timeout_ms > 0 ? pl->cfg->timeout_ms : 30000));
        curl_easy_setopt(pl->curl, CURLOPT_SSL_VERIFYPEER, pl->cfg->tls_verify ? 1L : 0L);
        curl_easy_setopt(pl->curl, CURLOPT_SSL_VERIFYHOST, pl->cfg->tls_verify ? 2L : 0L);
        if (pl->cfg->ca_file != NULL)
            curl_easy_setopt(pl->curl, CURLOPT_CAINFO, pl->cfg->ca_file);
        curl_easy_setopt(pl->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(pl->curl, CURLOPT_WRITEFUNCTION, platform_write);
        curl_easy_setopt(pl->curl, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(pl->curl, CURLOPT_HEADERFUNCTION, platform_header);
        curl_easy_setopt(pl->curl, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(pl->curl, CURLOPT_ERRORBUFFER, curlerr);
        curl_easy_setopt(pl->curl, CURLOPT_XFERINFOFUNCTION, platform_progress);
        curl_easy_setopt(pl->curl, CURLOPT_XFERINFODATA, &t0);
        curl_easy_setopt(pl->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(pl->curl, CURLOPT_ACCEPT_ENCODING, "");
        if (payload != NULL) {
            curl_easy_setopt(pl->curl, CURLOPT_POSTFIELDS, payload);
            curl_easy_setopt(pl->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
        }
        curlerr[0] = '\0';
        t0 = now_mono();  /* read by platform_progress */
        rc = curl_easy_perform(pl->curl);
        r->code = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(pl->curl, CURLINFO_RESPONSE_CODE, &r->code);
        conns = 0;
        curl_easy_getinfo(pl->curl, CURLINFO_NUM_CONNECTS, &conns);
        pl->stats.requests++;
        pl->stats.connections += (unsigned long)conns;
        if (pl->observer != NULL)
            pl->observer(method, (int)r->code, now_mono() - t0, pl->observer_arg);
        if (log_get_level() <= LOG_DEBUG) {
            char code[16], took[32];

            snprintf(code, sizeof code, "%ld", r->code);
            snprintf(took, sizeof took, "%.3f", now_mono() - t0);
            log_debug("platform request", "workspace", pl->workspace, "method", method, "what", what,
                      "status", code, "seconds", took, "curl", rc != CURLE_OK ? curl_easy_strerror(rc) : "ok");
        }
        if (r->too_big) {
            set_error(err, "%s %s: the answer is larger than 64 MiB", method, what);
            res = PLATFORM_ERROR;
            goto out;
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            set_error(err, "%s %s: cancelled: gitsyncd is stopping and the platform "
                      "did not answer in time", method, what);
            res = PLATFORM_ERROR;
            goto out;
        }
        if (rc == CURLE_OK && !platform_retryable(r->code))
            break;
        /* Retry with exponential backoff and jitter, or Retry-After. */
        delay = (double)(PLATFORM_BACKOFF_MS << (attempt < 10 ? attempt : 10)) / 1000;
        if (delay > (double)PLATFORM_BACKOFF_MAX_MS / 1000)
            delay = (double)PLATFORM_BACKOFF_MAX_MS / 1000;
        delay = delay / 2 + delay / 2 * ((double)rand() / RAND_MAX);
        retry_after = -1;
        if (rc == CURLE_OK && curl_easy_getinfo(pl->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
            retry_after > 0)
            delay = (double)retry_after;
        if (attempt >= pl->cfg->max_retries || now_mono() - start + delay > budget) {
            if (rc != CURLE_OK)
                set_error(err, "%s %s: %s (%s), gave up after %d tries", method, what,
                          curlerr[0] ? curlerr : curl_easy_strerror(rc),
                          pl->base, attempt + 1);
            else {
                msg = NULL;
                r->json = jload(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);
                msg = platform_message(r);
                set_error(err, "%s %s: HTTP %ld: %s, gave up after %d tries", method, what,
                          r->code, msg, attempt + 1);
                free(msg);
            }
            res = PLATFORM_ERROR;
            goto out;
        }
        pl->stats.retries++;
        log_debug("platform request retried", "workspace", pl->workspace, "method", method,
                  "what", what, "error", rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP status");
        platform_sleep(delay);
    }
    if (raw && r->code >= 200 && r->code < 300) {
        res = PLATFORM_OK;
        goto out;
    }
    /* An integer out of range fails only the object holding it (jload.h). */
    if (r->body.len > 0)
        r->json = jload(r->body.data, r->body.len, JLOAD_MARK_OUT_OF_RANGE, &jerr);
    if (r->code >= 200 && r->code < 300) {
        if (r->body.len > 0 && r->json == NULL) {
            set_error(err, "%s %s: the answer is not JSON (line %d: %s)", method, what,
                            jerr.line, jerr.text);
            res = PLATFORM_ERROR;
            goto out;
        }
        res = PLATFORM_OK;
        goto out;
    }
    msg = platform_message(r);
    set_error(err, "%s %s: HTTP %ld: %s", method, what, r->code, msg);
    free(msg);
    switch (r->code) {
    case 404: res = PLATFORM_NOTFOUND; break;
    case 409: res = PLATFORM_CONFLICT; break;
    case 400:
    case 422: res = PLATFORM_INVALID; break;
    case 401:
    case 403: res = PLATFORM_AUTH; break;
    default: res = PLATFORM_ERROR; break;
    }
out:
    curl_slist_free_all(h);
    free(payload);
    if (res != PLATFORM_OK)
        platform_response_free(r);
    return res;
}

static enum platform_result
platform_request(struct platform *pl, const char *method, const char *url,
                 const json_t *body, const char *actor, const char *what,
                 struct platform_response *r, char **err)
{
    return platform_request_ex(pl, method, url, body, actor, what, false, r, err);
}

/* A URL: base + path, with {id} replaced by the escaped id. */
static char *
platform_url(struct platform *pl, const char *path, const char *id)
{
    const char *brace = id != NULL ? strstr(path, "{id}") : NULL;
    char *esc, *url;

    if (brace == NULL)
        return xasprintf("%s%s", pl->base, path);
    esc = curl_easy_escape(pl->curl, id, 0);
    url = xasprintf("%s%.*s%s%s", pl->base, (int)(brace - path), path, esc, brace + 4);
    curl_free(esc);
    return url;
}

/* The list of items in a page answer. */
static json_t *
platform_items(const struct profile_kind *k, json_t *answer)
{
    return k->items != NULL ? json_object_get(answer, k->items) : answer;
}

/* The URL of one page of a listing. */
static char *
platform_page_url(struct platform *pl, const struct profile_kind *k,
                  const char *base, long offset, int pageno, const char *cursor)
{
    char *esc, *url;

    switch (k->paging) {
    case PAGING_OFFSET:
        return xasprintf("%s?%s=%d&%s=%ld", base, k->limit_param, k->page_size,
                         k->offset_param, offset);
    case PAGING_PAGE:
        return xasprintf("%s?%s=%d&%s=%d", base, k->page_param, pageno,
                         k->limit_param, k->page_size);
    case PAGING_CURSOR:
        if (cursor == NULL)
            return xasprintf("%s?%s=%d", base, k->limit_param, k->page_size);
        esc = curl_easy_escape(pl->curl, cursor, 0);
        url = xasprintf("%s?%s=%d&%s=%s", base, k->limit_param, k->page_size,
                        k->cursor_param, esc);
        curl_free(esc);
        return url;
    case PAGING_LINK:
        /* Later pages' URLs come from the last answer's Link header. */
        if (cursor == NULL)
            return xasprintf("%s?%s=1&%s=%d", base, k->page_param, k->limit_param,
                             k->page_size);
        return xstrdup(cursor);
    case PAGING_NONE:
        break;
    }
    return xstrdup(base);
}

/* The next page's absolute URL from a Link header's rel="next", or NULL. */
static char *
platform_link_next(struct platform *pl, const struct platform_response *r)
{
    if (r->link_next == NULL)
        return NULL;
    return strstr(r->link_next, "://") != NULL ? xstrdup(r->link_next)
                                                : xasprintf("%s%s", pl->base, r->link_next);
}

/* Whether page holds the same items as the end of all (the page before). */
static bool
platform_page_repeated(const json_t *page, const json_t *all)
{
    size_t n = json_array_size(page), m = json_array_size(all), i;

    if (n == 0 || m < n)
        return false;
    for (i = 0; i < n; i++) {
        if (!json_equal(json_array_get(page, i), json_array_get(all, m - n + i)))
            return false;
    }
    return true;
}

/*
 * Append one parsed page to all.  *more says whether the listing goes on
 * (offset and page paging; the caller decides for cursor and Link paging)
 * and *n is the number of items the page held.  A listing is bounded: a
 * page identical to the one before (a platform that ignores the offset or
 * cursor), more than list_max_items items, or a listing running past
 * list_timeout (from started) is an error, so that no answer can keep a
 * worker listing forever or fill its memory.
 */
static enum platform_result
platform_take_page(const struct platform *pl, const struct profile_kind *k,
                   const char *what, double started, json_t *answer,
                   json_t *all, bool *more, size_t *n, char **err)
{
    json_t *page = platform_items(k, answer);
    size_t max = pl->cfg->list_max_items > 0 ? pl->cfg->list_max_items : 1000000;
    long long ms = pl->cfg->list_timeout_ms > 0 ? pl->cfg->list_timeout_ms : 600000;

    if (!json_is_array(page)) {
        set_error(err, "GET %s: the answer has no list%s%s", what,
                  k->items ? " in " : "", k->items ? k->items : "");
        return PLATFORM_ERROR;
    }
    if (platform_page_repeated(page, all)) {
        set_error(err, "GET %s: page after item %zu repeats the page before it "
                  "(the platform ignored the paging); listing stopped", what,
                  json_array_size(all));
        return PLATFORM_ERROR;
    }
    if (json_array_size(all) + json_array_size(page) > max) {
        set_error(err, "GET %s: more than %zu items (list_max_items); listing stopped",
                  what, max);
        return PLATFORM_ERROR;
    }
    if ((now_mono() - started) * 1000 > (double)ms) {
        set_error(err, "GET %s: still listing after %lld ms (list_timeout), %zu items read; "
                  "listing stopped", what, ms, json_array_size(all));
        return PLATFORM_ERROR;
    }
    json_array_extend(all, page);
    *n = json_array_size(page);
    *more = false;
    if (k->paging == PAGING_OFFSET || k->paging == PAGING_PAGE) {
        if (k->has_more != NULL && json_object_get(answer, k->has_more) != NULL)
            *more = json_is_true(json_object_get(answer, k->has_more));
        else
            *more = (int)*n >= k->page_size;
        *more = *more && *n > 0;
    }
    return PLATFORM_OK;
}

/*
 * A listing one page after another, starting at offset (offset paging),
 * page pageno (page paging) or the URL or cursor in cursor (Link and
 * cursor paging, NULL for the first page; taken over).  Cursor paging
 * needs each answer parsed before the next request; the pipelined
 * listing below falls back to this one too.
 */
static enum platform_result
platform_list_serial(struct platform *pl, const struct profile_kind *k, const char *base,
                     const char *what, double started, long offset, int pageno, char *cursor,
                     json_t *all, char **err)
{
    struct platform_response r;
    enum platform_result res = PLATFORM_OK;
    char *url;
    const char *next;
    int n;
    size_t got;
    bool more;

    for (n = 0; n < PLATFORM_MAX_PAGES; n++) {
        url = platform_page_url(pl, k, base, offset, pageno, cursor);
        res = platform_request(pl, "GET", url, NULL, NULL, what, &r, err);
        free(url);
        if (res != PLATFORM_OK)
            break;
        res = platform_take_page(pl, k, what, started, r.json, all, &more, &got, err);
        if (res != PLATFORM_OK) {
            platform_response_free(&r);
            break;
        }
        offset += (long)got;
        pageno++;
        free(cursor);
        cursor = NULL;
        if (k->paging == PAGING_CURSOR) {
            next = json_string_value(json_object_get(r.json, k->next_cursor));
            cursor = next != NULL && next[0] != '\0' ? xstrdup(next) : NULL;
            more = cursor != NULL;
        } else if (k->paging == PAGING_LINK) {
            cursor = platform_link_next(pl, &r);
            more = cursor != NULL;
        }
        platform_response_free(&r);
        if (!more)
            break;
    }
    free(cursor);
    return res;
}

/*
 * The pipelined listing: the calling thread (which owns the curl handle)
 * fetches pages and a helper thread parses them, so that parsing page N
 * overlaps the platform answering page N+1.  For offset and page paging
 * the next URL is taken on trust (the page before was full); for Link
 * paging it comes from the headers.  Trust is checked: a page that says
 * there is more but is not full stops the pipeline, pages fetched after
 * it are dropped, and the listing goes on one page at a time from the
 * right offset.  The first page is fetched and parsed before any of this
 * (platform_list), so a listing of one page costs one request and starts
 * no thread.
 *
 * How many pages may wait unparsed grows with the listing: one while it
 * is short, up to LIST_AHEAD once it is long, so that the parser, which
 * shares the cores with the platform when both run on one machine, can
 * fall behind for a moment without stopping the fetching.  The fetcher
 * learns of the end from the parser, so a listing costs at most that many
 * GETs beyond its last page (empty pages): one for a listing under 8
 * pages, at most LIST_AHEAD for one of 24 pages or more.
 */
#define LIST_AHEAD 4
#define LIST_DEPTH(fetched) ((fetched) / 8 + 1 < LIST_AHEAD ? (fetched) / 8 + 1 : LIST_AHEAD)

struct list_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct platform *pl;
    double started;
    const struct profile_kind *k;
    const char *what;
    struct buf q[LIST_AHEAD];  /* fetched pages, unparsed */
    int head, n;
    bool fetch_done;           /* the fetcher queues no more */
    bool stop;                 /* the parser wants no more */
    /* The parser's own, read by the fetcher after the join. */
    bool resume;               /* stopped on a short page: go on serially */
    long next_offset;          /* offset after the last page taken */
    json_t *all;
    enum platform_result res;
    char *err;
};

static void *
platform_list_parser(void *arg)
{
    struct list_pipe *lp = arg;
    struct buf body;
    json_error_t jerr;
    json_t *answer;
    size_t got;
    bool more;

    pthread_mutex_lock(&lp->mu);
    for (;;) {
        while (lp->n == 0 && !lp->fetch_done)
            pthread_cond_wait(&lp->cv, &lp->mu);
        if (lp->n == 0)
            break;
        body = lp->q[lp->head];
        lp->head = (lp->head + 1) % LIST_AHEAD;
        lp->n--;
        pthread_cond_broadcast(&lp->cv);
        if (lp->stop) {
            buf_free(&body);
            continue;
        }
        pthread_mutex_unlock(&lp->mu);
        more = true;
        answer = body.len > 0 ? jload(body.data, body.len, JLOAD_MARK_OUT_OF_RANGE, &jerr) : NULL;
        if (answer == NULL && body.len > 0) {
            set_error(&lp->err, "GET %s: the answer is not JSON (line %d: %s)", lp->what,
                      jerr.line, jerr.text);
            lp->res = PLATFORM_ERROR;
        } else {
            lp->res = platform_take_page(lp->pl, lp->k, lp->what, lp->started, answer,
                                         lp->all, &more, &got, &lp->err);
            if (lp->res == PLATFORM_OK) {
                lp->next_offset += (long)got;
                if (lp->k->paging == PAGING_OFFSET && more && (int)got != lp->k->page_size)
                    lp->resume = true;
            }
        }
        json_decref(answer);
        buf_free(&body);
        pthread_mutex_lock(&lp->mu);
        if (lp->res != PLATFORM_OK || lp->resume ||
            (lp->k->paging != PAGING_LINK && !more))
            lp->stop = true;
        pthread_cond_broadcast(&lp->cv);
    }
    pthread_mutex_unlock(&lp->mu);
    return NULL;
}

enum platform_result
platform_list(struct platform *pl, const struct profile_kind *k, json_t **items,
              char **err)
{
    struct platform_response r;
    struct list_pipe lp;
    enum platform_result res = PLATFORM_OK;
    pthread_t parser;
    char *base, *what, *url, *link = NULL;
    bool stop, more;
    size_t got;
    int n;

    *items = NULL;
    base = platform_url(pl, k->collection, NULL);
    what = xasprintf("%s list", k->name);
    memset(&lp, 0, sizeof lp);
    lp.all = json_array();
    lp.pl = pl;
    lp.started = now_mono();
    lp.k = k;
    lp.what = what;
    lp.res = PLATFORM_OK;
    if (k->paging == PAGING_NONE || k->paging == PAGING_CURSOR) {
        res = platform_list_serial(pl, k, base, what, lp.started, 0, 1, NULL, lp.all, err);
        goto out;
    }
    /* The first page on its own: most listings are one page, and those
     * cost one request and no thread.  The pipeline takes the rest. */
    url = platform_page_url(pl, k, base, 0, 1, NULL);
    res = platform_request(pl, "GET", url, NULL, NULL, what, &r, err);
    free(url);
    if (res != PLATFORM_OK)
        goto out;
    res = platform_take_page(pl, k, what, lp.started, r.json, lp.all, &more, &got, err);
    if (res == PLATFORM_OK && k->paging == PAGING_LINK) {
        link = platform_link_next(pl, &r);
        more = link != NULL;
    }
    platform_response_free(&r);
    if (res != PLATFORM_OK || !more)
        goto out;
    if (k->paging == PAGING_OFFSET && (int)got != k->page_size) {
        res = platform_list_serial(pl, k, base, what, lp.started, (long)got, 2, NULL, lp.all, err);
        goto out;
    }
    lp.next_offset = (long)got;
    pthread_mutex_init(&lp.mu, NULL);
    pthread_cond_init(&lp.cv, NULL);
    if (pthread_create(&parser, NULL, platform_list_parser, &lp) != 0) {
        log_warn("cannot start a thread to parse pages; listing one page at a time",
                 "workspace", pl->workspace, "kind", k->name);
        res = platform_list_serial(pl, k, base, what, lp.started, (long)got, 2, link, lp.all, err);
        link = NULL;
        goto destroy;
    }
    for (n = 0; n < PLATFORM_MAX_PAGES; n++) {
        pthread_mutex_lock(&lp.mu);
        while (lp.n >= LIST_DEPTH(n) && !lp.stop)
            pthread_cond_wait(&lp.cv, &lp.mu);
        stop = lp.stop;
        pthread_mutex_unlock(&lp.mu);
        if (stop || (k->paging == PAGING_LINK && link == NULL))
            break;
        url = platform_page_url(pl, k, base, (long)got + (long)n * k->page_size, n + 2, link);
        res = platform_request_ex(pl, "GET", url, NULL, NULL, what, true, &r, err);
        free(url);
        if (res != PLATFORM_OK)
            break;
        free(link);
        link = k->paging == PAGING_LINK ? platform_link_next(pl, &r) : NULL;
        pthread_mutex_lock(&lp.mu);
        lp.q[(lp.head + lp.n) % LIST_AHEAD] = r.body;
        lp.n++;
        pthread_cond_broadcast(&lp.cv);
        pthread_mutex_unlock(&lp.mu);
        buf_init(&r.body);
        platform_response_free(&r);
    }
    pthread_mutex_lock(&lp.mu);
    lp.fetch_done = true;
    pthread_cond_broadcast(&lp.cv);
    pthread_mutex_unlock(&lp.mu);
    pthread_join(parser, NULL);
    if (res == PLATFORM_OK && lp.res != PLATFORM_OK) {
        res = lp.res;
        if (err != NULL) {
            free(*err);
            *err = lp.err;
            lp.err = NULL;
        }
    }
    if (res == PLATFORM_OK && lp.resume) {
        log_debug("platform listing: a page held fewer items than asked for; going on one page at a time",
                  "workspace", pl->workspace, "kind", k->name);
        res = platform_list_serial(pl, k, base, what, lp.started, lp.next_offset, 0, NULL, lp.all, err);
    }
destroy:
    pthread_cond_destroy(&lp.cv);
    pthread_mutex_destroy(&lp.mu);
out:
    if (res == PLATFORM_OK) {
        *items = lp.all;
        lp.all = NULL;
    }
    json_decref(lp.all);
    free(lp.err);
    free(link);
    free(base);
    free(what);
    return res;
}

enum platform_result
platform_get(struct platform *pl, const struct profile_kind *k, const char *id,
             json_t **item, char **err)
{
    struct platform_response r;
    enum platform_result res;
    char *url = platform_url(pl, k->item, id), *what = xasprintf("%s %s", k->name, id);

    *item = NULL;
    res = platform_request(pl, "GET", url, NULL, NULL, what, &r, err);
    if (res == PLATFORM_OK) {
        *item = json_incref(r.json);
        platform_response_free(&r);
    }
    free(url);
    free(what);
    return res;
}

enum platform_result
platform_get_by_slug(struct platform *pl, const struct profile_kind *k,
                     const char *slug, json_t **item, char **err)
{
    struct platform_response r;
    enum platform_result res;
    json_t *list = NULL, *v;
    char *url, *esc, *what;
    size_t i;

    *item = NULL;
    if (k->slug_query != NULL) {
        esc = curl_easy_escape(pl->curl, slug, 0);
        url = xasprintf("%s%s?%s=%s", pl->base, k->collection, k->slug_query, esc);
        curl_free(esc);
        what = xasprintf("%s %s", k->name, slug);
        res = platform_request(pl, "GET", url, NULL, NULL, what, &r, err);
        free(url);
        free(what);
        if (res != PLATFORM_OK)
            return res;
        list = json_incref(platform_items(k, r.json));
        platform_response_free(&r);
    } else {
        res = platform_list(pl, k, &list, err);
        if (res != PLATFORM_OK)
            return res;
    }
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(json_object_get(v, k->slug_field));

        if (s != NULL && strcmp(s, slug) == 0) {
            *item = json_incref(v);
            break;
        }
    }
    json_decref(list);
    return PLATFORM_OK;
}

/*
 * The part of body that a write accepts (w's fields, in body's order), or
 * all of it when the profile lists none.
 */
static json_t *
platform_write_body(const struct profile_write *w, const json_t *body)
{
    const char *key;
    json_t *out, *v;

    if (!w->restricted)
        return json_incref((json_t *)body);
    out = json_object();
    json_object_foreach((json_t *)body, key, v) {
        if (profile_write_allows(w, key))
            json_object_set(out, key, v);
    }
    return out;
}

enum platform_result
platform_create(struct platform *pl, const struct profile_kind *k,
                const json_t *body, const char *actor, json_t **result,
                char **err)
{
    struct platform_response r;
    enum platform_result res;
    const char *slug = json_string_value(json_object_get(body, k->slug_field));
    char *url, *what = xasprintf("%s %s", k->name, slug != NULL ? slug : "(no slug)");
    json_t *sent;
    size_t i;

    for (i = 0; i < k->create.nrequired; i++) {
        if (json_object_get(body, k->create.required[i]) == NULL) {
            set_error(err, "create %s: the %s API requires \"%s\" to create "
                           "a %s, and the file has none", what,
                      pl->profile->name, profile_git_name(k, k->create.required[i]),
                      k->name);
            free(what);
            return PLATFORM_INVALID;
        }
    }
    url = platform_url(pl, k->collection, NULL);
    sent = platform_write_body(&k->create, body);
    res = platform_request(pl, "POST", url, sent, actor, what, &r, err);
    if (res == PLATFORM_OK) {
        if (result != NULL)
            *result = json_incref(r.json);
        platform_response_free(&r);
    }
    json_decref(sent);
    free(url);
    free(what);
    return res;
}

enum platform_result
platform_update(struct platform *pl, const struct profile_kind *k,
                const char *id, const json_t *body, const char *actor,
                json_t **result, char **err)
{
    struct platform_response r;
    enum platform_result res;
    const char *slug = json_string_value(json_object_get(body, k->slug_field));
    char *url = platform_url(pl, k->item, id);
    char *what = xasprintf("%s %s", k->name, slug != NULL ? slug : id);
    json_t *sent = platform_write_body(&k->update, body);

    res = platform_request(pl, k->update_method, url, sent, actor, what, &r, err);
    if (res == PLATFORM_OK) {
        if (result != NULL)
            *result = json_incref(r.json);
        platform_response_free(&r);
    }
    json_decref(sent);
    free(url);
    free(what);
    return res;
}

/* True if field is one the Git form never holds (dropped, or the id). */
static bool
platform_server_field(const struct profile_kind *k, const char *field)
{
    size_t i;

    if (strcmp(field, k->id_field) == 0)
        return true;
    for (i = 0; i < k->ndrop; i++) {
        if (strcmp(k->drop[i], field) == 0)
            return true;
    }
    return false;
}

/* Add field to list unless it is there already. */
static void
platform_list_add(json_t *list, const char *field)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), field) == 0)
            return;
    }
    json_array_append_new(list, json_string(field));
}

json_t *
platform_unapplied(const struct profile_kind *k, bool create,
                   const json_t *body, const json_t *before,
                   const json_t *after)
{
    const struct profile_write *w = create ? &k->create : &k->update;
    const json_t *now = after != NULL ? after : before;
    json_t *out = json_array(), *v;
    const char *key;

    if (!w->restricted || now == NULL)
        return out;
    /* What the file sets and the write could not carry... */
    json_object_foreach((json_t *)body, key, v) {
        if (!profile_write_allows(w, key) && !platform_server_field(k, key) &&
            !json_equal(v, json_object_get(now, key)))
            platform_list_add(out, key);
    }
    /* ...and, on an update, what the file left out that the platform keeps. */
    json_object_foreach(create ? NULL : (json_t *)before, key, v) {
        if (!profile_write_allows(w, key) && !platform_server_field(k, key) &&
            json_object_get(body, key) == NULL && json_object_get(now, key) != NULL)
            platform_list_add(out, key);
    }
    return out;
}

enum platform_result
platform_delete(struct platform *pl, const struct profile_kind *k,
                const char *id, const char *actor, char **err)
{
    struct platform_response r;
    enum platform_result res;
    char *url, *what;

    if (!k->can_delete) {
        set_error(err, "delete %s %s: delete not supported by this platform "
                       "(profile %s): remove it in the platform's UI",
                  k->name, id, pl->profile->name);
        return PLATFORM_NOTSUP;
    }
    url = platform_url(pl, k->item, id);
    what = xasprintf("%s %s", k->name, id);
    res = platform_request(pl, "DELETE", url, NULL, actor, what, &r, err);
    if (res == PLATFORM_OK)
        platform_response_free(&r);
    free(url);
    free(what);
    return res;
}

enum platform_result
platform_audit(struct platform *pl, const char *after, json_t **entries,
               char **err)
{
    const struct profile *p = pl->profile;
    struct platform_response r;
    enum platform_result res;
    json_t *list;
    char *url, *esc;

    *entries = NULL;
    if (p->audit_path == NULL) {
        set_error(err, "profile %s has no audit log", p->name);
        return PLATFORM_NOTSUP;
    }
    if (after != NULL) {
        esc = curl_easy_escape(pl->curl, after, 0);
        url = xasprintf("%s%s?%s=%s", pl->base, p->audit_path, p->audit_after_param, esc);
        curl_free(esc);
    } else {
        url = xasprintf("%s%s", pl->base, p->audit_path);
    }
    res = platform_request(pl, "GET", url, NULL, NULL, "audit log", &r, err);
    free(url);
    if (res != PLATFORM_OK)
        return res;
    list = p->audit_items != NULL ? json_object_get(r.json, p->audit_items) : r.json;
    if (!json_is_array(list)) {
        platform_response_free(&r);
        set_error(err, "GET audit log: the answer has no list");
        return PLATFORM_ERROR;
    }
    *entries = json_incref(list);
    platform_response_free(&r);
    return PLATFORM_OK;
}

/* An id value as text ("4711"). */
static char *
platform_id_text(const json_t *id)
{
    if (json_is_integer(id))
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
    if (json_is_string(id))
        return xstrdup(json_string_value(id));
    if (json_is_real(id))
        return xasprintf("%.17g", json_real_value(id));
    return NULL;
}

/* The index key of (kind, id) ('i'), (kind, slug) ('s'); the first wins. */
static char *
platform_snapshot_key(char what, const struct profile_kind *k, const char *v)
{
    return xasprintf("%c%p:%s", what, (const void *)k, v);
}

/* Put the snapshot's object i into its index (the first of a key wins). */
static void
platform_snapshot_index(struct platform_snapshot *snap, size_t i)
{
    const struct platform_object *o = &snap->objects[i];
    char *key[3];
    size_t j;

    key[0] = platform_snapshot_key('i', o->kind, o->id);
    key[1] = platform_snapshot_key('s', o->kind, o->slug);
    key[2] = xasprintf("k:%s", o->kind->name);
    for (j = 0; j < 3; j++) {
        if (json_object_get(snap->index, key[j]) == NULL)
            json_object_set_new_nocheck(snap->index, key[j],
                                        json_integer((json_int_t)i));
        free(key[j]);
    }
}

/* The object under key in the snapshot's index, or NULL. */
static const struct platform_object *
platform_snapshot_lookup(const struct platform_snapshot *snap, char *key)
{
    json_t *v = json_object_get(snap->index, key);

    free(key);
    if (!json_is_integer(v) || (size_t)json_integer_value(v) >= snap->n)
        return NULL;
    return &snap->objects[json_integer_value(v)];
}

void
platform_snapshot_add(struct platform_snapshot *snap,
                      const struct profile_kind *k, const json_t *obj)
{
    struct platform_object *o;
    const json_t *id = json_object_get(obj, k->id_field);
    const char *slug = json_string_value(json_object_get(obj, k->slug_field));
    char *idtext = platform_id_text(id);

    if (idtext == NULL || slug == NULL) {
        free(idtext);
        return;
    }
    snap->objects = xreallocarray(snap->objects, snap->n + 1, sizeof *snap->objects);
    o = &snap->objects[snap->n];
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->id = idtext;
    o->slug = xstrdup(slug);
    o->raw = json_deep_copy(obj);
    if (snap->index != NULL)
        platform_snapshot_index(snap, snap->n);
    snap->n++;
}

enum platform_result
platform_snapshot(struct platform *pl, struct platform_snapshot **out, char **err)
{
    struct platform_snapshot *snap = xcalloc(1, sizeof *snap);
    const struct profile_kind *k;
    enum platform_result res;
    json_t *items, *v;
    size_t i, j;

    *out = NULL;
    snap->index = json_object();
    for (i = 0; i < pl->profile->nkinds; i++) {
        k = &pl->profile->kinds[i];
        res = platform_list(pl, k, &items, err);
        if (res != PLATFORM_OK) {
            platform_snapshot_free(snap);
            return res;
        }
        snap->objects = xreallocarray(snap->objects, snap->n + json_array_size(items) + 1,
                                      sizeof *snap->objects);
        json_array_foreach(items, j, v) {
            struct platform_object *o = &snap->objects[snap->n];
            const char *slug = json_string_value(json_object_get(v, k->slug_field));
            char *id = platform_id_text(json_object_get(v, k->id_field));

            if (slug == NULL || id == NULL) {
                log_warn("platform object without id or slug skipped", "workspace",
                         pl->workspace, "kind", k->name);
                free(id);
                continue;
            }
            o->kind = k;
            o->id = id;
            o->slug = xstrdup(slug);
            o->raw = json_incref(v);
            platform_snapshot_index(snap, snap->n);
            snap->n++;
        }
        json_decref(items);
    }
    *out = snap;
    return PLATFORM_OK;
}

void
platform_snapshot_free(struct platform_snapshot *snap)
{
    size_t i;

    if (snap == NULL)
        return;
    for (i = 0; i < snap->n; i++) {
        free(snap->objects[i].id);
        free(snap->objects[i].slug);
        json_decref(snap->objects[i].raw);
    }
    free(snap->objects);
    json_decref(snap->index);
    free(snap);
}

const struct platform_object *
platform_snapshot_find_slug(const struct platform_snapshot *snap,
                            const struct profile_kind *k, const char *slug)
{
    size_t i;

    if (snap != NULL && snap->index != NULL)
        return platform_snapshot_lookup(snap, platform_snapshot_key('s', k, slug));
    for (i = 0; snap != NULL && i < snap->n; i++) {
        if (snap->objects[i].kind == k && strcmp(snap->objects[i].slug, slug) == 0)
            return &snap->objects[i];
    }
    return NULL;
}

const struct platform_object *
platform_snapshot_find_id(const struct platform_snapshot *snap,
                          const struct profile_kind *k, const char *id)
{
    size_t i;

    if (snap != NULL && snap->index != NULL)
        return platform_snapshot_lookup(snap, platform_snapshot_key('i', k, id));
    for (i = 0; snap != NULL && i < snap->n; i++) {
        if (snap->objects[i].kind == k && strcmp(snap->objects[i].id, id) == 0)
            return &snap->objects[i];
    }
    return NULL;
}

/* The kind a reference points to, by name, among the snapshot's kinds. */
static const struct profile_kind *
platform_ref_kind(const struct platform_snapshot *snap, const char *name)
{
    const struct platform_object *o;
    size_t i;

    if (snap != NULL && snap->index != NULL) {
        o = platform_snapshot_lookup(snap, xasprintf("k:%s", name));
        return o != NULL ? o->kind : NULL;
    }
    for (i = 0; snap != NULL && i < snap->n; i++) {
        if (strcmp(snap->objects[i].kind->name, name) == 0)
            return snap->objects[i].kind;
    }
    return NULL;
}

json_t *
platform_to_git(const struct profile_kind *k, const json_t *raw,
                const struct platform_snapshot *snap, char **err)
{
    const struct profile_ref *ref;
    const struct platform_object *o;
    const struct profile_kind *rk;
    json_t *doc, *v;
    char *id;
    size_t i;

    if (!json_is_object(raw)) {
        set_error(err, "a %s from the platform is not an object", k->name);
        return NULL;
    }
    doc = json_deep_copy(raw);
    for (i = 0; i < k->ndrop; i++)
        json_object_del(doc, k->drop[i]);
    for (i = 0; i < k->nrefs; i++) {
        ref = &k->refs[i];
        v = json_object_get(doc, ref->field);
        if (v == NULL)
            continue;
        if (json_is_null(v)) {
            json_object_set_new(doc, ref->as, json_null());
            json_object_del(doc, ref->field);
            continue;
        }
        id = platform_id_text(v);
        rk = platform_ref_kind(snap, ref->kind);
        o = rk != NULL && id != NULL ? platform_snapshot_find_id(snap, rk, id) : NULL;
        if (o == NULL) {
            set_error(err, "%s %s: %s %s names no %s on the platform", k->name,
                      json_string_value(json_object_get(raw, k->slug_field)) ?: "?",
                      ref->field, id != NULL ? id : "?", ref->kind);
            free(id);
            json_decref(doc);
            return NULL;
        }
        free(id);
        json_object_set_new(doc, ref->as, json_string(o->slug));
        json_object_del(doc, ref->field);
    }
    return doc;
}

json_t *
platform_from_git(const struct profile_kind *k, const json_t *doc,
                  const struct platform_snapshot *snap, char **err)
{
    const struct profile_ref *ref;
    const struct platform_object *o;
    const struct profile_kind *rk;
    const char *slug;
    json_t *body, *v;
    size_t i, j;

    body = json_deep_copy(doc);
    for (i = 0; i < k->nrefs; i++) {
        ref = &k->refs[i];
        v = json_object_get(body, ref->as);
        if (v == NULL)
            continue;
        if (json_is_null(v)) {
            json_object_set_new(body, ref->field, json_null());
            json_object_del(body, ref->as);
            continue;
        }
        slug = json_string_value(v);
        rk = NULL;
        o = NULL;
        for (j = 0; snap != NULL && j < snap->n && rk == NULL; j++) {
            if (strcmp(snap->objects[j].kind->name, ref->kind) == 0)
                rk = snap->objects[j].kind;
        }
        if (rk != NULL && slug != NULL)
            o = platform_snapshot_find_slug(snap, rk, slug);
        if (o == NULL) {
            set_error(err, "%s: no %s \"%s\" on the platform", ref->as, ref->kind,
                      slug != NULL ? slug : "?");
            json_decref(body);
            return NULL;
        }
        json_object_set(body, ref->field, json_object_get(o->raw, rk->id_field));
        json_object_del(body, ref->as);
    }
    return body;
}
