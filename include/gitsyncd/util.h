/* util: allocation that aborts on failure, strings, a growable buffer. */
#ifndef GITSYNCD_UTIL_H
#define GITSYNCD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The attribute for printf-style functions, checked by -Wformat. */
#define GS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Number of elements of a static array. */
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* malloc/calloc/realloc/strdup that print a message and abort on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Allocating printf; the result is always a new string. */
char *xasprintf(const char *fmt, ...) GS_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) GS_PRINTF(1, 0);

/* Set *err (if err is not NULL) to a new formatted message; returns -1. */
int set_error(char **err, const char *fmt, ...) GS_PRINTF(2, 3);

/* True if s ends with suffix. */
bool str_endswith(const char *s, const char *suffix);

/*
 * url with its user:password@ part removed (replacement NULL) or replaced
 * by replacement + "@"; a new string.
 */
char *url_without_credentials(const char *url, const char *replacement);

/* Levenshtein distance between a and b (for "did you mean" hints). */
size_t str_distance(const char *a, const char *b);

/*
 * Parse a duration ("500ms", "30s", "10m", "1h", "0"; a bare number is
 * seconds) into milliseconds.  Returns -1 if it is not one.
 */
int parse_duration_ms(const char *s, long long *ms);
/* Parse a size ("1MiB", "512KiB", "64k", "1048576") into bytes. */
int parse_size(const char *s, unsigned long long *bytes);

/* A growable byte buffer, always NUL-terminated. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};
void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) GS_PRINTF(2, 3);
/* Give the buffer's string to the caller; the buffer is left empty. */
char *buf_detach(struct buf *b);

/* Read a whole file (at most max bytes) into a new NUL-terminated string. */
int read_file(const char *path, size_t max, char **data, size_t *len,
              char **err);
/*
 * Write a file atomically: a temporary file in the same directory, fsync,
 * rename over path.  mode is applied to the new file.
 */
int write_file_atomic(const char *path, const void *data, size_t len,
                      int mode, char **err);

/* Monotonic clock in seconds, and wall clock in seconds since the epoch. */
double now_mono(void);
double now_wall(void);

#endif
