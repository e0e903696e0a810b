/* profile: a platform's REST API described in YAML, loaded and checked. */
#include "autoconfig.h"

#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitsyncd/profile.h"
#include "gitsyncd/util.h"
#include "gitsyncd/ytree.h"

#define PROFILE_DEFAULT_SLUG "^[a-z0-9][a-z0-9-]{0,99}$"

struct profile_parser {
    const char *name;
    char **err;
};

static const char *const profile_paging_names[] = {
    "none", "offset", "page", "cursor", "link", NULL,
};
static const char *const profile_type_names[] = {
    "any", "string", "integer", "number", "boolean", "object", "array", NULL,
};

/* An error at a node. */
static int
profile_fail(struct profile_parser *pp, const struct ynode *n,
             const char *fmt, ...) GS_PRINTF(3, 4);

static int
profile_fail(struct profile_parser *pp, const struct ynode *n,
             const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    set_error(pp->err, "%s:%d:%d: %s", pp->name, n ? n->line : 1,
              n ? n->col : 1, msg);
    free(msg);
    return -1;
}

/* Check that map has only the keys in known (NULL-terminated). */
static int
profile_keys(struct profile_parser *pp, const struct ynode *map,
             const char *where, const char *const *known)
{
    size_t i, j, d, best;
    const char *hint;

    if (map->type != YNODE_MAP)
        return profile_fail(pp, map, "%s: expected a mapping, got a %s",
                            where, ytree_type_name(map->type));
    for (i = 0; i < map->n; i++) {
        best = (size_t)-1;
        hint = NULL;
        for (j = 0; known[j] != NULL; j++) {
            if (strcmp(map->keys[i]->scalar, known[j]) == 0)
                break;
            d = str_distance(map->keys[i]->scalar, known[j]);
            if (d < best) {
                best = d;
                hint = known[j];
            }
        }
        if (known[j] != NULL)
            continue;
        if (hint != NULL && best <= strlen(map->keys[i]->scalar) / 3 + 1)
            return profile_fail(pp, map->keys[i],
                                "unknown key \"%s%s\" (did you mean \"%s\"?)",
                                where, map->keys[i]->scalar, hint);
        return profile_fail(pp, map->keys[i], "unknown key \"%s%s\"", where,
                            map->keys[i]->scalar);
    }
    return 0;
}

/* A string value of key in map into *out (kept if absent). */
static int
profile_str(struct profile_parser *pp, const struct ynode *map,
            const char *key, const char *where, bool required, char **out)
{
    const struct ynode *n = ytree_get(map, key);

    if (n == NULL) {
        if (required)
            return profile_fail(pp, map, "missing required key \"%s%s\"",
                                where, key);
        return 0;
    }
    if (n->type != YNODE_SCALAR)
        return profile_fail(pp, n, "%s%s: expected a string, got a %s", where,
                            key, ytree_type_name(n->type));
    free(*out);
    *out = xstrdup(n->scalar);
    return 0;
}

/* A boolean value. */
static int
profile_bool(struct profile_parser *pp, const struct ynode *map,
             const char *key, const char *where, bool *out)
{
    const struct ynode *n = ytree_get(map, key);

    if (n == NULL)
        return 0;
    if (n->type == YNODE_SCALAR && strcmp(n->scalar, "true") == 0)
        *out = true;
    else if (n->type == YNODE_SCALAR && strcmp(n->scalar, "false") == 0)
        *out = false;
    else
        return profile_fail(pp, n, "%s%s: expected true or false", where, key);
    return 0;
}

/* An integer value in [lo, hi]. */
static int
profile_int(struct profile_parser *pp, const struct ynode *map,
            const char *key, const char *where, long lo, long hi, int *out)
{
    const struct ynode *n = ytree_get(map, key);
    char *end;
    long v;

    if (n == NULL)
        return 0;
    if (n->type != YNODE_SCALAR)
        return profile_fail(pp, n, "%s%s: expected a number", where, key);
    v = strtol(n->scalar, &end, 10);
    if (n->scalar[0] == '\0' || *end != '\0')
        return profile_fail(pp, n, "%s%s: expected a whole number, got \"%s\"",
                            where, key, n->scalar);
    if (v < lo || v > hi)
        return profile_fail(pp, n, "%s%s: %ld is out of range (%ld to %ld)",
                            where, key, v, lo, hi);
    *out = (int)v;
    return 0;
}

/* One of names, as an index. */
static int
profile_enum(struct profile_parser *pp, const struct ynode *n,
             const char *where, const char *const *names, int *out)
{
    struct buf b;
    int i;

    if (n->type == YNODE_SCALAR) {
        for (i = 0; names[i] != NULL; i++) {
            if (strcmp(n->scalar, names[i]) == 0) {
                *out = i;
                return 0;
            }
        }
    }
    buf_init(&b);
    for (i = 0; names[i] != NULL; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    profile_fail(pp, n, "%s: unknown value \"%s\" (one of: %s)", where,
                 n->type == YNODE_SCALAR ? n->scalar : "?", b.data);
    buf_free(&b);
    return -1;
}

/* A sequence of strings. */
static int
profile_strlist(struct profile_parser *pp, const struct ynode *map,
                const char *key, const char *where, char ***out, size_t *n)
{
    const struct ynode *seq = ytree_get(map, key);
    size_t i;

    if (seq == NULL)
        return 0;
    if (seq->type != YNODE_SEQ)
        return profile_fail(pp, seq, "%s%s: expected a sequence of strings",
                            where, key);
    *out = xcalloc(seq->n + 1, sizeof **out);
    for (i = 0; i < seq->n; i++) {
        if (seq->values[i]->type != YNODE_SCALAR)
            return profile_fail(pp, seq->values[i],
                                "%s%s: expected a string", where, key);
        (*out)[i] = xstrdup(seq->values[i]->scalar);
        *n = i + 1;
    }
    return 0;
}

/* The list: block of a kind. */
static int
profile_list(struct profile_parser *pp, const struct ynode *list,
             struct profile_kind *k, const char *where)
{
    static const char *const keys[] = {
        "items", "paging", "page_size", "limit_param", "offset_param",
        "page_param", "cursor_param", "next_cursor", "has_more", NULL,
    };
    const struct ynode *n;
    int v;

    if (profile_keys(pp, list, where, keys) != 0)
        return -1;
    if (profile_str(pp, list, "items", where, false, &k->items) != 0)
        return -1;
    n = ytree_get(list, "paging");
    if (n != NULL) {
        char w[128];

        snprintf(w, sizeof w, "%spaging", where);
        if (profile_enum(pp, n, w, profile_paging_names, &v) != 0)
            return -1;
        k->paging = (enum profile_paging)v;
    }
    if (profile_int(pp, list, "page_size", where, 1, 10000, &k->page_size) != 0 ||
        profile_str(pp, list, "limit_param", where, false, &k->limit_param) != 0 ||
        profile_str(pp, list, "offset_param", where, false, &k->offset_param) != 0 ||
        profile_str(pp, list, "page_param", where, false, &k->page_param) != 0 ||
        profile_str(pp, list, "cursor_param", where, false, &k->cursor_param) != 0 ||
        profile_str(pp, list, "next_cursor", where, false, &k->next_cursor) != 0 ||
        profile_str(pp, list, "has_more", where, false, &k->has_more) != 0)
        return -1;
    if (k->paging == PAGING_CURSOR && (k->cursor_param == NULL || k->next_cursor == NULL))
        return profile_fail(pp, list, "%spaging cursor needs cursor_param and next_cursor", where);
    return 0;
}

/* The fields: block of a kind (name -> {type, required, nullable}). */
static int
profile_fields(struct profile_parser *pp, const struct ynode *map,
               struct profile_kind *k, const char *where)
{
    static const char *const keys[] = { "type", "required", "nullable", NULL };
    const struct ynode *spec, *t;
    char w[160];
    size_t i;
    int v;

    if (map->type != YNODE_MAP)
        return profile_fail(pp, map, "%sfields: expected a mapping", where);
    k->fields = xcalloc(map->n + 1, sizeof *k->fields);
    for (i = 0; i < map->n; i++) {
        struct profile_field *f = &k->fields[i];

        f->name = xstrdup(map->keys[i]->scalar);
        k->nfields = i + 1;
        spec = map->values[i];
        snprintf(w, sizeof w, "%sfields.%s.", where, f->name);
        if (spec->type == YNODE_SCALAR) {
            /* Short form: "name: string". */
            w[strlen(w) - 1] = '\0';
            if (profile_enum(pp, spec, w, profile_type_names, &v) != 0)
                return -1;
            f->type = (enum profile_type)v;
            continue;
        }
        if (profile_keys(pp, spec, w, keys) != 0)
            return -1;
        t = ytree_get(spec, "type");
        if (t != NULL) {
            char wt[176];

            snprintf(wt, sizeof wt, "%stype", w);
            if (profile_enum(pp, t, wt, profile_type_names, &v) != 0)
                return -1;
            f->type = (enum profile_type)v;
        }
        if (profile_bool(pp, spec, "required", w, &f->required) != 0 ||
            profile_bool(pp, spec, "nullable", w, &f->nullable) != 0)
            return -1;
    }
    return 0;
}

/* True if name is in the list v of n strings. */
static bool
profile_in(char *const *v, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(v[i], name) == 0)
            return true;
    }
    return false;
}

/*
 * A create: or update: block: {fields: [...], required: [...]}, required
 * only for create.  Names are the platform's; each at most once, and a
 * required field must be one the write accepts.
 */
static int
profile_write(struct profile_parser *pp, const struct ynode *map,
              struct profile_kind *k, const char *where, const char *key,
              struct profile_write *w)
{
    static const char *const create_keys[] = { "fields", "required", NULL };
    static const char *const update_keys[] = { "fields", NULL };
    const bool create = strcmp(key, "create") == 0;
    const struct ynode *n = ytree_get(map, key), *seq;
    char wb[96];
    size_t i;

    if (n == NULL)
        return 0;
    snprintf(wb, sizeof wb, "%s%s.", where, key);
    if (profile_keys(pp, n, wb, create ? create_keys : update_keys) != 0)
        return -1;
    seq = ytree_get(n, "fields");
    if (seq == NULL)
        return profile_fail(pp, n, "%sfields: missing (the list of fields "
                            "this write accepts)", wb);
    if (profile_strlist(pp, n, "fields", wb, &w->fields, &w->nfields) != 0 ||
        profile_strlist(pp, n, "required", wb, &w->required, &w->nrequired) != 0)
        return -1;
    w->restricted = true;
    for (i = 0; i < w->nfields; i++) {
        if (profile_in(w->fields, i, w->fields[i]))
            return profile_fail(pp, seq->values[i], "%sfields: \"%s\" is "
                                "listed twice", wb, w->fields[i]);
        if (strcmp(w->fields[i], k->id_field) == 0)
            return profile_fail(pp, seq->values[i], "%sfields: \"%s\" is "
                                "the id field, which the platform assigns",
                                wb, w->fields[i]);
    }
    seq = ytree_get(n, "required");
    for (i = 0; i < w->nrequired; i++) {
        if (!profile_in(w->fields, w->nfields, w->required[i]))
            return profile_fail(pp, seq->values[i], "%srequired: \"%s\" is "
                                "not in %sfields", wb, w->required[i], wb);
    }
    return 0;
}

/* The refs: block: a sequence of {field, as, kind}. */
static int
profile_refs(struct profile_parser *pp, const struct ynode *seq,
             struct profile_kind *k, const char *where)
{
    static const char *const keys[] = { "field", "as", "kind", NULL };
    char w[160];
    size_t i;

    if (seq->type != YNODE_SEQ)
        return profile_fail(pp, seq, "%srefs: expected a sequence", where);
    k->refs = xcalloc(seq->n + 1, sizeof *k->refs);
    for (i = 0; i < seq->n; i++) {
        snprintf(w, sizeof w, "%srefs[%zu].", where, i);
        k->nrefs = i + 1;
        if (profile_keys(pp, seq->values[i], w, keys) != 0 ||
            profile_str(pp, seq->values[i], "field", w, true, &k->refs[i].field) != 0 ||
            profile_str(pp, seq->values[i], "as", w, true, &k->refs[i].as) != 0 ||
            profile_str(pp, seq->values[i], "kind", w, true, &k->refs[i].kind) != 0)
            return -1;
    }
    return 0;
}

/* One kind. */
static int
profile_kind(struct profile_parser *pp, const struct ynode *map,
             struct profile_kind *k, size_t index)
{
    static const char *const keys[] = {
        "name", "folder", "collection", "item", "update_method", "delete",
        "list", "slug_query", "id_field", "slug_field", "drop", "refs",
        "order", "fields", "create", "update", NULL,
    };
    const struct ynode *n;
    char where[64];

    snprintf(where, sizeof where, "kinds[%zu].", index);
    k->can_delete = true;
    k->page_size = 100;
    if (profile_keys(pp, map, where, keys) != 0 ||
        profile_str(pp, map, "name", where, true, &k->name) != 0 ||
        profile_str(pp, map, "folder", where, true, &k->folder) != 0 ||
        profile_str(pp, map, "collection", where, true, &k->collection) != 0 ||
        profile_str(pp, map, "item", where, false, &k->item) != 0 ||
        profile_str(pp, map, "update_method", where, false, &k->update_method) != 0 ||
        profile_bool(pp, map, "delete", where, &k->can_delete) != 0 ||
        profile_str(pp, map, "slug_query", where, false, &k->slug_query) != 0 ||
        profile_str(pp, map, "id_field", where, false, &k->id_field) != 0 ||
        profile_str(pp, map, "slug_field", where, false, &k->slug_field) != 0 ||
        profile_strlist(pp, map, "drop", where, &k->drop, &k->ndrop) != 0 ||
        profile_strlist(pp, map, "order", where, &k->order, &k->norder) != 0)
        return -1;
    if (strchr(k->folder, '/') != NULL || k->folder[0] == '.' || k->folder[0] == '\0')
        return profile_fail(pp, ytree_get(map, "folder"),
                            "%sfolder: \"%s\" must be one plain directory name", where, k->folder);
    if (k->item == NULL)
        k->item = xasprintf("%s/{id}", k->collection);
    if (strstr(k->item, "{id}") == NULL)
        return profile_fail(pp, ytree_get(map, "item"), "%sitem: \"%s\" has no {id}", where, k->item);
    if (k->update_method == NULL)
        k->update_method = xstrdup("PATCH");
    if (strcmp(k->update_method, "PATCH") != 0 && strcmp(k->update_method, "PUT") != 0)
        return profile_fail(pp, ytree_get(map, "update_method"),
                            "%supdate_method: unknown value \"%s\" (one of: PATCH, PUT)", where, k->update_method);
    if (k->id_field == NULL)
        k->id_field = xstrdup("id");
    if (k->slug_field == NULL)
        k->slug_field = xstrdup("slug");
    n = ytree_get(map, "list");
    if (n != NULL) {
        char wl[80];

        snprintf(wl, sizeof wl, "%slist.", where);
        if (profile_list(pp, n, k, wl) != 0)
            return -1;
    }
    if (k->limit_param == NULL)
        k->limit_param = xstrdup("limit");
    if (k->offset_param == NULL)
        k->offset_param = xstrdup("offset");
    if (k->page_param == NULL)
        k->page_param = xstrdup("page");
    n = ytree_get(map, "refs");
    if (n != NULL && profile_refs(pp, n, k, where) != 0)
        return -1;
    n = ytree_get(map, "fields");
    if (n != NULL && profile_fields(pp, n, k, where) != 0)
        return -1;
    if (profile_write(pp, map, k, where, "create", &k->create) != 0 ||
        profile_write(pp, map, k, where, "update", &k->update) != 0)
        return -1;
    return 0;
}

/* Free the lists of a create: or update: block. */
static void
profile_write_free(struct profile_write *w)
{
    size_t i;

    for (i = 0; i < w->nfields; i++)
        free(w->fields[i]);
    free(w->fields);
    for (i = 0; i < w->nrequired; i++)
        free(w->required[i]);
    free(w->required);
}

/* Free one kind's strings. */
static void
profile_kind_free(struct profile_kind *k)
{
    size_t i;

    free(k->name);
    free(k->folder);
    free(k->collection);
    free(k->item);
    free(k->update_method);
    free(k->items);
    free(k->limit_param);
    free(k->offset_param);
    free(k->page_param);
    free(k->cursor_param);
    free(k->next_cursor);
    free(k->has_more);
    free(k->slug_query);
    free(k->id_field);
    free(k->slug_field);
    for (i = 0; i < k->ndrop; i++)
        free(k->drop[i]);
    free(k->drop);
    for (i = 0; i < k->nrefs; i++) {
        free(k->refs[i].field);
        free(k->refs[i].as);
        free(k->refs[i].kind);
    }
    free(k->refs);
    for (i = 0; i < k->norder; i++)
        free(k->order[i]);
    free(k->order);
    for (i = 0; i < k->nfields; i++)
        free(k->fields[i].name);
    free(k->fields);
    profile_write_free(&k->create);
    profile_write_free(&k->update);
}

void
profile_free(struct profile *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nkinds; i++)
        profile_kind_free(&p->kinds[i]);
    free(p->kinds);
    free(p->name);
    free(p->path);
    free(p->slug_pattern);
    if (p->slug_re != NULL) {
        regfree(p->slug_re);
        free(p->slug_re);
    }
    free(p->audit_path);
    free(p->audit_after_param);
    free(p->audit_items);
    free(p->event_kind);
    free(p->event_id);
    free(p->event_slug);
    free(p->event_action);
    free(p->event_actor_name);
    free(p->event_actor_email);
    free(p->event_seq);
    free(p);
}

/* Parse a whole profile document. */
static int
profile_parse_root(struct profile_parser *pp, const struct ynode *root,
                   struct profile *p)
{
    static const char *const keys[] = {
        "name", "description", "slug_pattern", "rate_limit", "audit", "events", "kinds", NULL,
    };
    static const char *const rate_keys[] = { "requests", "per", NULL };
    static const char *const audit_keys[] = { "path", "after_param", "items", NULL };
    static const char *const event_keys[] = {
        "kind", "id", "slug", "action", "actor_name", "actor_email", "seq", NULL,
    };
    const struct ynode *n, *kinds;
    regex_t re;
    size_t i, j;
    int rc;

    if (profile_keys(pp, root, "", keys) != 0 ||
        profile_str(pp, root, "name", "", true, &p->name) != 0 ||
        profile_str(pp, root, "slug_pattern", "", false, &p->slug_pattern) != 0)
        return -1;
    if (p->slug_pattern == NULL)
        p->slug_pattern = xstrdup(PROFILE_DEFAULT_SLUG);
    rc = regcomp(&re, p->slug_pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0)
        return profile_fail(pp, ytree_get(root, "slug_pattern"),
                            "slug_pattern: \"%s\" is not a valid regular expression",
                            p->slug_pattern);
    /* Kept: compiling it for every slug checked was most of the cost of
     * validating a file (glibc builds its matcher anew each time). */
    p->slug_re = xmalloc(sizeof *p->slug_re);
    *p->slug_re = re;

    n = ytree_get(root, "rate_limit");
    if (n != NULL) {
        const struct ynode *per;

        if (profile_keys(pp, n, "rate_limit.", rate_keys) != 0 ||
            profile_int(pp, n, "requests", "rate_limit.", 1, 1000000, &p->rate_limit_requests) != 0)
            return -1;
        per = ytree_get(n, "per");
        p->rate_limit_period_ms = 1000;
        if (per != NULL && (per->type != YNODE_SCALAR ||
                            parse_duration_ms(per->scalar, &p->rate_limit_period_ms) != 0 ||
                            p->rate_limit_period_ms <= 0))
            return profile_fail(pp, per, "rate_limit.per: expected a duration such as 10s");
    }
    n = ytree_get(root, "audit");
    if (n != NULL) {
        if (profile_keys(pp, n, "audit.", audit_keys) != 0 ||
            profile_str(pp, n, "path", "audit.", true, &p->audit_path) != 0 ||
            profile_str(pp, n, "after_param", "audit.", false, &p->audit_after_param) != 0 ||
            profile_str(pp, n, "items", "audit.", false, &p->audit_items) != 0)
            return -1;
        if (p->audit_after_param == NULL)
            p->audit_after_param = xstrdup("after");
    }
    n = ytree_get(root, "events");
    if (n != NULL) {
        if (profile_keys(pp, n, "events.", event_keys) != 0 ||
            profile_str(pp, n, "kind", "events.", false, &p->event_kind) != 0 ||
            profile_str(pp, n, "id", "events.", false, &p->event_id) != 0 ||
            profile_str(pp, n, "slug", "events.", false, &p->event_slug) != 0 ||
            profile_str(pp, n, "action", "events.", false, &p->event_action) != 0 ||
            profile_str(pp, n, "actor_name", "events.", false, &p->event_actor_name) != 0 ||
            profile_str(pp, n, "actor_email", "events.", false, &p->event_actor_email) != 0 ||
            profile_str(pp, n, "seq", "events.", false, &p->event_seq) != 0)
            return -1;
    }
    kinds = ytree_get(root, "kinds");
    if (kinds == NULL)
        return profile_fail(pp, root, "missing required key \"kinds\"");
    if (kinds->type != YNODE_SEQ || kinds->n == 0)
        return profile_fail(pp, kinds, "kinds: expected a non-empty sequence");
    p->kinds = xcalloc(kinds->n, sizeof *p->kinds);
    for (i = 0; i < kinds->n; i++) {
        p->nkinds = i + 1;
        if (profile_kind(pp, kinds->values[i], &p->kinds[i], i) != 0)
            return -1;
        for (j = 0; j < i; j++) {
            if (strcmp(p->kinds[j].name, p->kinds[i].name) == 0 ||
                strcmp(p->kinds[j].folder, p->kinds[i].folder) == 0)
                return profile_fail(pp, kinds->values[i],
                                    "kinds[%zu]: name or folder repeats kinds[%zu]", i, j);
        }
    }
    /* References must name kinds of this profile. */
    for (i = 0; i < p->nkinds; i++) {
        for (j = 0; j < p->kinds[i].nrefs; j++) {
            if (profile_kind_by_name(p, p->kinds[i].refs[j].kind) == NULL) {
                const struct ynode *r = ytree_get(kinds->values[i], "refs");

                return profile_fail(pp, ytree_get(r->values[j], "kind"),
                                    "kinds[%zu].refs[%zu].kind: no kind named \"%s\" in this profile",
                                    i, j, p->kinds[i].refs[j].kind);
            }
        }
    }
    return 0;
}

/* Build a profile from a parsed tree; takes root. */
static int
profile_from_tree(const char *name, struct ynode *root, struct profile **out,
                  char **err)
{
    struct profile_parser pp = { .name = name, .err = err };
    struct profile *p;

    p = xcalloc(1, sizeof *p);
    p->path = xstrdup(name);
    if (profile_parse_root(&pp, root, p) != 0) {
        ytree_free(root);
        profile_free(p);
        return -1;
    }
    ytree_free(root);
    *out = p;
    return 0;
}

/* Load the profile at path. */
static int
profile_load_path(const char *path, struct profile **out, char **err)
{
    struct ynode *root = NULL;

    if (ytree_load_file(path, &root, err) != 0)
        return -1;
    return profile_from_tree(path, root, out, err);
}

int
profile_parse(const char *name, const char *data, size_t len,
              struct profile **out, char **err)
{
    struct ynode *root = NULL;

    *out = NULL;
    if (ytree_parse(name, data, len, &root, err) != 0)
        return -1;
    return profile_from_tree(name, root, out, err);
}

/* True if path is a regular file. */
static bool
profile_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

#ifdef GITSYNCD_BUILD_DIR
/* True if this program runs from the build tree it was built in. */
static bool
profile_in_build_tree(void)
{
    char exe[PATH_MAX], *slash, *build;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    bool same;

    if (n <= 0)
        return false;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    build = realpath(GITSYNCD_BUILD_DIR, NULL);
    same = build != NULL && strcmp(build, exe) == 0;
    free(build);
    return same;
}
#endif

int
profile_load(const char *name_or_path, const char *const *dirs,
             struct profile **out, char **err)
{
    struct buf tried;
    const char *env, *p, *colon;
    char *dir, *path;
    size_t i;

    *out = NULL;
    if (strchr(name_or_path, '/') != NULL || str_endswith(name_or_path, ".yaml"))
        return profile_load_path(name_or_path, out, err);
    buf_init(&tried);
    buf_adds(&tried, "");
    for (i = 0; dirs != NULL && dirs[i] != NULL; i++) {
        path = xasprintf("%s/%s.yaml", dirs[i], name_or_path);
        if (profile_exists(path))
            goto found;
        buf_printf(&tried, " %s", dirs[i]);
        free(path);
    }
    env = getenv("GITSYNCD_PROFILE_PATH");
    for (p = env; p != NULL && *p != '\0'; p = colon != NULL ? colon + 1 : NULL) {
        colon = strchr(p, ':');
        dir = colon != NULL ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
        path = xasprintf("%s/%s.yaml", dir, name_or_path);
        buf_printf(&tried, " %s", dir);
        free(dir);
        if (profile_exists(path))
            goto found;
        free(path);
    }
#ifdef GITSYNCD_BUILD_DIR
    /* Not installed, run from its build tree: the source tree's profiles. */
    if (profile_in_build_tree()) {
        path = xasprintf("%s/%s.yaml", GITSYNCD_SOURCE_PROFILES_DIR, name_or_path);
        if (profile_exists(path))
            goto found;
        buf_printf(&tried, " %s", GITSYNCD_SOURCE_PROFILES_DIR);
        free(path);
    }
#endif
    path = xasprintf("%s/%s.yaml", GITSYNCD_PROFILES_DIR, name_or_path);
    if (profile_exists(path))
        goto found;
    buf_printf(&tried, " %s", GITSYNCD_PROFILES_DIR);
    free(path);
    set_error(err, "profile \"%s\" not found (looked in:%s); set GITSYNCD_PROFILE_PATH "
                   "to a directory of profiles, or give the profile file's path "
                   "(./%s.yaml)", name_or_path, tried.data, name_or_path);
    buf_free(&tried);
    return -1;
found:
    buf_free(&tried);
    i = (size_t)profile_load_path(path, out, err);
    free(path);
    return (int)i;
}

const struct profile_kind *
profile_kind_by_name(const struct profile *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->nkinds; i++) {
        if (strcmp(p->kinds[i].name, name) == 0)
            return &p->kinds[i];
    }
    return NULL;
}

const struct profile_kind *
profile_kind_by_folder(const struct profile *p, const char *folder)
{
    size_t i;

    for (i = 0; i < p->nkinds; i++) {
        if (strcmp(p->kinds[i].folder, folder) == 0)
            return &p->kinds[i];
    }
    return NULL;
}

bool
profile_slug_valid(const struct profile *p, const char *slug)
{
    regex_t re;
    bool ok;

    /* glibc's regexec locks the pattern: one may serve every thread. */
    if (p->slug_re != NULL)
        return regexec(p->slug_re, slug, 0, NULL, 0) == 0;
    if (regcomp(&re, p->slug_pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    ok = regexec(&re, slug, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

const char *
profile_type_name(enum profile_type t)
{
    return profile_type_names[t];
}

bool
profile_write_allows(const struct profile_write *w, const char *field)
{
    return !w->restricted || profile_in(w->fields, w->nfields, field);
}

const char *
profile_git_name(const struct profile_kind *k, const char *field)
{
    size_t i;

    for (i = 0; i < k->nrefs; i++) {
        if (strcmp(k->refs[i].field, field) == 0)
            return k->refs[i].as;
    }
    return field;
}
