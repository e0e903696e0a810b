/* config: the YAML configuration loaded into typed structs, with defaults. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gitsyncd/config.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"
#include "gitsyncd/ytree.h"

#define CONFIG_MAX_SECRET (64 * 1024)

static unsigned long config_generation;

enum config_type {
    CT_STRING,   /* char * */
    CT_SECRET,   /* char *; also accepts KEY_file */
    CT_BOOL,     /* bool */
    CT_INT,      /* int */
    CT_LONG,     /* long */
    CT_COUNT,    /* size_t */
    CT_DURATION, /* long long milliseconds */
    CT_SIZE,     /* unsigned long long bytes */
    CT_DOUBLE,   /* double */
    CT_ENUM,     /* int-sized enum; names in enums[] */
    CT_MAP,      /* a nested struct at off, fields in sub */
    CT_WORKSPACES,
    CT_NETS,     /* trusted_proxies: a sequence of addresses or address/prefix */
};

struct config_field {
    const char *key;
    enum config_type type;
    size_t off;
    bool required;
    double min, max;
    const char *const *enums;
    const struct config_field *sub;
};

struct config_parser {
    const char *name;
    char **err;
    struct config *cfg;
};

static const char *const config_level_names[] = { "debug", "info", "warn", "error", NULL };
static const char *const config_format_names[] = { "logfmt", "json", NULL };
static const char *const config_host_names[] = {
    "auto", "github", "gitlab", "bitbucket", "bitbucket-server", "gitea", NULL,
};
static const char *const config_conflict_names[] = { "platform", "git", "branch", NULL };
static const char *const config_write_names[] = { "push", "pull_request", "auto", NULL };
static const char *const config_rejected_names[] = { "keep", "revert", NULL };

#define F(key, type, st, member) { key, type, offsetof(st, member), false, 0, 0, NULL, NULL }
#define FR(key, type, st, member) { key, type, offsetof(st, member), true, 0, 0, NULL, NULL }
#define FN(key, type, st, member, lo, hi) { key, type, offsetof(st, member), false, lo, hi, NULL, NULL }
#define FE(key, st, member, names) { key, CT_ENUM, offsetof(st, member), false, 0, 0, names, NULL }
#define FM(key, st, member, sub, req) { key, CT_MAP, offsetof(st, member), req, 0, 0, NULL, sub }
#define FEND { NULL, CT_STRING, 0, false, 0, 0, NULL, NULL }

static const struct config_field config_log_fields[] = {
    FE("level", struct config, log_level, config_level_names),
    FE("format", struct config, log_format, config_format_names),
    FEND,
};

static const struct config_field config_identity_fields[] = {
    FR("name", CT_STRING, struct config_identity, name),
    FR("email", CT_STRING, struct config_identity, email),
    FEND,
};

static const struct config_field config_platform_fields[] = {
    FR("profile", CT_STRING, struct config_platform, profile),
    FR("url", CT_STRING, struct config_platform, url),
    FR("token", CT_SECRET, struct config_platform, token),
    F("webhook_secret", CT_SECRET, struct config_platform, webhook_secret),
    F("insecure_no_signature", CT_BOOL, struct config_platform, insecure_no_signature),
    FN("connect_timeout", CT_DURATION, struct config_platform, connect_timeout_ms, 1, 600000),
    FN("timeout", CT_DURATION, struct config_platform, timeout_ms, 1, 3600000),
    FN("max_retries", CT_INT, struct config_platform, max_retries, 0, 100),
    FN("list_timeout", CT_DURATION, struct config_platform, list_timeout_ms, 1, 86400000),
    FN("list_max_items", CT_COUNT, struct config_platform, list_max_items, 1, 1e9),
    F("ca_file", CT_STRING, struct config_platform, ca_file),
    F("tls_verify", CT_BOOL, struct config_platform, tls_verify),
    F("actor", CT_STRING, struct config_platform, actor),
    FEND,
};

static const struct config_field config_git_api_fields[] = {
    F("url", CT_STRING, struct config_git_api, url),
    F("token", CT_SECRET, struct config_git_api, token),
    F("username", CT_STRING, struct config_git_api, username),
    FEND,
};

static const struct config_field config_git_fields[] = {
    FR("url", CT_STRING, struct config_git, url),
    F("branch", CT_STRING, struct config_git, branch),
    F("path", CT_STRING, struct config_git, path),
    FE("host", struct config_git, host, config_host_names),
    F("webhook_secret", CT_SECRET, struct config_git, webhook_secret),
    F("allow_sha1", CT_BOOL, struct config_git, allow_sha1),
    F("insecure_no_signature", CT_BOOL, struct config_git, insecure_no_signature),
    F("username", CT_STRING, struct config_git, username),
    F("password", CT_SECRET, struct config_git, password),
    F("ssh_key", CT_STRING, struct config_git, ssh_key),
    F("ssh_public_key", CT_STRING, struct config_git, ssh_public_key),
    F("ssh_passphrase", CT_SECRET, struct config_git, ssh_passphrase),
    F("known_hosts", CT_STRING, struct config_git, known_hosts),
    F("host_key_fingerprint", CT_STRING, struct config_git, host_key_fingerprint),
    F("insecure_skip_host_key_check", CT_BOOL, struct config_git, insecure_skip_host_key_check),
    F("ca_file", CT_STRING, struct config_git, ca_file),
    F("tls_verify", CT_BOOL, struct config_git, tls_verify),
    FN("timeout", CT_DURATION, struct config_git, timeout_ms, 1, 3600000),
    FM("author", struct config_git, author, config_identity_fields, false),
    FM("committer", struct config_git, committer, config_identity_fields, false),
    FM("api", struct config_git, api, config_git_api_fields, false),
    FE("write", struct config_git, write, config_write_names),
    FE("rejected", struct config_git, rejected, config_rejected_names),
    FEND,
};

static const struct config_field config_sync_fields[] = {
    FN("interval", CT_DURATION, struct config_sync, interval_ms, 0, 7 * 86400000.0),
    { "conflict", CT_ENUM, offsetof(struct config_sync, conflict), false, 0, 0, config_conflict_names, NULL },
    FN("max_deletes", CT_LONG, struct config_sync, max_deletes, -1, 1000000),
    FN("max_push_retries", CT_INT, struct config_sync, max_push_retries, 0, 100),
    FEND,
};

static const struct config_field config_workspace_fields[] = {
    FR("name", CT_STRING, struct config_workspace, name),
    FM("platform", struct config_workspace, platform, config_platform_fields, true),
    FM("git", struct config_workspace, git, config_git_fields, true),
    FM("sync", struct config_workspace, sync, config_sync_fields, false),
    FEND,
};

static const struct config_field config_cluster_fields[] = {
    FR("database", CT_STRING, struct config_cluster, database),
    F("password", CT_SECRET, struct config_cluster, password),
    F("replica", CT_STRING, struct config_cluster, replica),
    FN("sweep", CT_DURATION, struct config_cluster, sweep_ms, 100, 3600000),
    FN("connect_timeout", CT_DURATION, struct config_cluster, connect_timeout_ms, 100, 600000),
    FEND,
};

static const struct config_field config_top_fields[] = {
    F("listen", CT_STRING, struct config, listen),
    F("admin_listen", CT_STRING, struct config, admin_listen),
    FN("workers", CT_INT, struct config, workers, 1, 256),
    FN("http_threads", CT_INT, struct config, http_threads, 1, 64),
    F("state_dir", CT_STRING, struct config, state_dir),
    F("profiles_dir", CT_STRING, struct config, profiles_dir),
    FN("max_body", CT_SIZE, struct config, max_body, 1024, 1073741824.0),
    FN("request_timeout", CT_DURATION, struct config, request_timeout_ms, 100, 3600000),
    FN("rate_limit", CT_DOUBLE, struct config, rate_limit, 0, 1e6),
    FN("rate_burst", CT_INT, struct config, rate_burst, 1, 1000000),
    FN("dedup_size", CT_COUNT, struct config, dedup_size, 0, 10000000),
    FN("dedup_ttl", CT_DURATION, struct config, dedup_ttl_ms, 0, 30 * 86400000.0),
    FN("max_dirty", CT_COUNT, struct config, max_dirty, 1, 1000000),
    FN("max_connections", CT_INT, struct config, max_connections, 1, 1000000),
    F("hide_workspaces", CT_BOOL, struct config, hide_workspaces),
    { "trusted_proxies", CT_NETS, 0, false, 0, 0, NULL, NULL },
    { "log", CT_MAP, 0, false, 0, 0, NULL, config_log_fields },
    FM("cluster", struct config, cluster, config_cluster_fields, false),
    { "workspaces", CT_WORKSPACES, 0, true, 0, 0, NULL, NULL },
    FEND,
};

static char *config_conninfo_shown(const char *conninfo);
static char *config_conninfo_get(const char *conninfo, const char *keyword);

/* An error at a node's position. */
static int
config_fail(struct config_parser *cp, const struct ynode *n, const char *fmt,
            ...) GS_PRINTF(3, 4);

static int
config_fail(struct config_parser *cp, const struct ynode *n, const char *fmt,
            ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    set_error(cp->err, "%s:%d:%d: %s", cp->name, n != NULL ? n->line : 1,
              n != NULL ? n->col : 1, msg);
    free(msg);
    return -1;
}

/* Expand ${VAR}, ${VAR:-default} and $$ in s; NULL with an error if unset. */
static char *
config_expand(struct config_parser *cp, const struct ynode *n, const char *s)
{
    struct buf b;
    const char *p = s, *end, *colon;
    char *var, *def, *val;

    buf_init(&b);
    buf_adds(&b, "");
    while (*p != '\0') {
        if (p[0] == '$' && p[1] == '$') {
            buf_addc(&b, '$');
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            buf_addc(&b, *p++);
            continue;
        }
        end = strchr(p + 2, '}');
        if (end == NULL) {
            config_fail(cp, n, "unterminated \"${\" in \"%s\" (write $$ for a literal $)", s);
            buf_free(&b);
            return NULL;
        }
        var = xstrndup(p + 2, (size_t)(end - p - 2));
        def = NULL;
        colon = strstr(var, ":-");
        if (colon != NULL) {
            def = xstrdup(colon + 2);
            var[colon - var] = '\0';
        }
        if (var[0] == '\0' || strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(var)) {
            config_fail(cp, n, "bad variable name \"%s\" in \"%s\"", var, s);
            free(var);
            free(def);
            buf_free(&b);
            return NULL;
        }
        val = getenv(var);
        if (val == NULL || (val[0] == '\0' && def != NULL))
            val = def;
        if (val == NULL) {
            config_fail(cp, n, "environment variable %s is not set (use ${%s:-default} for a default)", var, var);
            free(var);
            buf_free(&b);
            return NULL;
        }
        buf_adds(&b, val);
        free(var);
        free(def);
        p = end + 1;
    }
    return buf_detach(&b);
}

/* The scalar text of n after expansion, or NULL with an error. */
static char *
config_scalar(struct config_parser *cp, const struct ynode *n, const char *key)
{
    if (n->type != YNODE_SCALAR) {
        config_fail(cp, n, "%s: expected a scalar, got a %s", key,
                    ytree_type_name(n->type));
        return NULL;
    }
    return config_expand(cp, n, n->scalar);
}

/* Read a secret from a file; warn when others may read it. */
static char *
config_secret_file(struct config_parser *cp, const struct ynode *n,
                   const char *key, const char *path)
{
    struct stat st;
    char *data = NULL, *e = NULL;
    size_t len;

    if (read_file(path, CONFIG_MAX_SECRET, &data, &len, &e) != 0) {
        config_fail(cp, n, "%s_file: cannot read secret: %s", key, e);
        free(e);
        return NULL;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len == 0) {
        config_fail(cp, n, "%s_file: %s is empty", key, path);
        free(data);
        return NULL;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        char mode[8], where[32];

        snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
        snprintf(where, sizeof where, "%d:%d", n->line, n->col);
        log_warn("secret file is readable by group or others; chmod 600 it",
                 "file", path, "mode", mode, "config", cp->name, "at", where);
    }
    return data;
}

/* Suggest the closest known key of fields to key, or NULL. */
static const char *
config_suggest(const struct config_field *fields, const char *key,
               char *buf, size_t size)
{
    const struct config_field *f;
    size_t best = (size_t)-1, d, limit;
    char cand[64];
    int variant;

    for (f = fields; f->key != NULL; f++) {
        for (variant = 0; variant < (f->type == CT_SECRET ? 2 : 1); variant++) {
            snprintf(cand, sizeof cand, variant ? "%s_file" : "%s", f->key);
            d = str_distance(key, cand);
            if (d < best) {
                best = d;
                snprintf(buf, size, "%s", cand);
            }
        }
    }
    limit = strlen(key) / 3 + 1;
    if (limit < 2)
        limit = 2;
    return best <= limit ? buf : NULL;
}

/* Parse a number within [f->min, f->max]. */
static int
config_number(struct config_parser *cp, const struct ynode *n,
              const struct config_field *f, const char *path, const char *s,
              double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
        return config_fail(cp, n, "%s: expected a number, got \"%s\"", path, s);
    if (f->type == CT_INT || f->type == CT_LONG || f->type == CT_COUNT) {
        /* Range first: converting a double beyond long long is undefined
         * (found by tests/fuzz: max_dirty: 0991111...7). */
        if (fabs(v) > 9007199254740992.0 || (f->type == CT_INT && fabs(v) > 2147483647.0))
            return config_fail(cp, n, "%s: %s is out of range", path, s);
        if (v != trunc(v))
            return config_fail(cp, n, "%s: expected a whole number, got \"%s\"", path, s);
    }
    if (f->min != 0 || f->max != 0) {
        if (v < f->min || v > f->max)
            return config_fail(cp, n, "%s: %s is out of range (%g to %g)",
                               path, s, f->min, f->max);
    }
    *out = v;
    return 0;
}

static int config_map(struct config_parser *cp, const struct ynode *map,
                      const struct config_field *fields, void *base,
                      const char *prefix);

/* Parse the workspaces sequence. */
static int
config_workspaces(struct config_parser *cp, const struct ynode *seq)
{
    static const regex_t *re;
    static regex_t re_storage;
    struct config *cfg = cp->cfg;
    struct config_workspace *ws;
    const struct ynode *item, *name_node;
    char prefix[64];
    size_t i, j;

    if (seq->type != YNODE_SEQ)
        return config_fail(cp, seq, "workspaces: expected a sequence, got a %s",
                           ytree_type_name(seq->type));
    if (re == NULL) {
        regcomp(&re_storage, "^[A-Za-z0-9][A-Za-z0-9_.-]*$", REG_EXTENDED | REG_NOSUB);
        re = &re_storage;
    }
    cfg->workspaces = xcalloc(seq->n + 1, sizeof *cfg->workspaces);
    for (i = 0; i < seq->n; i++) {
        item = seq->values[i];
        ws = &cfg->workspaces[cfg->nworkspaces++];
        ws->line = item->line;
        /* Defaults. */
        ws->platform.connect_timeout_ms = 5000;
        ws->platform.timeout_ms = 30000;
        ws->platform.max_retries = 5;
        ws->platform.list_timeout_ms = 600000;
        ws->platform.list_max_items = 1000000;
        ws->platform.tls_verify = true;
        ws->git.tls_verify = true;
        ws->git.timeout_ms = 60000;
        ws->sync.interval_ms = 600000;
        ws->sync.conflict = CONFLICT_PLATFORM;
        ws->sync.max_deletes = 10;
        ws->sync.max_push_retries = 5;
        snprintf(prefix, sizeof prefix, "workspaces[%zu].", i);
        if (item->type != YNODE_MAP)
            return config_fail(cp, item, "workspaces[%zu]: expected a mapping, got a %s",
                               i, ytree_type_name(item->type));
        if (config_map(cp, item, config_workspace_fields, ws, prefix) != 0)
            return -1;
        name_node = ytree_get(item, "name");
        if (regexec(re, ws->name, 0, NULL, 0) != 0)
            return config_fail(cp, name_node, "workspaces[%zu].name: \"%s\" is not a valid name (letters, digits, '_', '.', '-')", i, ws->name);
        for (j = 0; j + 1 < cfg->nworkspaces; j++) {
            if (strcmp(cfg->workspaces[j].name, ws->name) == 0)
                return config_fail(cp, name_node, "duplicate workspace name \"%s\" (first at line %d)",
                                   ws->name, cfg->workspaces[j].line);
        }
        if (strncmp(ws->platform.url, "http://", 7) != 0 &&
            strncmp(ws->platform.url, "https://", 8) != 0)
            return config_fail(cp, ytree_get(ytree_get(item, "platform"), "url"),
                               "workspaces[%zu].platform.url: \"%s\" is not an http:// or https:// URL",
                               i, ws->platform.url);
        if (ws->git.branch == NULL)
            ws->git.branch = xstrdup("main");
        if (ws->git.path == NULL)
            ws->git.path = xstrdup("");
        /* Normalise the sub-path: no leading '/', one trailing '/'. */
        {
            const char *p = ws->git.path;
            char *norm;
            size_t len;

            while (*p == '/')
                p++;
            len = strlen(p);
            while (len > 0 && p[len - 1] == '/')
                len--;
            norm = len == 0 ? xstrdup("") : xasprintf("%.*s/", (int)len, p);
            free(ws->git.path);
            ws->git.path = norm;
        }
        if (ws->git.author.name == NULL) {
            ws->git.author.name = xstrdup("gitsyncd");
            ws->git.author.email = xstrdup("gitsyncd@localhost");
        }
        if (ws->git.committer.name == NULL) {
            ws->git.committer.name = xstrdup(ws->git.author.name);
            ws->git.committer.email = xstrdup(ws->git.author.email);
        }
        if (ws->git.ssh_key != NULL && ws->git.password != NULL)
            return config_fail(cp, ytree_get(item, "git"),
                               "workspaces[%zu].git: give either ssh_key or username/password, not both", i);
        if (ws->git.write != GIT_WRITE_PUSH && ws->git.api.token == NULL)
            return config_fail(cp, ytree_get(ytree_get(item, "git"), "write"),
                               "workspaces[%zu].git.write: %s needs git.api.token (requests are opened through the host's API)",
                               i, config_write_names[ws->git.write]);
        if (ws->platform.actor == NULL)
            ws->platform.actor = xasprintf("%s <%s>", ws->git.author.name,
                                           ws->git.author.email);
    }
    return 0;
}

/* Store one scalar value into base according to f. */
static int
config_store(struct config_parser *cp, const struct ynode *n,
             const struct config_field *f, void *base, const char *path,
             bool from_file)
{
    char *s = NULL, *secret;
    char *slot = (char *)base + f->off;
    long long ms;
    unsigned long long bytes;
    double v = 0;
    size_t i;
    int rc = -1;

    s = config_scalar(cp, n, path);
    if (s == NULL)
        return -1;
    switch (f->type) {
    case CT_STRING:
    case CT_SECRET:
        if (from_file) {
            secret = config_secret_file(cp, n, f->key, s);
            if (secret == NULL)
                goto out;
            free(s);
            s = secret;
        }
        if (f->type == CT_SECRET)
            log_add_secret(s);
        free(*(char **)slot);
        *(char **)slot = s;
        s = NULL;
        break;
    case CT_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
            *(bool *)slot = true;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
            *(bool *)slot = false;
        else {
            config_fail(cp, n, "%s: expected true or false, got \"%s\"", path, s);
            goto out;
        }
        break;
    case CT_INT:
    case CT_LONG:
    case CT_COUNT:
    case CT_DOUBLE:
        if (config_number(cp, n, f, path, s, &v) != 0)
            goto out;
        if (f->type == CT_INT)
            *(int *)slot = (int)v;
        else if (f->type == CT_LONG)
            *(long *)slot = (long)v;
        else if (f->type == CT_COUNT) {
            if (v < 0) {
                config_fail(cp, n, "%s: must not be negative", path);
                goto out;
            }
            *(size_t *)slot = (size_t)v;
        } else
            *(double *)slot = v;
        break;
    case CT_DURATION:
        if (parse_duration_ms(s, &ms) != 0) {
            config_fail(cp, n, "%s: \"%s\" is not a duration (e.g. 500ms, 30s, 10m, 1h)", path, s);
            goto out;
        }
        if ((f->min != 0 || f->max != 0) && (ms != 0 || f->min > 0) &&
            ((double)ms < f->min || (double)ms > f->max)) {
            config_fail(cp, n, "%s: %s is out of range (%gms to %gms)", path, s, f->min, f->max);
            goto out;
        }
        *(long long *)slot = ms;
        break;
    case CT_SIZE:
        if (parse_size(s, &bytes) != 0) {
            config_fail(cp, n, "%s: \"%s\" is not a size (e.g. 512KiB, 1MiB)", path, s);
            goto out;
        }
        if ((double)bytes < f->min || (double)bytes > f->max) {
            config_fail(cp, n, "%s: %s is out of range (1KiB to 1GiB)", path, s);
            goto out;
        }
        *(unsigned long long *)slot = bytes;
        break;
    case CT_ENUM:
        for (i = 0; f->enums[i] != NULL; i++) {
            if (strcmp(s, f->enums[i]) == 0)
                break;
        }
        if (f->enums[i] == NULL) {
            struct buf b;

            buf_init(&b);
            for (i = 0; f->enums[i] != NULL; i++)
                buf_printf(&b, "%s%s", i ? ", " : "", f->enums[i]);
            config_fail(cp, n, "%s: unknown value \"%s\" (one of: %s)", path, s, b.data);
            buf_free(&b);
            goto out;
        }
        *(int *)slot = (int)i;
        break;
    default:
        break;
    }
    rc = 0;
out:
    free(s);
    return rc;
}

/* Parse trusted_proxies: one address or address/prefix, or a sequence. */
static int
config_nets(struct config_parser *cp, const struct ynode *val)
{
    struct config *cfg = cp->cfg;
    const struct ynode *item;
    struct config_net *net;
    char *s, *slash, *end;
    size_t i, n = val->type == YNODE_SEQ ? val->n : 1;
    long prefix;
    int max;

    if (val->type == YNODE_MAP)
        return config_fail(cp, val, "trusted_proxies: expected addresses, got a mapping");
    free(cfg->trusted_proxies);
    cfg->trusted_proxies = xcalloc(n + 1, sizeof *cfg->trusted_proxies);
    cfg->ntrusted_proxies = 0;
    for (i = 0; i < n; i++) {
        item = val->type == YNODE_SEQ ? val->values[i] : val;
        s = config_scalar(cp, item, "trusted_proxies");
        if (s == NULL)
            return -1;
        net = &cfg->trusted_proxies[cfg->ntrusted_proxies];
        slash = strchr(s, '/');
        if (slash != NULL)
            *slash = '\0';
        if (inet_pton(AF_INET, s, net->addr) == 1) {
            net->family = AF_INET;
            max = 32;
        } else if (inet_pton(AF_INET6, s, net->addr) == 1) {
            net->family = AF_INET6;
            max = 128;
        } else {
            config_fail(cp, item, "trusted_proxies: \"%s\" is not an IPv4 or IPv6 address", s);
            free(s);
            return -1;
        }
        prefix = max;
        if (slash != NULL) {
            errno = 0;
            prefix = strtol(slash + 1, &end, 10);
            if (errno != 0 || end == slash + 1 || *end != '\0' || prefix < 0 || prefix > max) {
                config_fail(cp, item, "trusted_proxies: \"%s/%s\": the prefix is not a number from 0 to %d",
                            s, slash + 1, max);
                free(s);
                return -1;
            }
        }
        net->prefix = (int)prefix;
        cfg->ntrusted_proxies++;
        free(s);
    }
    return 0;
}

/* Parse a mapping into base following the field table. */
static int
config_map(struct config_parser *cp, const struct ynode *map,
           const struct config_field *fields, void *base, const char *prefix)
{
    const struct config_field *f;
    const struct ynode *key, *val;
    char path[256], hint[64], *plain;
    size_t i, klen;
    bool from_file, seen;

    if (map->type != YNODE_MAP)
        return config_fail(cp, map, "%.*s: expected a mapping, got a %s",
                           (int)(strlen(prefix) ? strlen(prefix) - 1 : 0), prefix,
                           ytree_type_name(map->type));
    for (i = 0; i < map->n; i++) {
        key = map->keys[i];
        val = map->values[i];
        from_file = false;
        plain = NULL;
        for (f = fields; f->key != NULL; f++) {
            if (strcmp(f->key, key->scalar) == 0)
                break;
            klen = strlen(f->key);
            if (f->type == CT_SECRET && strncmp(key->scalar, f->key, klen) == 0 &&
                strcmp(key->scalar + klen, "_file") == 0) {
                from_file = true;
                break;
            }
        }
        snprintf(path, sizeof path, "%s%s", prefix, key->scalar);
        if (f->key == NULL) {
            if (config_suggest(fields, key->scalar, hint, sizeof hint) != NULL)
                return config_fail(cp, key, "unknown key \"%s\" (did you mean \"%s\"?)", path, hint);
            return config_fail(cp, key, "unknown key \"%s\"", path);
        }
        if (f->type == CT_SECRET) {
            /* Both "token" and "token_file" is ambiguous. */
            plain = xasprintf(from_file ? "%s" : "%s_file", f->key);
            if (ytree_get(map, plain) != NULL) {
                config_fail(cp, key, "give either %s or %s_file, not both", f->key, f->key);
                free(plain);
                return -1;
            }
            free(plain);
        }
        if (f->type == CT_MAP) {
            char sub[300];

            snprintf(sub, sizeof sub, "%s.", path);
            if (config_map(cp, val, f->sub, (char *)base + f->off, sub) != 0)
                return -1;
        } else if (f->type == CT_WORKSPACES) {
            if (config_workspaces(cp, val) != 0)
                return -1;
        } else if (f->type == CT_NETS) {
            if (config_nets(cp, val) != 0)
                return -1;
        } else if (config_store(cp, val, f, base, path, from_file) != 0) {
            return -1;
        }
    }
    for (f = fields; f->key != NULL; f++) {
        if (!f->required)
            continue;
        seen = ytree_get(map, f->key) != NULL;
        if (!seen && f->type == CT_SECRET) {
            snprintf(hint, sizeof hint, "%s_file", f->key);
            seen = ytree_get(map, hint) != NULL;
        }
        if (!seen)
            return config_fail(cp, map, "missing required key \"%s%s\"", prefix, f->key);
    }
    return 0;
}

/* Fill in the defaults of the top level. */
static void
config_defaults(struct config *cfg)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    cfg->listen = xstrdup("127.0.0.1:8080");
    cfg->workers = n > 0 ? (int)(n > 256 ? 256 : n) : 2;
    cfg->http_threads = n > 0 ? (int)(n > 4 ? 4 : n) : 1;
    cfg->state_dir = xstrdup("/var/lib/gitsyncd");
    cfg->max_body = 1024 * 1024;
    cfg->request_timeout_ms = 30000;
    cfg->rate_limit = 500;
    cfg->rate_burst = 1000;
    cfg->dedup_size = 10000;
    cfg->dedup_ttl_ms = 3600000;
    cfg->max_dirty = 1000;
    cfg->max_connections = 1024;
    cfg->log_level = LOG_INFO;
    cfg->log_format = LOG_FORMAT_LOGFMT;
    cfg->cluster.sweep_ms = 5000;
    cfg->cluster.connect_timeout_ms = 2000;
}

/* The longest replica name: application_name holds 63 bytes, "gitsyncd/" 9. */
#define CONFIG_REPLICA_MAX 54

/*
 * The cluster block, once read: a database libpq can read (its password,
 * if written there, a secret like the others) and a replica name that can
 * stand in application_name and a notification.
 */
static int
config_cluster_check(struct config_parser *cp, const struct ynode *n)
{
    const struct config_cluster *c = &cp->cfg->cluster;
    PQconninfoOption *opts;
    char *perr = NULL, *pw;
    const char *r = c->replica;
    int rc;

    if (c->database == NULL)
        return 0;
    if (c->database[strspn(c->database, " \t\r\n")] == '\0')
        return config_fail(cp, ytree_get(n, "database"), "cluster.database is empty: give a "
                           "postgres:// URI or a conninfo such as \"host=db dbname=gitsyncd\"");
    opts = PQconninfoParse(c->database, &perr);
    if (opts == NULL) {
        char *m = xstrdup(perr != NULL ? perr : "out of memory");

        m[strcspn(m, "\n")] = '\0';
        rc = config_fail(cp, ytree_get(n, "database"), "cluster.database: libpq cannot read it: %s", m);
        free(m);
        PQfreemem(perr);
        return rc;
    }
    PQconninfoFree(opts);
    pw = config_conninfo_get(c->database, "password");
    if (pw != NULL)
        log_add_secret(pw);
    free(pw);
    if (r != NULL && (*r == '\0' || strlen(r) > CONFIG_REPLICA_MAX ||
                      strspn(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(r)))
        return config_fail(cp, ytree_get(n, "replica"), "cluster.replica: \"%s\" is not a valid replica "
                           "name (letters, digits, '_', '.', '-'; 1 to %d of them)", r, CONFIG_REPLICA_MAX);
    return 0;
}

int
config_parse(const char *name, const char *data, size_t len,
             struct config **out, char **err)
{
    struct config_parser cp = { .name = name, .err = err };
    struct ynode *root = NULL;

    *out = NULL;
    if (ytree_parse(name, data, len, &root, err) != 0)
        return -1;
    cp.cfg = xcalloc(1, sizeof *cp.cfg);
    cp.cfg->path = xstrdup(name);
    cp.cfg->generation = __atomic_add_fetch(&config_generation, 1, __ATOMIC_RELAXED);
    config_defaults(cp.cfg);
    if (root->type != YNODE_MAP) {
        config_fail(&cp, root, "expected a mapping at the top level, got a %s",
                    ytree_type_name(root->type));
        goto fail;
    }
    if (config_map(&cp, root, config_top_fields, cp.cfg, "") != 0)
        goto fail;
    if (config_cluster_check(&cp, ytree_get(root, "cluster")) != 0)
        goto fail;
    ytree_free(root);
    *out = cp.cfg;
    return 0;
fail:
    ytree_free(root);
    config_free(cp.cfg);
    return -1;
}

int
config_load(const char *path, struct config **out, char **err)
{
    char *data = NULL;
    size_t len;
    int rc;

    *out = NULL;
    if (read_file(path, 8u << 20, &data, &len, err) != 0)
        return -1;
    rc = config_parse(path, data, len, out, err);
    free(data);
    return rc;
}

/* Free every string a field table points at. */
static void
config_free_fields(const struct config_field *fields, void *base)
{
    const struct config_field *f;

    for (f = fields; f->key != NULL; f++) {
        if (f->type == CT_STRING || f->type == CT_SECRET)
            free(*(char **)((char *)base + f->off));
        else if (f->type == CT_MAP && f->off != 0)
            config_free_fields(f->sub, (char *)base + f->off);
    }
}

void
config_free(struct config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nworkspaces; i++)
        config_free_fields(config_workspace_fields, &cfg->workspaces[i]);
    free(cfg->workspaces);
    free(cfg->trusted_proxies);
    config_free_fields(config_top_fields, cfg);
    free(cfg->path);
    free(cfg);
}

struct config_workspace *
config_find_workspace(const struct config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->nworkspaces; i++) {
        if (strcmp(cfg->workspaces[i].name, name) == 0)
            return &cfg->workspaces[i];
    }
    return NULL;
}

const char *
config_git_host_name(enum git_host host)
{
    return config_host_names[host];
}

const char *
config_git_write_name(enum git_write write)
{
    return config_write_names[write];
}

const char *
config_conflict_name(enum conflict_policy policy)
{
    return config_conflict_names[policy];
}

/* url without any user:password@. */
static char *
config_url_redacted(const char *url)
{
    return url_without_credentials(url, NULL);
}

static const char *
config_secret_shown(const char *s)
{
    return s != NULL ? "<redacted>" : "(none)";
}

/*
 * The cluster's database conninfo with any password shown as ***: a URI's
 * user:password@ and ?password=, or a key=value list's password=.
 */
static char *
config_conninfo_shown(const char *conninfo)
{
    struct buf b;
    const char *p = conninfo, *at, *end, *colon, *q;

    buf_init(&b);
    if (strncmp(conninfo, "postgres://", 11) == 0 || strncmp(conninfo, "postgresql://", 13) == 0) {
        p = strstr(conninfo, "://") + 3;
        end = p + strcspn(p, "/?");
        at = memchr(p, '@', (size_t)(end - p));
        colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
        if (colon != NULL) {
            buf_add(&b, conninfo, (size_t)(colon - conninfo));
            buf_adds(&b, ":***");
            p = at;
        } else {
            p = conninfo;
        }
        while ((q = strstr(p, "password=")) != NULL && (q[-1] == '?' || q[-1] == '&')) {
            buf_add(&b, p, (size_t)(q - p));
            buf_adds(&b, "password=***");
            p = q + 9 + strcspn(q + 9, "&");
        }
        buf_adds(&b, p);
        return buf_detach(&b);
    }
    /* key = value pairs; a value may be 'quoted' with \\ escapes. */
    while (*p != '\0') {
        const char *key = p + strspn(p, " \t\n"), *eq = key + strcspn(key, " \t\n=");
        bool secret = (size_t)(eq - key) == 8 && strncmp(key, "password", 8) == 0;

        buf_add(&b, p, (size_t)(eq - p));
        p = eq + strspn(eq, " \t\n");
        if (*p != '=')
            break;
        p++;
        p += strspn(p, " \t\n");
        q = p;
        if (*q == '\'') {
            for (q++; *q != '\0' && *q != '\''; q++) {
                if (*q == '\\' && q[1] != '\0')
                    q++;
            }
            if (*q == '\'')
                q++;
        } else {
            q += strcspn(q, " \t\n");
        }
        buf_addc(&b, '=');
        if (secret)
            buf_adds(&b, "***");
        else
            buf_add(&b, p, (size_t)(q - p));
        p = q;
    }
    buf_adds(&b, p);
    return buf_detach(&b);
}

/* The value libpq reads for keyword in conninfo (a URI or key=value
 * pairs, quoting and percent-encoding undone), or NULL. */
static char *
config_conninfo_get(const char *conninfo, const char *keyword)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
    char *v = NULL;

    for (o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, keyword) == 0 && o->val != NULL && *o->val != '\0')
            v = xstrdup(o->val);
    }
    PQconninfoFree(opts);
    return v;
}

void
config_print(FILE *f, const struct config *cfg)
{
    const struct config_workspace *ws;
    char *u;
    size_t i;

    fprintf(f, "config %s\n", cfg->path);
    fprintf(f, "  listen          %s\n", cfg->listen);
    fprintf(f, "  admin_listen    %s\n", cfg->admin_listen ? cfg->admin_listen : "(same as listen)");
    fprintf(f, "  workers         %d\n", cfg->workers);
    fprintf(f, "  http_threads    %d\n", cfg->http_threads);
    fprintf(f, "  state_dir       %s\n", cfg->state_dir);
    fprintf(f, "  max_body        %llu bytes\n", cfg->max_body);
    fprintf(f, "  request_timeout %lldms\n", cfg->request_timeout_ms);
    fprintf(f, "  rate_limit      %g/s per client, burst %d\n", cfg->rate_limit, cfg->rate_burst);
    fprintf(f, "  dedup           %zu ids for %lldms\n", cfg->dedup_size, cfg->dedup_ttl_ms);
    fprintf(f, "  connections     at most %d open per HTTP thread\n", cfg->max_connections);
    fprintf(f, "  hide_workspaces %s\n", cfg->hide_workspaces ? "yes (unknown and unauthorized answered alike)" : "no");
    fprintf(f, "  trusted_proxies");
    if (cfg->ntrusted_proxies == 0)
        fprintf(f, " none (the client is the peer address)");
    for (i = 0; i < cfg->ntrusted_proxies; i++) {
        char a[INET6_ADDRSTRLEN];

        inet_ntop(cfg->trusted_proxies[i].family, cfg->trusted_proxies[i].addr, a, sizeof a);
        fprintf(f, " %s/%d", a, cfg->trusted_proxies[i].prefix);
    }
    fprintf(f, "\n");
    fprintf(f, "  log             %s, %s\n", log_level_name(cfg->log_level), log_format_name(cfg->log_format));
    if (cfg->cluster.database != NULL) {
        char *inline_pw = config_conninfo_get(cfg->cluster.database, "password");
        char *role = config_conninfo_get(cfg->cluster.database, "user");

        u = config_conninfo_shown(cfg->cluster.database);
        fprintf(f, "  cluster         database %s, role %s, password %s\n", u,
                role != NULL ? role : "(libpq's default: the user's name)",
                cfg->cluster.password != NULL ? "<redacted> (cluster.password or password_file)"
                : inline_pw != NULL ? "<redacted> (in the database conninfo)"
                : "none given (libpq's own: PGPASSFILE, ~/.pgpass)");
        free(inline_pw);
        free(role);
        free(u);
        fprintf(f, "  cluster replica %s, sweep %lldms, connect timeout %lldms\n",
                cfg->cluster.replica != NULL ? cfg->cluster.replica : "(default: <hostname>-<pid>)",
                cfg->cluster.sweep_ms, cfg->cluster.connect_timeout_ms);
    } else {
        fprintf(f, "  cluster         off (one process)\n");
    }
    fprintf(f, "  workspaces      %zu\n", cfg->nworkspaces);
    for (i = 0; i < cfg->nworkspaces; i++) {
        ws = &cfg->workspaces[i];
        fprintf(f, "workspace %s (line %d)\n", ws->name, ws->line);
        u = config_url_redacted(ws->platform.url);
        fprintf(f, "  platform        profile %s, %s\n", ws->platform.profile, u);
        free(u);
        fprintf(f, "  platform token  %s\n", config_secret_shown(ws->platform.token));
        fprintf(f, "  platform events %s%s\n", config_secret_shown(ws->platform.webhook_secret),
                ws->platform.insecure_no_signature ? " (unsigned events accepted)" : "");
        fprintf(f, "  platform http   connect %lldms, timeout %lldms, %d retries, tls verify %s\n",
                ws->platform.connect_timeout_ms, ws->platform.timeout_ms,
                ws->platform.max_retries, ws->platform.tls_verify ? "on" : "OFF");
        fprintf(f, "  platform lists  at most %zu items and %lldms per kind\n",
                ws->platform.list_max_items, ws->platform.list_timeout_ms);
        u = config_url_redacted(ws->git.url);
        fprintf(f, "  git             %s branch %s path \"%s\"\n", u, ws->git.branch, ws->git.path);
        free(u);
        fprintf(f, "  git host        %s, webhook secret %s%s%s\n",
                config_git_host_name(ws->git.host), config_secret_shown(ws->git.webhook_secret),
                ws->git.allow_sha1 ? ", sha1 allowed" : "",
                ws->git.insecure_no_signature ? ", unsigned webhooks accepted" : "");
        if (ws->git.ssh_key != NULL)
            fprintf(f, "  git auth        ssh key %s, passphrase %s, host key %s\n", ws->git.ssh_key,
                    config_secret_shown(ws->git.ssh_passphrase),
                    ws->git.insecure_skip_host_key_check ? "NOT CHECKED"
                    : ws->git.host_key_fingerprint ? ws->git.host_key_fingerprint
                    : ws->git.known_hosts ? ws->git.known_hosts : "~/.ssh/known_hosts");
        else if (ws->git.password != NULL)
            fprintf(f, "  git auth        https user %s, password %s\n",
                    ws->git.username ? ws->git.username : "(none)", "<redacted>");
        else
            fprintf(f, "  git auth        none\n");
        if (ws->git.api.token != NULL)
            fprintf(f, "  git api         %s, token <redacted>%s%s (pull request checks)\n",
                    ws->git.api.url != NULL ? ws->git.api.url : "derived from git.url",
                    ws->git.api.username != NULL ? ", user " : "",
                    ws->git.api.username != NULL ? ws->git.api.username : "");
        else
            fprintf(f, "  git api         no token: pull request checks are logged, not reported\n");
        fprintf(f, "  git write       %s%s%s\n", config_write_names[ws->git.write],
                ws->git.write == GIT_WRITE_PUSH ? "" : ", branch gitsyncd/",
                ws->git.write == GIT_WRITE_PUSH ? "" : ws->name);
        fprintf(f, "  git identity    author %s <%s>, committer %s <%s>\n",
                ws->git.author.name, ws->git.author.email,
                ws->git.committer.name, ws->git.committer.email);
        fprintf(f, "  sync            interval %lldms, conflict %s, max_deletes %ld\n",
                ws->sync.interval_ms, config_conflict_name(ws->sync.conflict), ws->sync.max_deletes);
        if (ws->git.webhook_secret == NULL && !ws->git.insecure_no_signature)
            fprintf(f, "  warning: no git.webhook_secret: push webhooks are refused (the interval still syncs)\n");
        if (ws->platform.webhook_secret == NULL && !ws->platform.insecure_no_signature)
            fprintf(f, "  warning: no platform.webhook_secret: platform events are refused (the interval still syncs)\n");
    }
}
