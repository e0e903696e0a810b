/* log: one line per event on stderr, logfmt or JSON, safe from any thread. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gitsyncd/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_level = LOG_INFO;
static enum log_format log_format = LOG_FORMAT_LOGFMT;
static FILE *log_stream;
static char **log_secrets;
static size_t log_nsecrets;

static const char *const log_level_names[] = { "debug", "info", "warn", "error" };
static const char *const log_format_names[] = { "logfmt", "json" };

void
log_set_level(enum log_level level)
{
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void
log_set_format(enum log_format format)
{
    pthread_mutex_lock(&log_lock);
    log_format = format;
    pthread_mutex_unlock(&log_lock);
}

enum log_level
log_get_level(void)
{
    return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void
log_set_stream(FILE *f)
{
    pthread_mutex_lock(&log_lock);
    log_stream = f;
    pthread_mutex_unlock(&log_lock);
}

int
log_level_parse(const char *s, enum log_level *level)
{
    size_t i;

    for (i = 0; i < nitems(log_level_names); i++) {
        if (strcmp(s, log_level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *level = LOG_WARN;
        return 0;
    }
    return -1;
}

int
log_format_parse(const char *s, enum log_format *format)
{
    size_t i;

    for (i = 0; i < nitems(log_format_names); i++) {
        if (strcmp(s, log_format_names[i]) == 0) {
            *format = (enum log_format)i;
            return 0;
        }
    }
    return -1;
}

const char *
log_level_name(enum log_level level)
{
    return log_level_names[level];
}

const char *
log_format_name(enum log_format format)
{
    return log_format_names[format];
}

void
log_add_secret(const char *secret)
{
    size_t i;

    /* Very short strings would redact ordinary words; they are no secret. */
    if (secret == NULL || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&log_lock);
    for (i = 0; i < log_nsecrets; i++) {
        if (strcmp(log_secrets[i], secret) == 0)
            break;
    }
    if (i == log_nsecrets) {
        log_secrets = xreallocarray(log_secrets, log_nsecrets + 1,
                                    sizeof *log_secrets);
        log_secrets[log_nsecrets++] = xstrdup(secret);
    }
    pthread_mutex_unlock(&log_lock);
}

void
log_clear_secrets(void)
{
    size_t i;

    pthread_mutex_lock(&log_lock);
    for (i = 0; i < log_nsecrets; i++)
        free(log_secrets[i]);
    free(log_secrets);
    log_secrets = NULL;
    log_nsecrets = 0;
    pthread_mutex_unlock(&log_lock);
}

/* True for a byte that ends the authority part of a URL inside text. */
static bool
log_authority_end(char c)
{
    return c == '\0' || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' ||
           c == '\\' || c == ')' || (unsigned char)c <= ' ';
}

/*
 * Append text to out with every registered secret replaced by <redacted>,
 * then the user information of every URL in it ("scheme://user:pass@")
 * left out; log_lock held.
 */
static void
do_log_redact(struct buf *out, const char *text)
{
    const char *p = text, *q, *at, *hit, *first;
    size_t i, hitlen = 0;
    struct buf tmp;

    buf_init(&tmp);
    for (;;) {
        /* The nearest (longest) secret from p on. */
        first = NULL;
        for (i = 0; i < log_nsecrets; i++) {
            hit = strstr(p, log_secrets[i]);
            if (hit != NULL && (first == NULL || hit < first ||
                                (hit == first && strlen(log_secrets[i]) > hitlen))) {
                first = hit;
                hitlen = strlen(log_secrets[i]);
            }
        }
        if (first == NULL)
            break;
        buf_add(&tmp, p, (size_t)(first - p));
        buf_adds(&tmp, "<redacted>");
        p = first + hitlen;
    }
    buf_adds(&tmp, p);
    for (p = tmp.data; (hit = strstr(p, "://")) != NULL;) {
        buf_add(out, p, (size_t)(hit + 3 - p));
        p = hit + 3;
        at = NULL;
        for (q = p; !log_authority_end(*q); q++)
            if (*q == '@')
                at = q;
        if (at != NULL)
            p = at + 1;
    }
    buf_adds(out, p);
    buf_free(&tmp);
}

char *
log_redact(const char *text)
{
    struct buf out;

    buf_init(&out);
    pthread_mutex_lock(&log_lock);
    do_log_redact(&out, text != NULL ? text : "");
    pthread_mutex_unlock(&log_lock);
    return buf_detach(&out);
}

/* Append a logfmt value, quoted when it needs to be. */
static void
log_logfmt_value(struct buf *b, const char *v)
{
    const unsigned char *p;
    bool quote = (*v == '\0');

    for (p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f) {
            quote = true;
            break;
        }
    }
    if (!quote) {
        buf_adds(b, v);
        return;
    }
    buf_addc(b, '"');
    for (p = (const unsigned char *)v; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            buf_adds(b, "\\\"");
            break;
        case '\\':
            buf_adds(b, "\\\\");
            break;
        case '\n':
            buf_adds(b, "\\n");
            break;
        case '\r':
            buf_adds(b, "\\r");
            break;
        case '\t':
            buf_adds(b, "\\t");
            break;
        default:
            if (*p < ' ' || *p == 0x7f)
                buf_printf(b, "\\x%02x", *p);
            else
                buf_addc(b, (char)*p);
        }
    }
    buf_addc(b, '"');
}

/* The current time as RFC 3339 UTC with milliseconds. */
static void
log_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* The flood guard: lines a second, and burst. */
#define LOG_FLOOD_RATE 50.0
#define LOG_FLOOD_BURST 200.0

static pthread_mutex_t log_flood_lock = PTHREAD_MUTEX_INITIALIZER;
static double log_flood_tokens = LOG_FLOOD_BURST, log_flood_last;
static unsigned long log_flood_dropped;

bool
log_flood_ok(void)
{
    unsigned long dropped;
    double now = now_mono();
    char n[32];

    pthread_mutex_lock(&log_flood_lock);
    if (log_flood_last > 0)
        log_flood_tokens += (now - log_flood_last) * LOG_FLOOD_RATE;
    if (log_flood_tokens > LOG_FLOOD_BURST)
        log_flood_tokens = LOG_FLOOD_BURST;
    log_flood_last = now;
    if (log_flood_tokens < 1) {
        log_flood_dropped++;
        pthread_mutex_unlock(&log_flood_lock);
        return false;
    }
    log_flood_tokens -= 1;
    dropped = log_flood_dropped;
    log_flood_dropped = 0;
    pthread_mutex_unlock(&log_flood_lock);
    if (dropped > 0) {
        snprintf(n, sizeof n, "%lu", dropped);
        log_warn("webhook log lines suppressed (too many refused or ignored requests)", "count", n);
    }
    return true;
}

void
log_at(enum log_level level, const char *msg, ...)
{
    struct buf b, r;
    json_t *obj = NULL;
    const char *k, *v;
    char ts[48], *s;
    va_list ap;
    enum log_format format;

    if (level < log_get_level())
        return;
    log_timestamp(ts, sizeof ts);
    buf_init(&b);
    buf_init(&r);
    /* Secrets are taken out of each value before it is escaped: escaping
     * first would hide a secret holding a quote or a backslash from them. */
    pthread_mutex_lock(&log_lock);
    format = log_format;
    do_log_redact(&r, msg);
    if (format == LOG_FORMAT_JSON) {
        obj = json_object();
        json_object_set_new(obj, "ts", json_string(ts));
        json_object_set_new(obj, "level", json_string(log_level_name(level)));
        json_object_set_new(obj, "msg", json_string(r.data));
    } else {
        buf_printf(&b, "ts=%s level=%s msg=", ts, log_level_name(level));
        log_logfmt_value(&b, r.data);
    }
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        buf_reset(&r);
        do_log_redact(&r, v != NULL ? v : "");
        if (obj != NULL) {
            /* json_string refuses invalid UTF-8: keep the line anyway. */
            json_t *js = json_string(r.data);
            if (js == NULL)
                js = json_string("<invalid utf-8>");
            json_object_set_new(obj, k, js);
        } else {
            buf_printf(&b, " %s=", k);
            log_logfmt_value(&b, r.data);
        }
    }
    va_end(ap);
    pthread_mutex_unlock(&log_lock);
    buf_free(&r);
    if (obj != NULL) {
        s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(obj);
        if (s != NULL) {
            buf_adds(&b, s);
            free(s);
        }
    }
    buf_addc(&b, '\n');

    pthread_mutex_lock(&log_lock);
    fwrite(b.data, 1, b.len, log_stream != NULL ? log_stream : stderr);
    fflush(log_stream != NULL ? log_stream : stderr);
    pthread_mutex_unlock(&log_lock);
    buf_free(&b);
}
