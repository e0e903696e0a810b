/*
 * Request headers for hooks_git() and hooks_platform() in tests and fuzz
 * targets: a table of name/value pairs, looked up case-insensitively.
 */
#ifndef GITSYNCD_TESTS_HOOK_HEADERS_H
#define GITSYNCD_TESTS_HOOK_HEADERS_H

#include <stddef.h>
#include <strings.h>

struct hdrs {
    const char *kv[16];
    size_t n;
};

static inline const char *
hdr_get(void *arg, const char *name)
{
    struct hdrs *h = arg;
    size_t i;

    for (i = 0; i + 1 < h->n; i += 2) {
        if (strcasecmp(h->kv[i], name) == 0)
            return h->kv[i + 1];
    }
    return NULL;
}

/* Add a header; past 8 of them, further ones are dropped. */
static inline void
hdr_add(struct hdrs *h, const char *k, const char *v)
{
    if (h->n + 2 <= sizeof h->kv / sizeof h->kv[0]) {
        h->kv[h->n++] = k;
        h->kv[h->n++] = v;
    }
}

#endif
