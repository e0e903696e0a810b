/* util: allocation that aborts on failure, strings, a growable buffer. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gitsyncd/util.h"

static void
xfatal(const char *what, size_t size)
{
    fprintf(stderr, "gitsyncd: fatal: %s of %zu bytes failed\n", what, size);
    abort();
}

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        xfatal("malloc", size);
    return p;
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        xfatal("calloc", n * size);
    return p;
}

void *
xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL)
        xfatal("realloc", size);
    return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        xfatal("reallocarray (overflow)", SIZE_MAX);
    return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        xfatal("strdup", strlen(s));
    return p;
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);

    if (p == NULL)
        xfatal("strndup", n);
    return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
    char *s;

    if (vasprintf(&s, fmt, ap) < 0)
        xfatal("vasprintf", 0);
    return s;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int
set_error(char **err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    free(*err);
    va_start(ap, fmt);
    *err = xvasprintf(fmt, ap);
    va_end(ap);
    return -1;
}

bool
str_endswith(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);

    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

char *
url_without_credentials(const char *url, const char *replacement)
{
    const char *scheme = strstr(url, "://"), *at, *slash;

    if (scheme == NULL)
        return xstrdup(url);
    at = strchr(scheme + 3, '@');
    slash = strchr(scheme + 3, '/');
    if (at == NULL || (slash != NULL && slash < at))
        return xstrdup(url);
    if (replacement == NULL)
        return xasprintf("%.*s%s", (int)(scheme + 3 - url), url, at + 1);
    return xasprintf("%.*s%s@%s", (int)(scheme + 3 - url), url, replacement, at + 1);
}

size_t
str_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, *row, prev, tmp, best;

    row = xcalloc(lb + 1, sizeof *row);
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            tmp = row[j];
            best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = tmp;
        }
    }
    best = row[lb];
    free(row);
    return best;
}

/* Parse a non-negative decimal number with an optional fraction. */
static int
parse_number(const char *s, double *v, const char **rest)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    if (errno != 0 || end == s)
        return -1;
    *rest = end;
    return 0;
}

int
parse_duration_ms(const char *s, long long *ms)
{
    static const struct {
        const char *unit;
        double factor;
    } units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
        { "h", 3600000 }, { "d", 86400000 },
    };
    const char *rest;
    double v;
    size_t i;

    if (parse_number(s, &v, &rest) != 0)
        return -1;
    for (i = 0; i < nitems(units); i++) {
        if (strcmp(rest, units[i].unit) == 0) {
            v *= units[i].factor;
            if (v > 9.2e18)
                return -1;
            *ms = (long long)v;
            return 0;
        }
    }
    return -1;
}

int
parse_size(const char *s, unsigned long long *bytes)
{
    static const struct {
        const char *unit;
        double factor;
    } units[] = {
        { "", 1 }, { "B", 1 }, { "k", 1024 }, { "K", 1024 }, { "KiB", 1024 },
        { "KB", 1000 }, { "M", 1048576 }, { "MiB", 1048576 },
        { "MB", 1000000 }, { "G", 1073741824 }, { "GiB", 1073741824 },
        { "GB", 1000000000 },
    };
    const char *rest;
    double v;
    size_t i;

    if (parse_number(s, &v, &rest) != 0)
        return -1;
    for (i = 0; i < nitems(units); i++) {
        if (strcmp(rest, units[i].unit) == 0) {
            v *= units[i].factor;
            if (v > 1.8e19)
                return -1;
            *bytes = (unsigned long long)v;
            return 0;
        }
    }
    return -1;
}

void
buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static void
buf_grow(struct buf *b, size_t more)
{
    size_t need = b->len + more + 1;

    if (need <= b->cap)
        return;
    if (b->cap == 0)
        b->cap = 64;
    while (b->cap < need)
        b->cap *= 2;
    b->data = xrealloc(b->data, b->cap);
}

void
buf_add(struct buf *b, const void *data, size_t len)
{
    buf_grow(b, len);
    if (len != 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *
buf_detach(struct buf *b)
{
    char *s = b->data;

    if (s == NULL)
        s = xstrdup("");
    buf_init(b);
    return s;
}

int
read_file(const char *path, size_t max, char **data, size_t *len, char **err)
{
    struct buf b;
    char chunk[65536];
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return set_error(err, "%s: %s", path, strerror(errno));
    buf_init(&b);
    buf_grow(&b, 0);
    for (;;) {
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_error(err, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            set_error(err, "%s: file larger than %zu bytes", path, max);
            goto fail;
        }
        buf_add(&b, chunk, (size_t)n);
    }
    close(fd);
    if (len != NULL)
        *len = b.len;
    *data = buf_detach(&b);
    return 0;
fail:
    close(fd);
    buf_free(&b);
    return -1;
}

int
write_file_atomic(const char *path, const void *data, size_t len, int mode,
                  char **err)
{
    const char *p = data;
    char *tmp;
    ssize_t n;
    int fd;

    tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        set_error(err, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:
    set_error(err, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

double
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
