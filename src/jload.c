/* jload: JSON text into jansson values, scanned by yajl. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <yajl/yajl_parse.h>

#include "gitsyncd/jload.h"
#include "gitsyncd/util.h"

#define JLOAD_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define JLOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JLOAD_MARK_OUT_OF_RANGE)

/*
 * Regions.  Every value a parse makes is carved from 128 KB chunks of one
 * region, taken from an address range reserved at start-up; a free inside
 * that range only counts down the region's live blocks, and the last one
 * gives the chunks back.  Blocks outside the range are malloc's, so a
 * value made anywhere else, and anything jansson returns to be free()d
 * (json_dumps), is untouched.  Only the parsing thread allocates from a
 * region, and only while it parses; any thread may free.
 */
#define JR_CHUNK ((size_t)128 << 10)
#define JR_RESERVE ((size_t)16 << 30) /* address space, not memory */
#define JR_BIG (JR_CHUNK / 8)         /* larger blocks come from malloc */
#define JR_KEEP 16                    /* free chunks kept resident (2 MB) */

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define JR_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define JR_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define JR_POISON(p, n) ((void)(p), (void)(n))
#define JR_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct jr_chunk {
    struct jregion *region;
    struct jr_chunk *next; /* in its region, or among the free chunks */
    bool resident;         /* its pages are mapped (not given back) */
};

struct jregion {
    struct jr_chunk head; /* the region lives in its first chunk */
    atomic_long live;     /* blocks not yet freed, counted when the parse ends */
    long made;            /* blocks made and not freed by the parse, while it runs */
    char *cur, *end;
};

#define JR_HDR ((sizeof(struct jregion) + 15) & ~(size_t)15)
#define JR_CHUNK_HDR ((sizeof(struct jr_chunk) + 15) & ~(size_t)15)

static char *jr_base;
static size_t jr_used;
static struct jr_chunk *jr_free_chunks;
static size_t jr_nfree;
static pthread_mutex_t jr_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long jr_live_regions;
static _Thread_local struct jregion *jr_cur;

static struct jr_chunk *
jr_chunk_get(void)
{
    struct jr_chunk *c = NULL;

    pthread_mutex_lock(&jr_lock);
    if (jr_free_chunks != NULL) {
        c = jr_free_chunks;
        JR_UNPOISON(c, sizeof *c);
        jr_free_chunks = c->next;
        jr_nfree--;
    } else if (jr_used + JR_CHUNK <= JR_RESERVE &&
               mprotect(jr_base + jr_used, JR_CHUNK, PROT_READ | PROT_WRITE) == 0) {
        c = (struct jr_chunk *)(jr_base + jr_used);
        jr_used += JR_CHUNK;
    }
    pthread_mutex_unlock(&jr_lock);
    if (c != NULL) {
#ifdef MADV_POPULATE_WRITE
        /* One call faults a new chunk's pages in, not one trap per page. */
        if (!c->resident)
            (void)madvise(c, JR_CHUNK, MADV_POPULATE_WRITE);
#endif
        c->resident = true;
        JR_POISON(c, JR_CHUNK);
        JR_UNPOISON(c, sizeof(struct jregion));
    }
    return c;
}

static void
jr_release(struct jregion *r)
{
    struct jr_chunk *c, *next;

    pthread_mutex_lock(&jr_lock);
    for (c = &r->head; c != NULL; c = next) {
        next = c->next;
        /* Beyond a few, keep the address, not the memory. */
        c->resident = jr_nfree < JR_KEEP || madvise(c, JR_CHUNK, MADV_DONTNEED) != 0;
        c->next = jr_free_chunks;
        jr_free_chunks = c;
        jr_nfree++;
        JR_POISON(c, JR_CHUNK);
    }
    pthread_mutex_unlock(&jr_lock);
    atomic_fetch_sub(&jr_live_regions, 1);
}

static void *
jr_malloc(size_t size)
{
    struct jregion *r = jr_cur;
    struct jr_chunk *c;
    void *p;

    if (r == NULL || size > JR_BIG)
        return malloc(size);
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if ((size_t)(r->end - r->cur) < size) {
        if ((c = jr_chunk_get()) == NULL)
            return malloc(size);
        c->region = r;
        c->next = r->head.next;
        r->head.next = c;
        r->cur = (char *)c + JR_CHUNK_HDR;
        r->end = (char *)c + JR_CHUNK;
    }
    p = r->cur;
    r->cur += size;
    r->made++;
    JR_UNPOISON(p, size);
    return p;
}

static void
jr_free(void *p)
{
    struct jregion *r;
    uintptr_t off;

    if (p == NULL)
        return;
    off = (uintptr_t)p - (uintptr_t)jr_base;
    if (jr_base == NULL || off >= JR_RESERVE) {
        free(p);
        return;
    }
    r = ((struct jr_chunk *)(jr_base + (off & ~(uintptr_t)(JR_CHUNK - 1))))->region;
    if (r == jr_cur) /* freed by the parse that made it (a bucket array outgrown) */
        r->made--;
    else if (atomic_fetch_sub_explicit(&r->live, 1, memory_order_acq_rel) == 1)
        jr_release(r);
}

/* Make the values of the parse this thread is about to do in a region. */
static struct jregion *
jr_begin(void)
{
    struct jr_chunk *c;
    struct jregion *r;

    if (jr_base == NULL || (c = jr_chunk_get()) == NULL)
        return NULL;
    r = (struct jregion *)c;
    r->head.region = r;
    r->head.next = NULL;
    atomic_init(&r->live, 0);
    r->made = 0;
    r->cur = (char *)r + JR_HDR;
    r->end = (char *)r + JR_CHUNK;
    atomic_fetch_add(&jr_live_regions, 1);
    jr_cur = r;
    return r;
}

/* The parse is over: the region now lives as long as its values. */
static void
jr_end(struct jregion *r)
{
    if (r == NULL)
        return;
    jr_cur = NULL;
    if (r->made == 0) /* nothing made, or all freed (a refused text) */
        jr_release(r);
    else
        atomic_store_explicit(&r->live, r->made, memory_order_release);
}

int
jload_init(void)
{
    const char *env = getenv("GITSYNCD_JSON_REGIONS");
    void *base;

    if (jr_base != NULL)
        return 0;
    if (env != NULL && strcmp(env, "0") == 0)
        return 0;
    /* One chunk more than the range, which is then aligned to chunks. */
    base = mmap(NULL, JR_RESERVE + JR_CHUNK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (base == MAP_FAILED)
        return -1;
    /* A block's chunk is found from its address: align the range. */
    jr_base = (char *)(((uintptr_t)base + JR_CHUNK - 1) & ~(uintptr_t)(JR_CHUNK - 1));
    json_set_alloc_funcs(jr_malloc, jr_free);
    return 0;
}

long
jload_regions_live(void)
{
    return atomic_load(&jr_live_regions);
}

struct jload_frame {
    json_t *v;
    size_t pathlen; /* its path is ctx->path[0..pathlen) */
    bool whole;     /* on a kept path or below one: build all of it */
};

struct jload_ctx {
    size_t flags;
    yajl_handle h;
    size_t len;
    bool finishing; /* in yajl_complete_parse: offsets are not into the text */
    size_t end;     /* where the top-level value ends */
    json_t *root;
    struct jload_frame *stack; /* the open containers, innermost last */
    size_t depth;
    size_t cap;
    const char *const *paths; /* jload_only's, or NULL for everything */
    size_t skip;              /* > 0: inside a container not built */
    char *path;               /* the path of the member at hand */
    size_t pathcap;
    char *key; /* the key the next member of an object goes under */
    size_t keycap;
    const char *error; /* why a callback stopped the parse */
    char why[96];      /* room for an error that names a key */
    size_t keyend;     /* where the key ends in the text */
    size_t errpos;     /* where the error is, if not where yajl stopped */
    enum json_error_code code;
    struct jload_frame inline_stack[32];
    char inline_key[128];
    char inline_path[128];
};

/*
 * Note where the top-level value ends, to refuse what follows it: yajl
 * lets an unfinished token after a complete value pass ("{} \"abc").
 */
static void
jload_mark_end(struct jload_ctx *c)
{
    c->end = c->finishing ? c->len : yajl_get_bytes_consumed(c->h);
}

static int
jload_fail(struct jload_ctx *c, enum json_error_code code, const char *why)
{
    c->error = why;
    c->code = code;
    return 0;
}

/* Put v (a new reference, or NULL if jansson refused it) where it goes. */
static int
jload_add(struct jload_ctx *c, json_t *v)
{
    json_t *top;
    size_t size;

    if (v == NULL)
        return jload_fail(c, json_error_invalid_utf8, "invalid UTF-8 in a string");
    if (c->depth == 0) {
        if (!(c->flags & JSON_DECODE_ANY) && !json_is_object(v) && !json_is_array(v)) {
            json_decref(v);
            return jload_fail(c, json_error_invalid_syntax, "'[' or '{' expected");
        }
        c->root = v;
        jload_mark_end(c);
        return 1;
    }
    top = c->stack[c->depth - 1].v;
    if (json_is_array(top)) {
        if (json_array_append_new(top, v) != 0)
            return jload_fail(c, json_error_out_of_memory, "out of memory");
        return 1;
    }
    /* The checking setter: yajl lets overlong and surrogate UTF-8 through. */
    size = json_object_size(top);
    if (json_object_set_new(top, c->key, v) != 0)
        return jload_fail(c, json_error_invalid_utf8, "invalid UTF-8 in an object key");
    /* A key given twice replaced a value: cheaper to see than to look up. */
    if ((c->flags & JSON_REJECT_DUPLICATES) && json_object_size(top) == size) {
        snprintf(c->why, sizeof c->why, "duplicate object key \"%.60s\"", c->key);
        c->errpos = c->keyend;
        return jload_fail(c, json_error_duplicate_key, c->why);
    }
    return 1;
}

/*
 * With jload_only: is the member about to be read wanted?  Sets c->path
 * to its path ("repository/full_name", "*" for an array's elements) and
 * returns 2 if the path is one of c->paths or below one (build it all),
 * 1 if it is above one (build it, for what is below), 0 if neither.
 */
static int
jload_wanted(struct jload_ctx *c, size_t *pathlen)
{
    const struct jload_frame *f;
    const char *seg;
    size_t base, seglen, len, pl, i;
    int r = 0;

    *pathlen = 0;
    if (c->depth == 0)
        return c->paths == NULL ? 2 : 1;
    f = &c->stack[c->depth - 1];
    if (f->whole)
        return 2;
    base = f->pathlen;
    seg = json_is_array(f->v) ? "*" : c->key;
    seglen = strlen(seg);
    len = base + (base > 0) + seglen;
    if (len >= c->pathcap) {
        char *grown = xmalloc(2 * len);

        memcpy(grown, c->path, base);
        if (c->path != c->inline_path)
            free(c->path);
        c->path = grown;
        c->pathcap = 2 * len;
    }
    if (base > 0)
        c->path[base] = '/';
    memcpy(c->path + len - seglen, seg, seglen);
    *pathlen = len;
    for (i = 0; c->paths[i] != NULL; i++) {
        pl = strlen(c->paths[i]);
        if (pl <= len && memcmp(c->paths[i], c->path, pl) == 0 && (pl == len || c->path[pl] == '/'))
            return 2;
        if (pl > len && memcmp(c->paths[i], c->path, len) == 0 && c->paths[i][len] == '/')
            r = 1;
    }
    return r;
}

/* A scalar is built if wanted (above a kept path too: it keeps arrays' sizes). */
static bool
jload_want_scalar(struct jload_ctx *c)
{
    size_t len;

    return c->skip == 0 && jload_wanted(c, &len) != 0;
}

static int
jload_open(struct jload_ctx *c, bool array)
{
    struct jload_frame *grown;
    size_t pathlen;
    json_t *v;
    int want;

    if (c->depth + c->skip >= JLOAD_MAX_DEPTH)
        return jload_fail(c, json_error_stack_overflow, "maximum parsing depth reached");
    if (c->skip > 0 || (want = jload_wanted(c, &pathlen)) == 0) {
        c->skip++;
        return 1;
    }
    v = array ? json_array() : json_object();
    if (!jload_add(c, v))
        return 0;
    if (c->depth == c->cap) {
        grown = xmalloc(2 * c->cap * sizeof *grown);
        memcpy(grown, c->stack, c->depth * sizeof *grown);
        if (c->stack != c->inline_stack)
            free(c->stack);
        c->stack = grown;
        c->cap *= 2;
    }
    c->stack[c->depth].v = v;
    c->stack[c->depth].pathlen = pathlen;
    c->stack[c->depth].whole = want == 2;
    c->depth++;
    return 1;
}

static int
jload_close(void *ctx)
{
    struct jload_ctx *c = ctx;

    if (c->skip > 0)
        c->skip--;
    else if (--c->depth == 0)
        jload_mark_end(c);
    return 1;
}

static int
jload_null(void *ctx)
{
    return !jload_want_scalar(ctx) || jload_add(ctx, json_null());
}

static int
jload_boolean(void *ctx, int b)
{
    return !jload_want_scalar(ctx) || jload_add(ctx, json_boolean(b));
}

/* yajl has checked the number's syntax; the conversion is jansson's. */
static int
jload_number(void *ctx, const char *s, size_t n)
{
    struct jload_ctx *c = ctx;
    char small[64], *text;
    json_int_t i;
    double d;
    int ok = 1;

    if (!jload_want_scalar(c))
        return 1;
    text = n + 1 < sizeof small ? small : xmalloc(n + 2);
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    if (strpbrk(text, ".eE") != NULL) {
        d = strtod(text, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            ok = jload_fail(c, json_error_numeric_overflow, "real number overflow");
        else
            ok = jload_add(c, json_real(d));
    } else {
        i = strtoll(text, NULL, 10);
        if (errno == ERANGE && (c->flags & JLOAD_MARK_OUT_OF_RANGE)) {
            /* A NUL first: no string read from JSON can look like it. */
            memmove(text + 1, text, n + 1);
            text[0] = '\0';
            ok = jload_add(c, json_stringn(text, n + 1));
        } else if (errno == ERANGE)
            ok = jload_fail(c, json_error_numeric_overflow,
                            i < 0 ? "too big negative integer" : "too big integer");
        else
            ok = jload_add(c, json_integer(i));
    }
    if (text != small)
        free(text);
    return ok;
}

static int
jload_string(void *ctx, const unsigned char *s, size_t n)
{
    if (!jload_want_scalar(ctx))
        return 1;
    if (memchr(s, '\0', n) != NULL)
        return jload_fail(ctx, json_error_null_character, "\\u0000 is not allowed");
    return jload_add(ctx, json_stringn((const char *)s, n));
}

static int
jload_start_map(void *ctx)
{
    return jload_open(ctx, false);
}

static int
jload_map_key(void *ctx, const unsigned char *s, size_t n)
{
    struct jload_ctx *c = ctx;

    if (c->skip > 0)
        return 1;
    if (memchr(s, '\0', n) != NULL)
        return jload_fail(c, json_error_null_byte_in_key, "NUL byte in object key not supported");
    if (n >= c->keycap) {
        if (c->key != c->inline_key)
            free(c->key);
        c->keycap = n + 1 > 2 * c->keycap ? n + 1 : 2 * c->keycap;
        c->key = xmalloc(c->keycap);
    }
    memcpy(c->key, s, n);
    c->key[n] = '\0';
    c->keyend = yajl_get_bytes_consumed(c->h);
    return 1;
}

static int
jload_start_array(void *ctx)
{
    return jload_open(ctx, true);
}

static const yajl_callbacks jload_callbacks = {
    .yajl_null = jload_null,
    .yajl_boolean = jload_boolean,
    .yajl_number = jload_number,
    .yajl_string = jload_string,
    .yajl_start_map = jload_start_map,
    .yajl_map_key = jload_map_key,
    .yajl_end_map = jload_close,
    .yajl_start_array = jload_start_array,
    .yajl_end_array = jload_close,
};

/* A \u escape of a surrogate (\uD800-\uDFFF) anywhere in the text. */
static bool
jload_has_surrogate_escape(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;

    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 4 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D') && p[3] != '\0' &&
            strchr("89abcdefABCDEF", p[3]) != NULL)
            return true;
        p += 2; /* an escape is at least two bytes: "\\u" is no escape */
        if (p >= end)
            break;
    }
    return false;
}

static void
jload_error(json_error_t *err, const char *buf, size_t pos, enum json_error_code code,
            const char *text)
{
    const char *p, *line = buf;
    int lineno = 1;

    if (err == NULL)
        return;
    for (p = buf; p < buf + pos; p++)
        if (*p == '\n') {
            lineno++;
            line = p + 1;
        }
    err->line = lineno;
    err->column = (int)(buf + pos - line) + 1;
    err->position = (int)pos;
    snprintf(err->source, sizeof err->source, "<buffer>");
    snprintf(err->text, sizeof err->text - 1, "%s", text);
    err->text[sizeof err->text - 1] = (char)code;
}

json_t *
jload(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    return jload_only(buf, len, flags, NULL, err);
}

json_t *
jload_only(const char *buf, size_t len, size_t flags, const char *const *paths, json_error_t *err)
{
    struct jload_ctx c;
    struct jregion *region;
    yajl_handle h;
    yajl_status st;
    unsigned char *msg;
    const char *p;
    size_t pos, n;
    int i;

    if ((flags & ~(size_t)JLOAD_FLAGS) != 0 || jload_has_surrogate_escape(buf, len))
        return json_loadb(buf, len, flags & ~(size_t)JLOAD_MARK_OUT_OF_RANGE, err);
    /* yajl takes these two for white space; JSON has them nowhere. */
    for (i = 0; i < 2; i++)
        if ((p = memchr(buf, "\v\f"[i], len)) != NULL) {
            jload_error(err, buf, (size_t)(p - buf), json_error_invalid_syntax,
                        i == 0 ? "invalid character 0x0b" : "invalid character 0x0c");
            return NULL;
        }
    memset(&c, 0, sizeof c);
    c.flags = flags;
    c.stack = c.inline_stack;
    c.cap = sizeof c.inline_stack / sizeof c.inline_stack[0];
    c.key = c.inline_key;
    c.keycap = sizeof c.inline_key;
    c.paths = paths;
    c.path = c.inline_path;
    c.pathcap = sizeof c.inline_path;
    c.len = len;
    c.errpos = SIZE_MAX;
    h = c.h = yajl_alloc(&jload_callbacks, NULL, &c);
    if (h == NULL) {
        jload_error(err, buf, 0, json_error_out_of_memory, "out of memory");
        return NULL;
    }
    region = jr_begin();
    st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok) {
        c.finishing = true;
        st = yajl_complete_parse(h);
    }
    if (st == yajl_status_ok && c.root == NULL) {
        /* Only white space: yajl asks for more, jansson says no value. */
        jload_error(err, buf, len, json_error_invalid_syntax, "'[' or '{' expected near end of file");
    } else if (st == yajl_status_ok) {
        for (pos = c.end; pos < len; pos++)
            if (buf[pos] != ' ' && buf[pos] != '\t' && buf[pos] != '\n' && buf[pos] != '\r')
                break;
        if (pos < len) {
            jload_error(err, buf, pos, json_error_end_of_input_expected, "end of file expected");
            json_decref(c.root);
            c.root = NULL;
        }
    } else {
        pos = c.finishing ? len : yajl_get_bytes_consumed(h);
        if (pos > len)
            pos = len;
        if (st == yajl_status_client_canceled) {
            jload_error(err, buf, c.errpos != SIZE_MAX ? c.errpos : pos, c.code, c.error);
        } else {
            msg = yajl_get_error(h, 0, NULL, 0);
            n = msg != NULL ? strcspn((const char *)msg, "\n") : 0;
            while (n > 0 && (msg[n - 1] == '.' || msg[n - 1] == ' '))
                n--;
            if (msg != NULL)
                msg[n] = '\0';
            jload_error(err, buf, pos, json_error_invalid_syntax,
                        msg != NULL ? (const char *)msg : "invalid JSON");
            if (msg != NULL)
                yajl_free_error(h, msg);
        }
        json_decref(c.root);
        c.root = NULL;
    }
    jr_end(region);
    yajl_free(h);
    if (c.stack != c.inline_stack)
        free(c.stack);
    if (c.key != c.inline_key)
        free(c.key);
    if (c.path != c.inline_path)
        free(c.path);
    return c.root;
}

bool
jload_out_of_range(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 1 && json_string_value(v)[0] == '\0';
}

const char *
jload_find_out_of_range(const json_t *v, const char *key, const char **text)
{
    const char *k, *found;
    const json_t *m;
    size_t i;

    if (jload_out_of_range(v)) {
        *text = json_string_value(v) + 1;
        return key;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) {
            if ((found = jload_find_out_of_range(m, k, text)) != NULL)
                return found;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            if ((found = jload_find_out_of_range(m, key != NULL ? key : "[]", text)) != NULL)
                return found;
        }
    }
    return NULL;
}
