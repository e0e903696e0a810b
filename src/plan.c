/* plan: what merging a request would do to the platform; never changes it. */
#include "autoconfig.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "gitsyncd/gitref.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/plan.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

/* Rows of a comment before it says "and N more" (hosts cap comments at 64 KiB). */
#define PLAN_MD_ITEMS 200
#define PLAN_MD_ERRORS 100

/* What one plan works with. */
struct plan_ctx {
    const struct config *cfg;
    const struct config_workspace *ws;
    struct profile *profile;
    const char **folders;
    struct gitstore *gs;
    struct platform *pl;
    struct platform_snapshot *snap;
    const char *prefix;        /* put before folder/slug.yaml in paths */
    struct gitstore_entry *base, *target, *head;
    size_t nbase, ntarget, nhead;
};

const char *
plan_action_name(enum plan_action a)
{
    switch (a) {
    case PLAN_CREATE: return "create";
    case PLAN_UPDATE: return "update";
    case PLAN_DELETE: return "delete";
    case PLAN_UNCHANGED: return "unchanged";
    }
    return "?";
}

static char *
plan_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

/* Load the profile, open the mirror and the platform client. */
static int
plan_open(struct plan_ctx *c, char **err)
{
    struct gitstore_opts opts;
    const char *dirs[3];
    char *cfgdir = NULL;
    size_t i, nd = 0;
    int rc;

    if (c->cfg->profiles_dir != NULL)
        dirs[nd++] = c->cfg->profiles_dir;
    if (c->cfg->path != NULL) {
        cfgdir = plan_dirname(c->cfg->path);
        dirs[nd++] = cfgdir;
    }
    dirs[nd] = NULL;
    rc = profile_load(c->ws->platform.profile, dirs, &c->profile, err);
    free(cfgdir);
    if (rc != 0)
        return -1;
    c->folders = xcalloc(c->profile->nkinds + 1, sizeof *c->folders);
    for (i = 0; i < c->profile->nkinds; i++)
        c->folders[i] = c->profile->kinds[i].folder;
    memset(&opts, 0, sizeof opts);
    opts.state_dir = c->cfg->state_dir;
    opts.workspace = c->ws->name;
    opts.git = &c->ws->git;
    opts.folders = c->folders;
    opts.nfolders = c->profile->nkinds;
    if (gitstore_open(&opts, &c->gs, err) != 0)
        return -1;
    c->pl = platform_new(c->profile, &c->ws->platform, c->ws->name);
    return 0;
}

static void
plan_close(struct plan_ctx *c)
{
    platform_snapshot_free(c->snap);
    platform_free(c->pl);
    gitstore_free(c->gs);
    gitstore_entries_free(c->base, c->nbase);
    gitstore_entries_free(c->target, c->ntarget);
    gitstore_entries_free(c->head, c->nhead);
    free(c->folders);
    profile_free(c->profile);
}

static int
plan_entry_cmp(const void *a, const void *b)
{
    const struct gitstore_entry *x = a, *y = b;
    int d = strcmp(x->folder, y->folder);

    return d != 0 ? d : strcmp(x->slug, y->slug);
}

/* The entry for folder/slug in a sorted list, or NULL. */
static const struct gitstore_entry *
plan_find(const struct gitstore_entry *v, size_t n, const char *folder,
          const char *slug)
{
    struct gitstore_entry key;

    key.folder = (char *)folder;
    key.slug = (char *)slug;
    return n > 0 ? bsearch(&key, v, n, sizeof *v, plan_entry_cmp) : NULL;
}

/* Decode a blob; NULL if it does not decode. */
static json_t *
plan_doc(struct plan_ctx *c, const git_oid *blob)
{
    json_t *doc = NULL;
    char *data = NULL, *err = NULL;
    size_t len;

    if (gitstore_read_blob(c->gs, blob, &data, &len, &err) == 0)
        resource_decode("base", data, len, &doc, &err);
    free(data);
    free(err);
    return doc;
}

static void
plan_add_error(struct plan *p, const char *path, int line, int col,
               const char *msg)
{
    struct plan_error *e;

    p->errors = xreallocarray(p->errors, p->nerrors + 1, sizeof *p->errors);
    e = &p->errors[p->nerrors++];
    e->path = xstrdup(path);
    e->line = line;
    e->col = col;
    e->message = xstrdup(msg);
}

/* Print-style decode error "name:line:col: msg" into an error entry. */
static void
plan_decode_error(struct plan *p, const char *path, const char *err)
{
    size_t n = strlen(path);
    int line = 1, col = 1, used = 0;

    if (strncmp(err, path, n) == 0 && err[n] == ':' &&
        sscanf(err + n + 1, "%d:%d: %n", &line, &col, &used) == 2 && used > 0)
        plan_add_error(p, path, line, col, err + n + 1 + used);
    else
        plan_add_error(p, path, 1, 1, err);
}

/* True if the merged tree (target with the request's changes) holds kind/slug. */
static bool
plan_merged_has(struct plan_ctx *c, const struct profile_kind *k, const char *slug)
{
    const struct gitstore_entry *b = plan_find(c->base, c->nbase, k->folder, slug);
    const struct gitstore_entry *h = plan_find(c->head, c->nhead, k->folder, slug);
    bool changed = (b == NULL) != (h == NULL) || (b != NULL && !git_oid_equal(&b->blob, &h->blob));

    if (changed)
        return h != NULL;
    return plan_find(c->target, c->ntarget, k->folder, slug) != NULL;
}

/* Validate the request's version of a file; its document, or NULL. */
static json_t *
plan_check_file(struct plan_ctx *c, struct plan *p, const struct profile_kind *k,
                const struct gitstore_entry *h, const char *path)
{
    struct resource_marks marks = { NULL, 0 };
    const struct resource_pos *pos;
    const struct profile_kind *tk;
    const char *key, *target;
    json_t *doc = NULL;
    char *data = NULL, *err = NULL, *msg;
    size_t len, i;

    if (gitstore_read_blob(c->gs, &h->blob, &data, &len, &err) != 0) {
        plan_add_error(p, path, 1, 1, err);
        goto out;
    }
    if (resource_decode_marks(path, data, len, &doc, &marks, &err) != 0) {
        plan_decode_error(p, path, err);
        goto out;
    }
    if (resource_validate_key(c->profile, k, h->slug, doc, &key, &err) != 0) {
        pos = key != NULL ? resource_marks_find(&marks, key) : NULL;
        plan_add_error(p, path, pos ? pos->line : 1, pos ? pos->col : 1, err);
        json_decref(doc);
        doc = NULL;
        goto out;
    }
    for (i = 0; i < k->nrefs; i++) {
        target = json_string_value(json_object_get(doc, k->refs[i].as));
        tk = profile_kind_by_name(c->profile, k->refs[i].kind);
        if (target == NULL || tk == NULL || plan_merged_has(c, tk, target))
            continue;
        pos = resource_marks_find(&marks, k->refs[i].as);
        msg = xasprintf("%s: no %s \"%s\" in the merged tree", k->refs[i].as, k->refs[i].kind, target);
        plan_add_error(p, path, pos ? pos->vline : 1, pos ? pos->vcol : 1, msg);
        free(msg);
        json_decref(doc);
        doc = NULL;
        goto out;
    }
out:
    resource_marks_free(&marks);
    free(data);
    free(err);
    return doc;
}

static int
plan_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The top-level keys whose values differ between two documents. */
static void
plan_diff_fields(struct plan_item *it, const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)a, key, v) {
        if (!json_equal(v, json_object_get(b, key))) {
            it->fields = xreallocarray(it->fields, it->nfields + 1, sizeof *it->fields);
            it->fields[it->nfields++] = xstrdup(key);
        }
    }
    json_object_foreach((json_t *)b, key, v) {
        if (json_object_get(a, key) == NULL) {
            it->fields = xreallocarray(it->fields, it->nfields + 1, sizeof *it->fields);
            it->fields[it->nfields++] = xstrdup(key);
        }
    }
    if (it->nfields > 1)
        qsort(it->fields, it->nfields, sizeof *it->fields, plan_str_cmp);
}

/* Plan one changed resource (b: merge base's version, h: the request's). */
static void
plan_one(struct plan_ctx *c, struct plan *p, const struct profile_kind *k,
         const char *slug, const struct gitstore_entry *b,
         const struct gitstore_entry *h)
{
    const struct platform_object *o = platform_snapshot_find_slug(c->snap, k, slug);
    struct plan_item it;
    json_t *doc = NULL, *pdoc = NULL, *bdoc = NULL;
    char *path, *err = NULL;

    path = xasprintf("%s%s/%s.yaml", c->prefix, k->folder, slug);
    if (h != NULL) {
        doc = plan_check_file(c, p, k, h, path);
        if (doc == NULL) {
            free(path);
            return;
        }
    }
    memset(&it, 0, sizeof it);
    it.kind = xstrdup(k->name);
    it.slug = xstrdup(slug);
    it.path = path;
    if (o != NULL) {
        pdoc = platform_to_git(k, o->raw, c->snap, &err);
        if (pdoc == NULL) {
            log_warn("plan: cannot read the platform's resource", "workspace", c->ws->name,
                     "path", path, "error", err);
            free(err);
        }
    }
    if (h == NULL) {
        it.action = o != NULL ? PLAN_DELETE : PLAN_UNCHANGED;
    } else if (o == NULL) {
        it.action = PLAN_CREATE;
    } else if (pdoc == NULL) {
        it.action = PLAN_UPDATE;
    } else {
        plan_diff_fields(&it, doc, pdoc);
        it.action = it.nfields > 0 ? PLAN_UPDATE : PLAN_UNCHANGED;
    }
    /* Did the platform move away from what the request started from? */
    if (b != NULL)
        bdoc = plan_doc(c, &b->blob);
    if (b == NULL)
        it.platform_changed = o != NULL;
    else if (o == NULL)
        it.platform_changed = true;
    else
        it.platform_changed = bdoc != NULL && pdoc != NULL && !json_equal(bdoc, pdoc);
    switch (it.action) {
    case PLAN_CREATE: p->creates++; break;
    case PLAN_UPDATE: p->updates++; break;
    case PLAN_DELETE: p->deletes++; break;
    case PLAN_UNCHANGED: p->unchanged++; break;
    }
    if (it.platform_changed)
        p->drifted++;
    p->items = xreallocarray(p->items, p->nitems + 1, sizeof *p->items);
    p->items[p->nitems++] = it;
    json_decref(doc);
    json_decref(pdoc);
    json_decref(bdoc);
}

/* Walk base and head (both sorted) and plan every resource that differs. */
static int
plan_compute(struct plan_ctx *c, struct plan *p, char **err)
{
    const struct profile_kind *k;
    const struct gitstore_entry *b, *h;
    size_t i = 0, j = 0;
    int d;

    if (platform_snapshot(c->pl, &c->snap, err) != PLATFORM_OK)
        return -1;
    while (i < c->nbase || j < c->nhead) {
        b = i < c->nbase ? &c->base[i] : NULL;
        h = j < c->nhead ? &c->head[j] : NULL;
        d = b == NULL ? 1 : h == NULL ? -1 : plan_entry_cmp(b, h);
        if (d < 0) {
            h = NULL;
            i++;
        } else if (d > 0) {
            b = NULL;
            j++;
        } else {
            i++;
            j++;
            if (git_oid_equal(&b->blob, &h->blob))
                continue;
        }
        k = profile_kind_by_folder(c->profile, b != NULL ? b->folder : h->folder);
        if (k != NULL)
            plan_one(c, p, k, b != NULL ? b->slug : h->slug, b, h);
    }
    p->max_deletes = c->ws->sync.max_deletes;
    p->guard = p->max_deletes >= 0 && p->deletes > (size_t)p->max_deletes;
    log_info("plan made", "workspace", c->ws->name, "source", p->source,
             "head", p->head[0] ? p->head : "-", "ok", plan_ok(p) ? "yes" : "no");
    return 0;
}

static void
plan_init(struct plan *p, const struct config_workspace *ws, const char *source)
{
    memset(p, 0, sizeof *p);
    p->workspace = xstrdup(ws->name);
    p->source = xstrdup(source);
    p->max_deletes = ws->sync.max_deletes;
}

int
plan_ref(const struct config *cfg, const struct config_workspace *ws,
         const char *ref, struct plan *out, char **err)
{
    struct plan_ctx c;
    git_oid head, target, base;
    bool exists, found = false;
    enum gitstore_result r;
    int rc = -1;

    plan_init(out, ws, ref);
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.ws = ws;
    c.prefix = ws->git.path != NULL ? ws->git.path : "";
    if (plan_open(&c, err) != 0)
        goto out;
    r = gitstore_fetch(c.gs, &target, &exists, err);
    if (r != GITSTORE_OK)
        goto out;
    if (gitref_fetch(c.gs, &ws->git, ref, &head, err) != 0)
        goto out;
    git_oid_tostr(out->head, sizeof out->head, &head);
    if (exists) {
        git_oid_tostr(out->target, sizeof out->target, &target);
        if (gitref_merge_base(c.gs, &head, &target, &base, &found, err) != 0)
            goto out;
        if (found)
            git_oid_tostr(out->base, sizeof out->base, &base);
    }
    if (gitstore_read_tree(c.gs, found ? &base : NULL, &c.base, &c.nbase, err) != 0 ||
        gitstore_read_tree(c.gs, exists ? &target : NULL, &c.target, &c.ntarget, err) != 0 ||
        gitstore_read_tree(c.gs, &head, &c.head, &c.nhead, err) != 0)
        goto out;
    rc = plan_compute(&c, out, err);
out:
    if (c.gs != NULL && out->head[0] != '\0')
        gitref_forget(c.gs, ref);
    plan_close(&c);
    return rc;
}

/* The resource files of a directory, written as blobs into the mirror. */
static int
plan_read_dir(struct plan_ctx *c, const char *dir, char **err)
{
    struct dirent *de;
    struct stat st;
    DIR *d;
    char *folder, *path, *data;
    size_t i, len, n;

    for (i = 0; i < c->profile->nkinds; i++) {
        folder = xasprintf("%s/%s", dir, c->profile->kinds[i].folder);
        d = opendir(folder);
        while (d != NULL && (de = readdir(d)) != NULL) {
            n = strlen(de->d_name);
            if (de->d_name[0] == '.' || n <= 5 || !str_endswith(de->d_name, ".yaml"))
                continue;
            path = xasprintf("%s/%s", folder, de->d_name);
            if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
                read_file(path, RESOURCE_MAX_FILE, &data, &len, err) != 0) {
                free(path);
                continue;
            }
            free(path);
            c->head = xreallocarray(c->head, c->nhead + 1, sizeof *c->head);
            c->head[c->nhead].folder = xstrdup(c->profile->kinds[i].folder);
            c->head[c->nhead].slug = xstrndup(de->d_name, n - 5);
            if (gitstore_write_blob(c->gs, data, len, &c->head[c->nhead].blob, err) != 0) {
                free(c->head[c->nhead].folder);
                free(c->head[c->nhead].slug);
                free(data);
                closedir(d);
                free(folder);
                return -1;
            }
            c->nhead++;
            free(data);
        }
        if (d != NULL)
            closedir(d);
        free(folder);
    }
    if (c->nhead > 1)
        qsort(c->head, c->nhead, sizeof *c->head, plan_entry_cmp);
    if (err != NULL && *err != NULL) {
        free(*err);
        *err = NULL;
    }
    return 0;
}

int
plan_dir(const struct config *cfg, const struct config_workspace *ws,
         const char *dir, struct plan *out, char **err)
{
    struct plan_ctx c;
    git_oid target;
    bool exists;
    char *prefix;
    int rc = -1;

    plan_init(out, ws, dir);
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.ws = ws;
    prefix = xasprintf("%s/", dir);
    c.prefix = prefix;
    if (plan_open(&c, err) != 0)
        goto out;
    if (gitstore_fetch(c.gs, &target, &exists, err) != GITSTORE_OK)
        goto out;
    if (exists) {
        git_oid_tostr(out->target, sizeof out->target, &target);
        git_oid_tostr(out->base, sizeof out->base, &target);
    }
    if (gitstore_read_tree(c.gs, exists ? &target : NULL, &c.base, &c.nbase, err) != 0 ||
        gitstore_read_tree(c.gs, exists ? &target : NULL, &c.target, &c.ntarget, err) != 0 ||
        plan_read_dir(&c, dir, err) != 0)
        goto out;
    rc = plan_compute(&c, out, err);
out:
    plan_close(&c);
    free(prefix);
    return rc;
}

void
plan_free(struct plan *p)
{
    size_t i, j;

    for (i = 0; i < p->nitems; i++) {
        free(p->items[i].kind);
        free(p->items[i].slug);
        free(p->items[i].path);
        for (j = 0; j < p->items[i].nfields; j++)
            free(p->items[i].fields[j]);
        free(p->items[i].fields);
    }
    free(p->items);
    for (i = 0; i < p->nerrors; i++) {
        free(p->errors[i].path);
        free(p->errors[i].message);
    }
    free(p->errors);
    free(p->workspace);
    free(p->source);
    memset(p, 0, sizeof *p);
}

bool
plan_ok(const struct plan *p)
{
    return p->nerrors == 0 && !p->guard;
}

/* ---- output ----------------------------------------------------------- */

char *
plan_summary(const struct plan *p)
{
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "%zu to create, %zu to update, %zu to delete", p->creates, p->updates, p->deletes);
    if (p->nerrors > 0)
        buf_printf(&b, "; %zu invalid file%s", p->nerrors, p->nerrors == 1 ? "" : "s");
    if (p->guard)
        buf_printf(&b, "; %zu deletions exceed max_deletes %ld", p->deletes, p->max_deletes);
    if (p->drifted > 0)
        buf_printf(&b, "; %zu changed on the platform since the base", p->drifted);
    return buf_detach(&b);
}

void
plan_print(FILE *f, const struct plan *p)
{
    const struct plan_item *it;
    char *sum;
    size_t i, j;

    fprintf(f, "plan for workspace %s: %s", p->workspace, p->source);
    if (p->head[0] != '\0')
        fprintf(f, " at %.12s", p->head);
    if (p->base[0] != '\0')
        fprintf(f, ", base %.12s", p->base);
    fputc('\n', f);
    for (i = 0; i < p->nitems; i++) {
        it = &p->items[i];
        if (it->action == PLAN_UNCHANGED && !it->platform_changed)
            continue;
        fprintf(f, "  %-9s %s/%s (%s)", plan_action_name(it->action), it->kind, it->slug, it->path);
        for (j = 0; j < it->nfields; j++)
            fprintf(f, "%s%s", j == 0 ? ": " : ", ", it->fields[j]);
        fputc('\n', f);
    }
    for (i = 0; i < p->nerrors; i++)
        fprintf(f, "%s:%d:%d: error: %s\n", p->errors[i].path, p->errors[i].line,
                p->errors[i].col, p->errors[i].message);
    for (i = 0; i < p->nitems; i++) {
        if (p->items[i].platform_changed)
            fprintf(f, "  warning: %s/%s changed on the platform since the request's base\n",
                    p->items[i].kind, p->items[i].slug);
    }
    if (p->guard)
        fprintf(f, "  guard: %zu deletions exceed max_deletes %ld: the sync would refuse them\n",
                p->deletes, p->max_deletes);
    sum = plan_summary(p);
    fprintf(f, "%s: %s\n", plan_ok(p) ? "ok" : "FAILED", sum);
    free(sum);
}

json_t *
plan_json(const struct plan *p)
{
    json_t *o = json_object(), *items = json_array(), *errors = json_array(), *it, *fields;
    size_t i, j;

    json_object_set_new(o, "workspace", json_string(p->workspace));
    json_object_set_new(o, "source", json_string(p->source));
    json_object_set_new(o, "head", p->head[0] ? json_string(p->head) : json_null());
    json_object_set_new(o, "target", p->target[0] ? json_string(p->target) : json_null());
    json_object_set_new(o, "base", p->base[0] ? json_string(p->base) : json_null());
    json_object_set_new(o, "ok", json_boolean(plan_ok(p)));
    json_object_set_new(o, "creates", json_integer((json_int_t)p->creates));
    json_object_set_new(o, "updates", json_integer((json_int_t)p->updates));
    json_object_set_new(o, "deletes", json_integer((json_int_t)p->deletes));
    json_object_set_new(o, "unchanged", json_integer((json_int_t)p->unchanged));
    json_object_set_new(o, "max_deletes", json_integer(p->max_deletes));
    json_object_set_new(o, "guard", json_boolean(p->guard));
    for (i = 0; i < p->nitems; i++) {
        it = json_object();
        json_object_set_new(it, "kind", json_string(p->items[i].kind));
        json_object_set_new(it, "slug", json_string(p->items[i].slug));
        json_object_set_new(it, "path", json_string(p->items[i].path));
        json_object_set_new(it, "action", json_string(plan_action_name(p->items[i].action)));
        fields = json_array();
        for (j = 0; j < p->items[i].nfields; j++)
            json_array_append_new(fields, json_string(p->items[i].fields[j]));
        json_object_set_new(it, "fields", fields);
        json_object_set_new(it, "platform_changed", json_boolean(p->items[i].platform_changed));
        json_array_append_new(items, it);
    }
    json_object_set_new(o, "changes", items);
    for (i = 0; i < p->nerrors; i++) {
        it = json_object();
        json_object_set_new(it, "path", json_string(p->errors[i].path));
        json_object_set_new(it, "line", json_integer(p->errors[i].line));
        json_object_set_new(it, "col", json_integer(p->errors[i].col));
        json_object_set_new(it, "message", json_string(p->errors[i].message));
        json_array_append_new(errors, it);
    }
    json_object_set_new(o, "errors", errors);
    return o;
}

/* Text that Markdown shows as written: no table breaks, links or HTML. */
static void
plan_md(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '\n':
        case '\r':
        case '\t':
            buf_addc(b, ' ');
            break;
        case '<': buf_adds(b, "&lt;"); break;
        case '>': buf_adds(b, "&gt;"); break;
        case '&': buf_adds(b, "&amp;"); break;
        case '|': case '`': case '*': case '_': case '[': case ']': case '\\':
        case '#': case '!': case '~': case '@':
            buf_addc(b, '\\');
            buf_addc(b, *s);
            break;
        default:
            buf_addc(b, *s);
        }
    }
}

char *
plan_markdown(const struct plan *p)
{
    const struct plan_item *it;
    struct buf b;
    char *sum;
    size_t i, j, shown = 0;

    buf_init(&b);
    buf_adds(&b, "### gitsyncd plan for ");
    plan_md(&b, p->workspace);
    buf_printf(&b, ": %s\n\n", plan_ok(p) ? "ok" : "**failed**");
    sum = plan_summary(p);
    plan_md(&b, sum);
    free(sum);
    if (p->head[0] != '\0')
        buf_printf(&b, " (head %.12s%s%.12s)", p->head, p->base[0] ? ", base " : "", p->base);
    buf_adds(&b, "\n\n");
    if (p->creates + p->updates + p->deletes + p->drifted > 0) {
        buf_adds(&b, "| change | resource | file | fields |\n|---|---|---|---|\n");
        for (i = 0; i < p->nitems; i++) {
            it = &p->items[i];
            if (it->action == PLAN_UNCHANGED && !it->platform_changed)
                continue;
            if (shown++ == PLAN_MD_ITEMS) {
                buf_printf(&b, "| ... | and %zu more | | |\n", p->nitems - i);
                break;
            }
            buf_printf(&b, "| %s%s | ", plan_action_name(it->action),
                       it->platform_changed ? " (changed on the platform since the base)" : "");
            plan_md(&b, it->kind);
            buf_addc(&b, ' ');
            plan_md(&b, it->slug);
            buf_adds(&b, " | ");
            plan_md(&b, it->path);
            buf_adds(&b, " | ");
            for (j = 0; j < it->nfields; j++) {
                if (j > 0)
                    buf_adds(&b, ", ");
                plan_md(&b, it->fields[j]);
            }
            buf_adds(&b, " |\n");
        }
        buf_addc(&b, '\n');
    }
    if (p->nerrors > 0) {
        buf_adds(&b, "Invalid files:\n\n");
        for (i = 0; i < p->nerrors && i < PLAN_MD_ERRORS; i++) {
            buf_adds(&b, "- ");
            plan_md(&b, p->errors[i].path);
            buf_printf(&b, ":%d:%d: ", p->errors[i].line, p->errors[i].col);
            plan_md(&b, p->errors[i].message);
            buf_addc(&b, '\n');
        }
        if (p->nerrors > PLAN_MD_ERRORS)
            buf_printf(&b, "- and %zu more\n", p->nerrors - PLAN_MD_ERRORS);
        buf_addc(&b, '\n');
    }
    if (p->guard)
        buf_printf(&b, "The sync would refuse these deletions: %zu exceed max\\_deletes %ld.\n\n",
                   p->deletes, p->max_deletes);
    buf_adds(&b, "Nothing was changed on the platform: this is what merging would do.\n");
    return buf_detach(&b);
}
