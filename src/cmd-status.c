/*
 * cmd-status: `gitsyncd status`, the running daemon's /status as a table a
 * person reads at a glance, or as the daemon's JSON (--json).  The daemon is
 * found from the configuration (admin_listen, else listen) or --url.
 */
#include "autoconfig.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/util.h"

/* The most of /status we read: thousands of invalid files fit. */
#define STATUS_MAX_BODY (64u << 20)

/* The columns of the table, in order. */
enum {
    COL_WORKSPACE,
    COL_RESULT,
    COL_WHEN,
    COL_HEAD,
    COL_BASE,
    COL_QUEUE,
    COL_INVALID,
    COL_CONFLICTS,
    COL_REFUSED,
    COL_N
};

static const char *const status_headers[COL_N] = {
    "WORKSPACE", "RESULT", "WHEN", "HEAD", "BASE", "QUEUE",
    "INVALID", "CONFLICTS", "REFUSED",
};

static void
status_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd status [--json] [--url URL] [WORKSPACE]\n"
            "\n"
            "Ask the running daemon for its /status (at admin_listen, else listen, of\n"
            "the configuration file, or at --url) and print one line per workspace:\n"
            "the last sync's result and how long ago it ran, the branch head and the\n"
            "base (short ids), the queue (idle, queued, running), and how many files\n"
            "and platform objects are invalid, conflicts are open and deletions were\n"
            "refused; then the error of each failing workspace.\n"
            "\n"
            "  --json       print the daemon's answer as it is (one workspace's\n"
            "               entry if WORKSPACE is given)\n"
            "  --url URL    the daemon's address, e.g. http://127.0.0.1:9090\n"
            "\n"
            "Exit 0 if no workspace is failing, 1 if one is (or the daemon cannot be\n"
            "reached), 2 on a usage or configuration error.\n");
}

/* curl write callback: append to a struct buf, refuse past the limit. */
static size_t
status_write(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;

    if (b->len + size * n > STATUS_MAX_BODY)
        return 0;
    buf_add(b, data, size * n);
    return size * n;
}

/*
 * The base URL of the daemon's admin routes from the configuration:
 * admin_listen, else listen; a wildcard host means this machine.
 */
static int
status_url_from_config(const char *path, char **url, char **err)
{
    struct config *cfg;
    const char *addr, *colon;
    char *host;
    int rc = 0;

    if (config_load(path, &cfg, err) != 0)
        return -1;
    addr = cfg->admin_listen != NULL ? cfg->admin_listen : cfg->listen;
    colon = strrchr(addr, ':');
    if (colon == NULL || strcmp(colon + 1, "0") == 0 || colon[1] == '\0') {
        rc = set_error(err, "%s: %s \"%s\" names no fixed port; pass --url",
                       path, cfg->admin_listen != NULL ? "admin_listen" : "listen", addr);
        config_free(cfg);
        return rc;
    }
    host = xstrndup(addr, (size_t)(colon - addr));
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        *url = xasprintf("http://127.0.0.1%s", colon);
    else if (strcmp(host, "[::]") == 0 || strcmp(host, "::") == 0)
        *url = xasprintf("http://[::1]%s", colon);
    else if (strchr(host, ':') != NULL && host[0] != '[')
        *url = xasprintf("http://[%s]%s", host, colon);
    else
        *url = xasprintf("http://%s%s", host, colon);
    free(host);
    config_free(cfg);
    return 0;
}

/* GET base/status; the parsed answer, or NULL with *err. */
static json_t *
status_fetch(const char *base, char **err)
{
    char errbuf[CURL_ERROR_SIZE] = "", *url;
    json_error_t jerr;
    struct buf b;
    json_t *doc = NULL;
    CURLcode cc;
    CURL *h;
    long code = 0;

    h = curl_easy_init();
    if (h == NULL) {
        set_error(err, "cannot start libcurl");
        return NULL;
    }
    buf_init(&b);
    url = xasprintf("%s/status", base);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, status_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        set_error(err, "cannot reach the daemon at %s: %s (is gitsyncd serve running?)",
                  url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        set_error(err, "%s answered HTTP %ld", url, code);
        goto out;
    }
    doc = json_loadb(b.data != NULL ? b.data : "", b.len, 0, &jerr);
    if (doc == NULL) {
        set_error(err, "%s: not JSON: line %d column %d: %s", url, jerr.line,
                  jerr.column, jerr.text);
    } else if (!json_is_object(json_object_get(doc, "workspaces"))) {
        set_error(err, "%s: no \"workspaces\" object in the answer", url);
        json_decref(doc);
        doc = NULL;
    }
out:
    buf_free(&b);
    free(url);
    curl_easy_cleanup(h);
    return doc;
}

/* A copy of s fit for a terminal: control characters become '?'. */
static char *
status_clean(const char *s)
{
    char *c = xstrdup(s != NULL ? s : "-"), *p;

    for (p = c; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return c;
}

/* "12s ago", "5m ago", "3h ago", "2d ago" for an ISO 8601 UTC time. */
static char *
status_age(const char *iso, time_t now)
{
    struct tm tm;
    const char *end;
    time_t t;
    long d;

    if (iso == NULL)
        return xstrdup("-");
    memset(&tm, 0, sizeof tm);
    end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return status_clean(iso);
    t = timegm(&tm);
    d = (long)difftime(now, t);
    if (d < 0)
        d = 0;
    if (d < 120)
        return xasprintf("%lds ago", d);
    if (d < 7200)
        return xasprintf("%ldm ago", d / 60);
    if (d < 172800)
        return xasprintf("%ldh ago", d / 3600);
    return xasprintf("%ldd ago", d / 86400);
}

/* A short commit id, or "-". */
static char *
status_short(json_t *v)
{
    const char *s = json_string_value(v);
    char *id, *clean;

    if (s == NULL || *s == '\0')
        return xstrdup("-");
    id = xstrndup(s, 7);
    clean = status_clean(id);
    free(id);
    return clean;
}

/* The count of a list field, or "-" if the daemon has not said. */
static char *
status_count(json_t *ws, const char *key)
{
    json_t *v = json_object_get(ws, key);

    return json_is_array(v) ? xasprintf("%zu", json_array_size(v)) : xstrdup("-");
}

/* The invalid files and platform objects, or "-" if the daemon has not said. */
static char *
status_invalid(json_t *ws)
{
    json_t *files = json_object_get(ws, "invalid_files");
    json_t *objects = json_object_get(ws, "invalid_resources");

    if (!json_is_array(files))
        return xstrdup("-");
    return xasprintf("%zu", json_array_size(files) + json_array_size(objects));
}

/* The queue state of a workspace. */
static char *
status_queue(json_t *ws)
{
    json_t *queued = json_object_get(ws, "queued"), *running = json_object_get(ws, "running");

    if (!json_is_boolean(queued) || !json_is_boolean(running))
        return xstrdup("-");
    if (json_is_true(running))
        return xstrdup(json_is_true(queued) ? "running+1" : "running");
    return xstrdup(json_is_true(queued) ? "queued" : "idle");
}

/* True if the workspace's last sync failed. */
static bool
status_failing(json_t *ws)
{
    const char *r = json_string_value(json_object_get(ws, "last_result"));

    return r != NULL && strcmp(r, "ok") != 0;
}

/* The cells of one row (each allocated). */
static void
status_row(const char *name, json_t *ws, time_t now, char *cell[COL_N])
{
    const char *r = json_string_value(json_object_get(ws, "last_result"));

    cell[COL_WORKSPACE] = status_clean(name);
    if (r == NULL)
        cell[COL_RESULT] = xstrdup(json_is_true(json_object_get(ws, "running")) ? "first-sync"
                                                                               : "-");
    else
        cell[COL_RESULT] = status_clean(r);
    cell[COL_WHEN] = status_age(json_string_value(json_object_get(ws, "last_run")), now);
    cell[COL_HEAD] = status_short(json_object_get(ws, "head"));
    cell[COL_BASE] = status_short(json_object_get(ws, "base"));
    cell[COL_QUEUE] = status_queue(ws);
    cell[COL_INVALID] = status_invalid(ws);
    cell[COL_CONFLICTS] = status_count(ws, "unresolved_conflicts");
    cell[COL_REFUSED] = status_count(ws, "refused_deletes");
}

/* Print the table of the workspaces in wss, then why each failing one fails. */
static void
status_print_table(json_t *wss)
{
    size_t width[COL_N], n = json_object_size(wss), i = 0, r, c;
    char *(*cells)[COL_N] = xcalloc(n + 1, sizeof *cells);
    time_t now = time(NULL);
    const char *name;
    json_t *ws;
    char *msg, *when, *clean;

    for (c = 0; c < COL_N; c++)
        width[c] = strlen(status_headers[c]);
    json_object_foreach(wss, name, ws) {
        status_row(name, ws, now, cells[i]);
        for (c = 0; c < COL_N; c++) {
            if (strlen(cells[i][c]) > width[c])
                width[c] = strlen(cells[i][c]);
        }
        i++;
    }
    for (c = 0; c < COL_N; c++)
        printf("%-*s%s", c + 1 < COL_N ? (int)width[c] : 0, status_headers[c],
               c + 1 < COL_N ? "  " : "\n");
    for (r = 0; r < n; r++) {
        for (c = 0; c < COL_N; c++) {
            printf("%-*s%s", c + 1 < COL_N ? (int)width[c] : 0, cells[r][c],
                   c + 1 < COL_N ? "  " : "\n");
            free(cells[r][c]);
        }
    }
    free(cells);
    json_object_foreach(wss, name, ws) {
        if (!status_failing(ws))
            continue;
        clean = status_clean(name);
        msg = status_clean(json_string_value(json_object_get(ws, "last_error")));
        when = status_age(json_string_value(json_object_get(ws, "last_error_at")), now);
        printf("%s: failed %s: %s\n", clean, when, msg);
        free(clean);
        free(msg);
        free(when);
    }
}

int
cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "url", required_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    const char *path, *name, *url_opt = NULL, *want = NULL;
    json_t *doc, *wss, *one = NULL;
    char *url = NULL, *err = NULL, *s;
    bool json = false;
    size_t failing;
    int c, r, rc;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'u':
            url_opt = optarg;
            break;
        case 'h':
            status_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                status_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        status_usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc)
        want = argv[optind];
    if (url_opt != NULL) {
        if (strncmp(url_opt, "http://", 7) != 0 && strncmp(url_opt, "https://", 8) != 0) {
            fprintf(stderr, "gitsyncd status: --url \"%s\": not an http:// or https:// URL\n",
                    url_opt);
            return EXIT_USAGE;
        }
        url = xstrdup(url_opt);
        /* A trailing slash would make the path //status. */
        while (strlen(url) > 8 && url[strlen(url) - 1] == '/')
            url[strlen(url) - 1] = '\0';
    } else {
        path = global_opts.config_path != NULL ? global_opts.config_path
                                               : GITSYNCD_DEFAULT_CONFIG;
        if (status_url_from_config(path, &url, &err) != 0) {
            fprintf(stderr, "gitsyncd: %s\n", err);
            free(err);
            return EXIT_USAGE;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    doc = status_fetch(url, &err);
    free(url);
    if (doc == NULL) {
        fprintf(stderr, "gitsyncd status: %s\n", err);
        free(err);
        curl_global_cleanup();
        return EXIT_FAILURE_RUNTIME;
    }
    wss = json_object_get(doc, "workspaces");
    if (want != NULL) {
        one = json_object_get(wss, want);
        if (one == NULL) {
            s = status_clean(want);
            fprintf(stderr, "gitsyncd status: the daemon reports no workspace \"%s\" "
                            "(not configured, or its first sync has not started)\n", s);
            free(s);
            json_decref(doc);
            curl_global_cleanup();
            return EXIT_FAILURE_RUNTIME;
        }
        /* From here on, a document of that workspace alone. */
        one = json_pack("{s:{s:O}}", "workspaces", want, one);
        json_decref(doc);
        doc = one;
        wss = json_object_get(doc, "workspaces");
    }
    failing = 0;
    json_object_foreach(wss, name, one) {
        if (status_failing(one))
            failing++;
    }
    if (json) {
        s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
    } else if (json_object_size(wss) == 0) {
        printf("no workspace has reported yet\n");
    } else {
        status_print_table(wss);
    }
    rc = failing > 0 ? EXIT_FAILURE_RUNTIME : EXIT_OK;
    json_decref(doc);
    curl_global_cleanup();
    return rc;
}
