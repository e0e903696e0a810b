/* resource: canonical YAML <-> JSON for resource files, and validation. */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

/* ---- encoding -------------------------------------------------------- */

struct res_emit {
    yaml_emitter_t emitter;
    struct buf out;
    bool failed;
};

/* libyaml output callback: append to the buffer. */
static int
res_write(void *data, unsigned char *bytes, size_t size)
{
    struct res_emit *e = data;

    buf_add(&e->out, bytes, size);
    return 1;
}

/* Emit one event; remember a failure. */
static void
res_emit_event(struct res_emit *e, yaml_event_t *ev)
{
    if (e->failed)
        return;
    if (!yaml_emitter_emit(&e->emitter, ev))
        e->failed = true;
}

/* True if a plain s would be read as something other than this string. */
static bool
res_ambiguous(const char *s, size_t len)
{
    static const char *const words[] = {
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~",
        "=", "<<",
    };
    size_t i;

    if (len == 0)
        return true;
    if (strchr("-?:,[]{}#&*!|>'\"%@`~=<+.", s[0]) != NULL)
        return true;
    if (s[0] >= '0' && s[0] <= '9')
        return true;
    if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t' ||
        s[len - 1] == ':')
        return true;
    for (i = 0; i < nitems(words); i++) {
        if (strlen(words[i]) == len && strncasecmp(s, words[i], len) == 0)
            return true;
    }
    for (i = 0; i + 1 < len; i++) {
        if ((s[i] == ':' && s[i + 1] == ' ') || (s[i] == ' ' && s[i + 1] == '#'))
            return true;
    }
    return memchr(s, '\0', len) != NULL;
}

/* Emit a string scalar in the style its content needs. */
static void
res_emit_string(struct res_emit *e, const char *s, size_t len)
{
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    yaml_event_t ev;

    if (memchr(s, '\n', len) != NULL)
        style = YAML_LITERAL_SCALAR_STYLE;
    else if (res_ambiguous(s, len))
        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len,
                                 1, 1, style);
    res_emit_event(e, &ev);
}

/* Emit a plain scalar (numbers, booleans, null). */
static void
res_emit_plain(struct res_emit *e, const char *s)
{
    yaml_event_t ev;

    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                 (int)strlen(s), 1, 1, YAML_PLAIN_SCALAR_STYLE);
    res_emit_event(e, &ev);
}

/* The shortest decimal form of d that reads back to d, always a float. */
static void
res_format_real(double d, char *out, size_t size)
{
    char tmp[40], *e;
    int prec;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    e = strchr(tmp, 'e');
    if (e == NULL) {
        snprintf(out, size, "%s%s", tmp, strchr(tmp, '.') ? "" : ".0");
    } else if (memchr(tmp, '.', (size_t)(e - tmp)) == NULL) {
        snprintf(out, size, "%.*s.0%s", (int)(e - tmp), tmp, e);
    } else {
        snprintf(out, size, "%s", tmp);
    }
}

/* Order keys: the profile's order first, then bytewise. */
struct res_key {
    const char *key;
    size_t len;
    long rank;
};

static int
res_key_cmp(const void *a, const void *b)
{
    const struct res_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void res_emit_value(struct res_emit *e, const json_t *v,
                           const char *const *order, size_t norder);

/* Emit a mapping with its keys in canonical order. */
static void
res_emit_object(struct res_emit *e, const json_t *obj,
                const char *const *order, size_t norder)
{
    struct res_key *keys;
    yaml_event_t ev;
    const char *k;
    json_t *v;
    size_t n = json_object_size(obj), i = 0, j;
    void *iter;

    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        n == 0 ? YAML_FLOW_MAPPING_STYLE
                                               : YAML_BLOCK_MAPPING_STYLE);
    res_emit_event(e, &ev);
    keys = xcalloc(n + 1, sizeof *keys);
    for (iter = json_object_iter((json_t *)obj); iter != NULL;
         iter = json_object_iter_next((json_t *)obj, iter)) {
        k = json_object_iter_key(iter);
        keys[i].key = k;
        keys[i].len = json_object_iter_key_len(iter);
        keys[i].rank = (long)norder;
        for (j = 0; j < norder; j++) {
            if (strlen(order[j]) == keys[i].len &&
                memcmp(order[j], k, keys[i].len) == 0) {
                keys[i].rank = (long)j;
                break;
            }
        }
        i++;
    }
    qsort(keys, n, sizeof *keys, res_key_cmp);
    for (i = 0; i < n; i++) {
        res_emit_string(e, keys[i].key, keys[i].len);
        v = json_object_getn(obj, keys[i].key, keys[i].len);
        res_emit_value(e, v, NULL, 0);
    }
    free(keys);
    yaml_mapping_end_event_initialize(&ev);
    res_emit_event(e, &ev);
}

/* Emit any JSON value. */
static void
res_emit_value(struct res_emit *e, const json_t *v, const char *const *order,
               size_t norder)
{
    yaml_event_t ev;
    char num[48];
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        res_emit_object(e, v, order, norder);
        break;
    case JSON_ARRAY:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                             json_array_size(v) == 0
                                                 ? YAML_FLOW_SEQUENCE_STYLE
                                                 : YAML_BLOCK_SEQUENCE_STYLE);
        res_emit_event(e, &ev);
        for (i = 0; i < json_array_size(v); i++)
            res_emit_value(e, json_array_get(v, i), NULL, 0);
        yaml_sequence_end_event_initialize(&ev);
        res_emit_event(e, &ev);
        break;
    case JSON_STRING:
        res_emit_string(e, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        res_emit_plain(e, num);
        break;
    case JSON_REAL:
        res_format_real(json_real_value(v), num, sizeof num);
        res_emit_plain(e, num);
        break;
    case JSON_TRUE:
        res_emit_plain(e, "true");
        break;
    case JSON_FALSE:
        res_emit_plain(e, "false");
        break;
    case JSON_NULL:
        res_emit_plain(e, "null");
        break;
    }
}

char *
resource_encode(const json_t *value, const char *const *order, size_t norder,
                size_t *len)
{
    struct res_emit e;
    yaml_event_t ev;

    memset(&e, 0, sizeof e);
    buf_init(&e.out);
    if (!yaml_emitter_initialize(&e.emitter)) {
        fprintf(stderr, "gitsyncd: fatal: cannot initialise the YAML emitter\n");
        abort();
    }
    yaml_emitter_set_output(&e.emitter, res_write, &e);
    yaml_emitter_set_unicode(&e.emitter, 1);
    yaml_emitter_set_width(&e.emitter, -1);
    yaml_emitter_set_indent(&e.emitter, 2);
    yaml_emitter_set_break(&e.emitter, YAML_LN_BREAK);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    res_emit_event(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    res_emit_event(&e, &ev);
    res_emit_value(&e, value, order, norder);
    yaml_document_end_event_initialize(&ev, 1);
    res_emit_event(&e, &ev);
    yaml_stream_end_event_initialize(&ev);
    res_emit_event(&e, &ev);
    yaml_emitter_flush(&e.emitter);
    if (e.failed) {
        /* Only an emitter bug can get here: every JSON value is emittable. */
        fprintf(stderr, "gitsyncd: fatal: YAML emitter: %s\n",
                e.emitter.problem ? e.emitter.problem : "failed");
        abort();
    }
    yaml_emitter_delete(&e.emitter);
    if (len != NULL)
        *len = e.out.len;
    return buf_detach(&e.out);
}

/* ---- decoding -------------------------------------------------------- */

struct res_parse {
    const char *name;
    const char *data;
    yaml_parser_t parser;
    char **err;
    struct resource_marks *marks;
};

static int
res_fail(struct res_parse *rp, const yaml_mark_t *m, const char *fmt, ...)
    GS_PRINTF(3, 4);

static int
res_fail(struct res_parse *rp, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    set_error(rp->err, "%s:%zu:%zu: %s", rp->name, m->line + 1, m->column + 1,
              msg);
    free(msg);
    return -1;
}

/* Next event, or an error naming libyaml's problem. */
static int
res_next(struct res_parse *rp, yaml_event_t *ev)
{
    yaml_mark_t m;
    size_t i;

    if (yaml_parser_parse(&rp->parser, ev))
        return 0;
    if (rp->parser.error == YAML_READER_ERROR) {
        /* The reader gives a byte offset, not a mark: count lines. */
        memset(&m, 0, sizeof m);
        for (i = 0; i < rp->parser.problem_offset; i++) {
            if (rp->data[i] == '\n') {
                m.line++;
                m.column = 0;
            } else if (((unsigned char)rp->data[i] & 0xc0) != 0x80) {
                m.column++;
            }
        }
        return res_fail(rp, &m, "%s", rp->parser.problem ? rp->parser.problem : "invalid input");
    }
    return res_fail(rp, &rp->parser.problem_mark, "%s%s%s",
                    rp->parser.problem ? rp->parser.problem : "invalid YAML",
                    rp->parser.context ? " " : "",
                    rp->parser.context ? rp->parser.context : "");
}

/* True if s is all characters of set, and not empty. */
static bool
res_all(const char *s, const char *set)
{
    return *s != '\0' && strspn(s, set) == strlen(s);
}

/* Type a plain scalar by the YAML 1.2 core schema. */
static int
res_plain(struct res_parse *rp, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *digits = s + (s[0] == '-' || s[0] == '+');
    char *end;
    long long iv;
    double dv;
    size_t n;

    if (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
        strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
        *out = json_null();
        return 0;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        *out = json_true();
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        *out = json_false();
        return 0;
    }
    errno = 0;
    if (res_all(digits, "0123456789")) {
        iv = strtoll(s, &end, 10);
        if (errno == ERANGE)
            return res_fail(rp, &ev->start_mark, "integer %s is outside the 64-bit range", s);
        *out = json_integer(iv);
        return 0;
    }
    if ((strncmp(s, "0x", 2) == 0 && res_all(s + 2, "0123456789abcdefABCDEF")) ||
        (strncmp(s, "0o", 2) == 0 && res_all(s + 2, "01234567"))) {
        unsigned long long uv = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);

        if (errno == ERANGE || uv > (unsigned long long)INT64_MAX)
            return res_fail(rp, &ev->start_mark, "integer %s is outside the 64-bit range", s);
        *out = json_integer((json_int_t)uv);
        return 0;
    }
    if (strcmp(digits, ".inf") == 0 || strcmp(digits, ".Inf") == 0 ||
        strcmp(digits, ".INF") == 0 || strcmp(s, ".nan") == 0 ||
        strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
        return res_fail(rp, &ev->start_mark, "%s has no JSON form; quote it for a string", s);
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    n = strspn(digits, "0123456789");
    end = (char *)digits + n;
    if (*end == '.') {
        size_t frac = strspn(end + 1, "0123456789");

        if (n == 0 && frac == 0)
            goto string;
        end += 1 + frac;
    } else if (n == 0) {
        goto string;
    }
    if (*end == 'e' || *end == 'E') {
        char *x = end + 1;

        if (*x == '-' || *x == '+')
            x++;
        if (!res_all(x, "0123456789"))
            goto string;
        end = x + strlen(x);
    }
    if (*end != '\0')
        goto string;
    dv = strtod(s, NULL);
    if (isinf(dv))
        return res_fail(rp, &ev->start_mark, "number %s is too large", s);
    *out = json_real(dv);
    return 0;
string:
    *out = json_stringn(s, ev->data.scalar.length);
    if (*out == NULL)
        return res_fail(rp, &ev->start_mark, "invalid UTF-8 in a string");
    return 0;
}

/* Parse the node that starts with ev (owned here) into *out. */
static int
res_node(struct res_parse *rp, yaml_event_t *ev, int depth, json_t **out)
{
    yaml_event_t kev, vev;
    json_t *node = NULL, *child = NULL;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    int rc = -1;

    *out = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        res_fail(rp, &ev->start_mark, "aliases are not allowed");
        goto out;
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    default:
        res_fail(rp, &ev->start_mark, "unexpected YAML event");
        goto out;
    }
    if (anchor != NULL) {
        res_fail(rp, &ev->start_mark, "anchors are not allowed");
        goto out;
    }
    if (tag != NULL) {
        res_fail(rp, &ev->start_mark, "tags are not allowed");
        goto out;
    }
    if (depth > RESOURCE_MAX_DEPTH) {
        res_fail(rp, &ev->start_mark, "nesting deeper than %d levels", RESOURCE_MAX_DEPTH);
        goto out;
    }
    if (ev->type == YAML_SCALAR_EVENT) {
        if (ev->data.scalar.length > RESOURCE_MAX_SCALAR) {
            res_fail(rp, &ev->start_mark, "a scalar larger than 1 MiB");
            goto out;
        }
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            rc = res_plain(rp, ev, out);
        } else {
            *out = json_stringn((const char *)ev->data.scalar.value,
                                ev->data.scalar.length);
            rc = *out != NULL ? 0 : res_fail(rp, &ev->start_mark, "invalid UTF-8 in a string");
        }
        goto out;
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        node = json_array();
        for (;;) {
            if (res_next(rp, &vev) != 0)
                goto out;
            if (vev.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&vev);
                break;
            }
            if (res_node(rp, &vev, depth + 1, &child) != 0)
                goto out;
            json_array_append_new(node, child);
        }
        *out = node;
        node = NULL;
        rc = 0;
        goto out;
    }
    node = json_object();
    for (;;) {
        const char *key;
        size_t klen;

        if (res_next(rp, &kev) != 0)
            goto out;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            res_fail(rp, &kev.start_mark, "a mapping key must be a string");
            yaml_event_delete(&kev);
            goto out;
        }
        if (kev.data.scalar.anchor != NULL || kev.data.scalar.tag != NULL) {
            res_fail(rp, &kev.start_mark, kev.data.scalar.anchor ? "anchors are not allowed" : "tags are not allowed");
            yaml_event_delete(&kev);
            goto out;
        }
        key = (const char *)kev.data.scalar.value;
        klen = kev.data.scalar.length;
        if (klen > RESOURCE_MAX_SCALAR) {
            res_fail(rp, &kev.start_mark, "a key larger than 1 MiB");
            yaml_event_delete(&kev);
            goto out;
        }
        if (memchr(key, '\0', klen) != NULL) {
            res_fail(rp, &kev.start_mark, "a key with a NUL character");
            yaml_event_delete(&kev);
            goto out;
        }
        if (json_object_getn(node, key, klen) != NULL) {
            res_fail(rp, &kev.start_mark, "duplicate key \"%.*s\"", (int)(klen > 60 ? 60 : klen), key);
            yaml_event_delete(&kev);
            goto out;
        }
        if (res_next(rp, &vev) != 0) {
            yaml_event_delete(&kev);
            goto out;
        }
        if (depth == 1 && rp->marks != NULL) {
            struct resource_pos *p;

            rp->marks->v = xreallocarray(rp->marks->v, rp->marks->n + 1, sizeof *p);
            p = &rp->marks->v[rp->marks->n++];
            p->key = xstrndup(key, klen);
            p->line = (int)kev.start_mark.line + 1;
            p->col = (int)kev.start_mark.column + 1;
            p->vline = (int)vev.start_mark.line + 1;
            p->vcol = (int)vev.start_mark.column + 1;
        }
        if (res_node(rp, &vev, depth + 1, &child) != 0) {
            yaml_event_delete(&kev);
            goto out;
        }
        if (json_object_setn_new(node, key, klen, child) != 0) {
            res_fail(rp, &kev.start_mark, "invalid UTF-8 in a key");
            yaml_event_delete(&kev);
            goto out;
        }
        yaml_event_delete(&kev);
    }
    *out = node;
    node = NULL;
    rc = 0;
out:
    json_decref(node);
    yaml_event_delete(ev);
    return rc;
}

int
resource_decode_marks(const char *name, const char *data, size_t len,
                      json_t **out, struct resource_marks *marks, char **err)
{
    struct res_parse rp;
    yaml_event_t ev;
    json_t *value = NULL;
    int rc = -1;

    *out = NULL;
    if (marks != NULL)
        memset(marks, 0, sizeof *marks);
    if (len > RESOURCE_MAX_FILE)
        return set_error(err, "%s:1:1: file larger than 8 MiB", name);
    /* A UTF-8 byte order mark (Windows editors write one) is not content. */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    memset(&rp, 0, sizeof rp);
    rp.name = name;
    rp.data = data;
    rp.err = err;
    rp.marks = marks;
    if (!yaml_parser_initialize(&rp.parser))
        return set_error(err, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&rp.parser, (const unsigned char *)data, len);
    yaml_parser_set_encoding(&rp.parser, YAML_UTF8_ENCODING);
    if (res_next(&rp, &ev) != 0)
        goto done;
    yaml_event_delete(&ev);
    if (res_next(&rp, &ev) != 0)
        goto done;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        *out = json_null();
        rc = 0;
        goto done;
    }
    yaml_event_delete(&ev);
    if (res_next(&rp, &ev) != 0)
        goto done;
    if (res_node(&rp, &ev, 1, &value) != 0)
        goto done;
    if (res_next(&rp, &ev) != 0)
        goto done;
    yaml_event_delete(&ev);
    if (res_next(&rp, &ev) != 0)
        goto done;
    if (ev.type != YAML_STREAM_END_EVENT) {
        res_fail(&rp, &ev.start_mark, "more than one YAML document");
        yaml_event_delete(&ev);
        goto done;
    }
    yaml_event_delete(&ev);
    *out = value;
    value = NULL;
    rc = 0;
done:
    json_decref(value);
    yaml_parser_delete(&rp.parser);
    if (rc != 0 && marks != NULL)
        resource_marks_free(marks);
    return rc;
}

int
resource_decode(const char *name, const char *data, size_t len, json_t **out,
                char **err)
{
    return resource_decode_marks(name, data, len, out, NULL, err);
}

void
resource_marks_free(struct resource_marks *marks)
{
    size_t i;

    for (i = 0; i < marks->n; i++)
        free(marks->v[i].key);
    free(marks->v);
    marks->v = NULL;
    marks->n = 0;
}

const struct resource_pos *
resource_marks_find(const struct resource_marks *m, const char *key)
{
    size_t i;

    for (i = 0; m != NULL && i < m->n; i++) {
        if (strcmp(m->v[i].key, key) == 0)
            return &m->v[i];
    }
    return NULL;
}

/* ---- validation ------------------------------------------------------ */

/* True if v has the type t. */
static bool
res_type_ok(const json_t *v, enum profile_type t)
{
    switch (t) {
    case PTYPE_ANY:
        return true;
    case PTYPE_STRING:
        return json_is_string(v);
    case PTYPE_INTEGER:
        return json_is_integer(v);
    case PTYPE_NUMBER:
        return json_is_number(v);
    case PTYPE_BOOLEAN:
        return json_is_boolean(v);
    case PTYPE_OBJECT:
        return json_is_object(v);
    case PTYPE_ARRAY:
        return json_is_array(v);
    }
    return false;
}

/* The name of a JSON value's type, for messages. */
static const char *
res_json_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

int
resource_validate_key(const struct profile *p, const struct profile_kind *k,
                      const char *slug, const json_t *doc, const char **key,
                      char **err)
{
    const struct profile_field *f;
    const json_t *v;
    const char *s;
    size_t i;

    if (key != NULL)
        *key = NULL;
    if (!json_is_object(doc))
        return set_error(err, "a %s must be a mapping, not %s %s", k->name,
                         json_is_array(doc) ? "an" : "a", res_json_type(doc));
    if (!profile_slug_valid(p, slug))
        return set_error(err, "\"%s\" is not a valid slug (%s): rename the file",
                         slug, p->slug_pattern);
    v = json_object_get(doc, k->slug_field);
    if (v != NULL) {
        s = json_string_value(v);
        if (s == NULL || strcmp(s, slug) != 0) {
            if (key != NULL)
                *key = k->slug_field;
            return set_error(err, "%s: \"%s\" does not match the file name \"%s.yaml\"",
                             k->slug_field, s != NULL ? s : res_json_type(v), slug);
        }
    }
    for (i = 0; i < k->nfields; i++) {
        f = &k->fields[i];
        /* The slug may be left out of the file: the file name says it. */
        if (strcmp(f->name, k->slug_field) == 0)
            continue;
        v = json_object_get(doc, f->name);
        if (v == NULL) {
            if (f->required)
                return set_error(err, "missing required field \"%s\"", f->name);
            continue;
        }
        if (json_is_null(v) && f->nullable)
            continue;
        if (!res_type_ok(v, f->type)) {
            if (key != NULL)
                *key = f->name;
            return set_error(err, "%s: expected %s%s, got %s", f->name,
                             profile_type_name(f->type),
                             f->nullable ? " or null" : "", res_json_type(v));
        }
    }
    for (i = 0; i < k->nrefs; i++) {
        v = json_object_get(doc, k->refs[i].as);
        if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
            if (key != NULL)
                *key = k->refs[i].as;
            return set_error(err, "%s: expected the slug of a %s, got %s",
                             k->refs[i].as, k->refs[i].kind, res_json_type(v));
        }
    }
    return 0;
}

int
resource_validate(const struct profile *p, const struct profile_kind *k,
                  const char *slug, const json_t *doc, char **err)
{
    return resource_validate_key(p, k, slug, doc, NULL, err);
}
