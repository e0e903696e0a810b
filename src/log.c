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

/* Replace every registered secret in b by <redacted>; lock held. */
static void
do_log_redact(struct buf *b)
{
    struct buf out;
    const char *p, *hit;
    size_t i, len;

    for (i = 0; i < log_nsecrets; i++) {
        len = strlen(log_secrets[i]);
        if (strstr(b->data, log_secrets[i]) == NULL)
            continue;
        buf_init(&out);
        p = b->data;
        while ((hit = strstr(p, log_secrets[i])) != NULL) {
            buf_add(&out, p, (size_t)(hit - p));
            buf_adds(&out, "<redacted>");
            p = hit + len;
        }
        buf_adds(&out, p);
        buf_free(b);
        *b = out;
    }
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

void
log_at(enum log_level level, const char *msg, ...)
{
    struct buf b;
    json_t *obj = NULL;
    const char *k, *v;
    char ts[48], *s;
    va_list ap;
    enum log_format format;

    if (level < log_get_level())
        return;
    log_timestamp(ts, sizeof ts);
    pthread_mutex_lock(&log_lock);
    format = log_format;
    pthread_mutex_unlock(&log_lock);

    buf_init(&b);
    if (format == LOG_FORMAT_JSON) {
        obj = json_object();
        json_object_set_new(obj, "ts", json_string(ts));
        json_object_set_new(obj, "level", json_string(log_level_name(level)));
        json_object_set_new(obj, "msg", json_string(msg));
    } else {
        buf_printf(&b, "ts=%s level=%s msg=", ts, log_level_name(level));
        log_logfmt_value(&b, msg);
    }
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        v = va_arg(ap, const char *);
        if (v == NULL)
            v = "";
        if (obj != NULL) {
            /* json_string refuses invalid UTF-8: keep the line anyway. */
            json_t *js = json_string(v);
            if (js == NULL)
                js = json_string("<invalid utf-8>");
            json_object_set_new(obj, k, js);
        } else {
            buf_printf(&b, " %s=", k);
            log_logfmt_value(&b, v);
        }
    }
    va_end(ap);
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
    do_log_redact(&b);
    fwrite(b.data, 1, b.len, log_stream != NULL ? log_stream : stderr);
    fflush(log_stream != NULL ? log_stream : stderr);
    pthread_mutex_unlock(&log_lock);
    buf_free(&b);
}
