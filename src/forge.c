/* forge: the Git host's REST API: commit statuses, request comments, the
 * requests gitsyncd opens, branch protection. */
#include "autoconfig.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "gitsyncd/forge.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#define FORGE_MAX_RESPONSE (16u << 20)
#define FORGE_MAX_PAGES 100
#define FORGE_MAX_RETRIES 4
#define FORGE_BUDGET_S 60.0
#define FORGE_TIMEOUT_MS 30000L
#define FORGE_CONNECT_TIMEOUT_MS 10000L
#define FORGE_BACKOFF_MS 200
#define FORGE_DESCRIPTION_MAX 140

/* How a host pages a listing (comments, requests). */
enum forge_paging {
    FORGE_PAGE_LINK,      /* RFC 8288 Link: <...>; rel="next" */
    FORGE_PAGE_BODY_NEXT, /* the answer's "next": a URL (Bitbucket Cloud) */
    FORGE_PAGE_START,     /* isLastPage / nextPageStart (Bitbucket DC) */
};

/*
 * One Git host's API.  Paths are templates under the API base: {p} the
 * project ("owner/repo", GitLab's encoded path, "projects/KEY/repos/slug"),
 * {sha}, {n} the request, {id} a comment.
 */
struct forge_row {
    enum git_host host;
    const char *name;
    const char *auth;             /* header format with the token */
    const char *states[3];        /* pending, success, failure */
    bool status_from_root;        /* status_path is under the server root */
    const char *status_path;
    const char *status_key;       /* the context's field */
    const char *status_url;       /* the link's field */
    bool status_name;             /* also send "name" (Bitbucket) */
    const char *list_path;        /* a request's comments, first page */
    enum forge_paging paging;
    const char *items;            /* the list in an answer; NULL: bare array */
    const char *comment;          /* where an item's comment is; NULL: itself */
    const char *text;             /* the comment's text in it ("content/raw") */
    const char *version;          /* the comment's version (Bitbucket DC) */
    const char *create_path;
    const char *update_method;
    const char *update_path;
};

static const struct forge_row forge_rows[] = {
    { GIT_HOST_GITHUB, "github", "Authorization: Bearer %s",
      { "pending", "success", "failure" }, false,
      "/repos/{p}/statuses/{sha}", "context", "target_url", false,
      "/repos/{p}/issues/{n}/comments?per_page=100", FORGE_PAGE_LINK, NULL,
      NULL, "body", NULL,
      "/repos/{p}/issues/{n}/comments", "PATCH", "/repos/{p}/issues/comments/{id}" },
    { GIT_HOST_GITLAB, "gitlab", "PRIVATE-TOKEN: %s",
      { "pending", "success", "failed" }, false,
      "/projects/{p}/statuses/{sha}", "name", "target_url", false,
      "/projects/{p}/merge_requests/{n}/notes?per_page=100", FORGE_PAGE_LINK, NULL,
      NULL, "body", NULL,
      "/projects/{p}/merge_requests/{n}/notes", "PUT",
      "/projects/{p}/merge_requests/{n}/notes/{id}" },
    { GIT_HOST_GITEA, "gitea", "Authorization: token %s",
      { "pending", "success", "failure" }, false,
      "/repos/{p}/statuses/{sha}", "context", "target_url", false,
      "/repos/{p}/issues/{n}/comments", FORGE_PAGE_LINK, NULL,
      NULL, "body", NULL,
      "/repos/{p}/issues/{n}/comments", "PATCH", "/repos/{p}/issues/comments/{id}" },
    { GIT_HOST_BITBUCKET, "bitbucket", "Authorization: Bearer %s",
      { "INPROGRESS", "SUCCESSFUL", "FAILED" }, false,
      "/repositories/{p}/commit/{sha}/statuses/build", "key", "url", true,
      "/repositories/{p}/pullrequests/{n}/comments?pagelen=100", FORGE_PAGE_BODY_NEXT,
      "values", NULL, "content/raw", NULL,
      "/repositories/{p}/pullrequests/{n}/comments", "PUT",
      "/repositories/{p}/pullrequests/{n}/comments/{id}" },
    { GIT_HOST_BITBUCKET_SERVER, "bitbucket-server", "Authorization: Bearer %s",
      { "INPROGRESS", "SUCCESSFUL", "FAILED" }, true,
      "/rest/build-status/1.0/commits/{sha}", "key", "url", true,
      "/{p}/pull-requests/{n}/activities?limit=100", FORGE_PAGE_START,
      "values", "comment", "text", "version",
      "/{p}/pull-requests/{n}/comments", "PUT", "/{p}/pull-requests/{n}/comments/{id}" },
};

struct forge {
    const struct forge_row *row;
    const struct config_git *git;
    char *workspace;
    char *context;   /* gitsyncd/<workspace> */
    char *marker;    /* <!-- gitsyncd:<workspace> --> */
    char *base;      /* API base, no trailing '/' */
    char *root;      /* scheme://host[:port][/context] of the server */
    char *origin;    /* scheme://host[:port] of base: where the token may go */
    char *project;   /* {p}, already escaped */
    char *web;       /* the repository's page */
    char *auth;      /* the header, or NULL with Basic auth */
    CURL *curl;
    unsigned long requests, retries;
};

/* One exchange. */
struct forge_response {
    long code;
    struct buf body;
    bool too_big;
    char *link_next;
    long long remaining; /* rate-limit remaining, -1 unknown */
    long long reset;     /* rate-limit reset, epoch seconds, -1 unknown */
    json_t *json;
};

static const struct forge_row *
forge_row(enum git_host host)
{
    size_t i;

    for (i = 0; i < nitems(forge_rows); i++) {
        if (forge_rows[i].host == host)
            return &forge_rows[i];
    }
    return NULL;
}

const char *
forge_state_name(enum git_host host, enum forge_state state)
{
    const struct forge_row *row = forge_row(host);

    return row != NULL ? row->states[state] : "?";
}

/* ---- where the API is ------------------------------------------------ */

/* The parts of a Git URL (https://, http://, ssh://, file://, user@host:path). */
struct forge_url {
    char *scheme; /* "https", "http", "ssh" */
    char *host;   /* host, with :port for http(s) */
    char *path;   /* without leading '/', trailing '/' and ".git" */
};

static void
forge_url_free(struct forge_url *u)
{
    free(u->scheme);
    free(u->host);
    free(u->path);
}

static int
forge_url_parse(const char *url, struct forge_url *u, char **err)
{
    const char *p, *at, *slash, *colon;
    size_t len;

    memset(u, 0, sizeof *u);
    p = strstr(url, "://");
    if (p != NULL) {
        u->scheme = xstrndup(url, (size_t)(p - url));
        p += 3;
        slash = strchr(p, '/');
        if (slash == NULL)
            slash = p + strlen(p);
        at = memchr(p, '@', (size_t)(slash - p));
        if (at != NULL)
            p = at + 1;
        u->host = xstrndup(p, (size_t)(slash - p));
        if (strcmp(u->scheme, "ssh") == 0 && (colon = strchr(u->host, ':')) != NULL)
            u->host[colon - u->host] = '\0'; /* the API is not on the SSH port */
        p = *slash == '/' ? slash + 1 : slash;
    } else if ((colon = strchr(url, ':')) != NULL && strchr(url, '/') > colon) {
        /* scp-like: [user@]host:path */
        u->scheme = xstrdup("ssh");
        at = memchr(url, '@', (size_t)(colon - url));
        p = at != NULL ? at + 1 : url;
        u->host = xstrndup(p, (size_t)(colon - p));
        p = colon + 1;
    } else {
        return set_error(err, "git.url %s names no host: set git.api.url", url);
    }
    u->path = xstrdup(p);
    len = strlen(u->path);
    while (len > 0 && u->path[len - 1] == '/')
        u->path[--len] = '\0';
    if (len > 4 && strcmp(u->path + len - 4, ".git") == 0)
        u->path[len -= 4] = '\0';
    if (u->host[0] == '\0' || len == 0 || strstr(u->path, "..") != NULL) {
        forge_url_free(u);
        return set_error(err, "git.url: cannot tell the repository from it: set git.api.url");
    }
    return 0;
}

/* Percent-escape every byte of s but unreserved ones (and '/' if keep_slash). */
static char *
forge_escape(const char *s, bool keep_slash)
{
    struct buf b;

    buf_init(&b);
    buf_adds(&b, "");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            buf_addc(&b, (char)c);
        else
            buf_printf(&b, "%%%02X", c);
    }
    return buf_detach(&b);
}

/* "scheme://host[:port]" of an http(s) URL, or NULL. */
static char *
forge_origin(const char *url)
{
    const char *p = strstr(url, "://"), *end;

    if (p == NULL || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return NULL;
    end = strchr(p + 3, '/');
    if (end == NULL)
        end = p + strlen(p);
    if (memchr(p + 3, '@', (size_t)(end - p - 3)) != NULL)
        return NULL; /* no credentials in the API URL */
    return xstrndup(url, (size_t)(end - url));
}

/* Work out host, base, project and web page from the configuration. */
static int
forge_locate(struct forge *f, enum git_host host, char **err)
{
    struct forge_url u;
    const char *http, *scm;
    char *ctx = NULL, *key = NULL, *slug, *path;
    size_t len;
    int rc = -1;

    if (forge_url_parse(f->git->url, &u, err) != 0)
        return -1;
    http = strcmp(u.scheme, "http") == 0 ? "http" : "https";
    if (host == GIT_HOST_AUTO) {
        if (strcasecmp(u.host, "github.com") == 0)
            host = GIT_HOST_GITHUB;
        else if (strcasecmp(u.host, "gitlab.com") == 0)
            host = GIT_HOST_GITLAB;
        else if (strcasecmp(u.host, "bitbucket.org") == 0)
            host = GIT_HOST_BITBUCKET;
        else if (strncmp(u.path, "scm/", 4) == 0 || strstr(u.path, "/scm/") != NULL)
            host = GIT_HOST_BITBUCKET_SERVER;
        else {
            set_error(err, "git.host is auto and %s is no known host: set git.host", u.host);
            goto out;
        }
    }
    f->row = forge_row(host);
    f->web = xasprintf("%s://%s/%s", http, u.host, u.path);
    switch (host) {
    case GIT_HOST_GITHUB:
    case GIT_HOST_GITEA:
    case GIT_HOST_BITBUCKET:
        if (strchr(u.path, '/') == NULL || strchr(strchr(u.path, '/') + 1, '/') != NULL) {
            set_error(err, "git.url: expected OWNER/REPOSITORY in the path, got \"%s\"", u.path);
            goto out;
        }
        f->project = forge_escape(u.path, true);
        if (host == GIT_HOST_GITHUB)
            f->base = strcasecmp(u.host, "github.com") == 0 ? xstrdup("https://api.github.com")
                                                            : xasprintf("%s://%s/api/v3", http, u.host);
        else if (host == GIT_HOST_GITEA)
            f->base = xasprintf("%s://%s/api/v1", http, u.host);
        else
            f->base = xstrdup("https://api.bitbucket.org/2.0");
        break;
    case GIT_HOST_GITLAB:
        f->project = forge_escape(u.path, false);
        f->base = xasprintf("%s://%s/api/v4", http, u.host);
        break;
    case GIT_HOST_BITBUCKET_SERVER:
        /* https://host[/context]/scm/KEY/slug.git or ssh://host:7999/KEY/slug.git */
        path = u.path;
        scm = strncmp(path, "scm/", 4) == 0 ? path : strstr(path, "/scm/");
        if (scm != NULL) {
            ctx = scm == path ? xstrdup("") : xasprintf("/%.*s", (int)(scm - path), path);
            path = (char *)(scm == path ? scm + 4 : scm + 5);
        } else {
            ctx = xstrdup("");
        }
        slug = strchr(path, '/');
        if (slug == NULL || strchr(slug + 1, '/') != NULL) {
            set_error(err, "git.url: expected .../scm/PROJECT/REPOSITORY, got \"%s\"", u.path);
            goto out;
        }
        key = xstrndup(path, (size_t)(slug - path));
        {
            char *ek = forge_escape(key, false), *es = forge_escape(slug + 1, false);

            f->project = xasprintf("projects/%s/repos/%s", ek, es);
            free(ek);
            free(es);
        }
        f->base = xasprintf("%s://%s%s/rest/api/latest", http, u.host, ctx);
        free(f->web);
        f->web = xasprintf("%s://%s%s/projects/%s/repos/%s", http, u.host, ctx, key, slug + 1);
        break;
    default:
        set_error(err, "no API client for git.host %d", (int)host);
        goto out;
    }
    if (f->git->api.url != NULL) {
        free(f->base);
        f->base = xstrdup(f->git->api.url);
    }
    len = strlen(f->base);
    while (len > 0 && f->base[len - 1] == '/')
        f->base[--len] = '\0';
    f->origin = forge_origin(f->base);
    if (f->origin == NULL) {
        set_error(err, "git.api.url %s: expected http(s)://HOST[/PATH], without credentials", f->base);
        goto out;
    }
    /* The server root: the base without its API path (Bitbucket DC). */
    f->root = xstrdup(f->base);
    {
        char *r = strstr(f->root, "/rest/api/");

        if (r != NULL)
            *r = '\0';
    }
    rc = 0;
out:
    free(ctx);
    free(key);
    forge_url_free(&u);
    return rc;
}

struct forge *
forge_new(const struct config_git *git, const char *workspace, char **err)
{
    struct forge *f;
    char *e = NULL;

    if (git->api.token == NULL) {
        set_error(err, "no git.api.token: pull request checks cannot be reported");
        return NULL;
    }
    f = xcalloc(1, sizeof *f);
    f->git = git;
    f->workspace = xstrdup(workspace);
    f->context = xasprintf("gitsyncd/%s", workspace);
    f->marker = xasprintf("<!-- gitsyncd:%s -->", workspace);
    if (forge_locate(f, git->host, &e) != 0) {
        set_error(err, "workspace %s: %s", workspace, e);
        free(e);
        forge_free(f);
        return NULL;
    }
    log_add_secret(git->api.token);
    if (git->api.username == NULL)
        f->auth = xasprintf(f->row->auth, git->api.token);
    f->curl = curl_easy_init();
    if (f->curl == NULL) {
        fprintf(stderr, "gitsyncd: fatal: curl_easy_init failed\n");
        abort();
    }
    return f;
}

void
forge_free(struct forge *f)
{
    if (f == NULL)
        return;
    if (f->curl != NULL)
        curl_easy_cleanup(f->curl);
    free(f->workspace);
    free(f->context);
    free(f->marker);
    free(f->base);
    free(f->root);
    free(f->origin);
    free(f->project);
    free(f->web);
    free(f->auth);
    free(f);
}

enum git_host
forge_host(const struct forge *f)
{
    return f->row->host;
}

const char *
forge_base(const struct forge *f)
{
    return f->base;
}

unsigned long
forge_requests(const struct forge *f)
{
    return f->requests;
}

unsigned long
forge_retries(const struct forge *f)
{
    return f->retries;
}

/* A path template with {p}, {sha}, {n} and {id} filled in. */
static char *
forge_path(const struct forge *f, const char *tmpl, const char *sha,
           const char *n, const char *id)
{
    struct buf b;
    const char *p;

    buf_init(&b);
    buf_adds(&b, "");
    for (p = tmpl; *p != '\0'; p++) {
        if (strncmp(p, "{p}", 3) == 0) {
            buf_adds(&b, f->project);
            p += 2;
        } else if (strncmp(p, "{sha}", 5) == 0) {
            buf_adds(&b, sha);
            p += 4;
        } else if (strncmp(p, "{n}", 3) == 0) {
            buf_adds(&b, n);
            p += 2;
        } else if (strncmp(p, "{id}", 4) == 0) {
            buf_adds(&b, id);
            p += 3;
        } else {
            buf_addc(&b, *p);
        }
    }
    return buf_detach(&b);
}

/* ---- HTTP ------------------------------------------------------------ */

static size_t
forge_write(char *data, size_t size, size_t n, void *arg)
{
    struct forge_response *r = arg;

    if (r->body.len + size * n > FORGE_MAX_RESPONSE) {
        r->too_big = true;
        return 0;
    }
    buf_add(&r->body, data, size * n);
    return size * n;
}

/* The value of header name in a header line, or NULL (a new string). */
static char *
forge_header_value(const char *data, size_t len, const char *name)
{
    size_t nl = strlen(name);

    if (len <= nl || strncasecmp(data, name, nl) != 0 || data[nl] != ':')
        return NULL;
    data += nl + 1;
    len -= nl + 1;
    while (len > 0 && (*data == ' ' || *data == '\t')) {
        data++;
        len--;
    }
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' '))
        len--;
    return xstrndup(data, len);
}

/* Keep Link's rel="next" and the rate-limit headers. */
static size_t
forge_header(char *data, size_t size, size_t n, void *arg)
{
    static const char *const remaining[] = { "x-ratelimit-remaining", "ratelimit-remaining" };
    static const char *const reset[] = { "x-ratelimit-reset", "ratelimit-reset" };
    struct forge_response *r = arg;
    size_t len = size * n, i;
    char *v, *p, *lt, *gt, *comma;

    for (i = 0; i < nitems(remaining); i++) {
        if ((v = forge_header_value(data, len, remaining[i])) != NULL) {
            r->remaining = strtoll(v, NULL, 10);
            free(v);
        }
        if ((v = forge_header_value(data, len, reset[i])) != NULL) {
            r->reset = strtoll(v, NULL, 10);
            free(v);
        }
    }
    if ((v = forge_header_value(data, len, "link")) != NULL) {
        for (p = v; (lt = strchr(p, '<')) != NULL; p = gt + 1) {
            gt = strchr(lt, '>');
            if (gt == NULL)
                break;
            comma = strchr(gt, ',');
            p = strstr(gt, "rel=\"next\"");
            if (p != NULL && (comma == NULL || p < comma)) {
                free(r->link_next);
                r->link_next = xstrndup(lt + 1, (size_t)(gt - lt - 1));
                break;
            }
        }
        free(v);
    }
    return len;
}

static void
forge_response_free(struct forge_response *r)
{
    buf_free(&r->body);
    free(r->link_next);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* The host's message in an error answer, short. */
static char *
forge_message(const struct forge_response *r)
{
    const json_t *m = NULL;

    if (r->json != NULL) {
        m = json_object_get(r->json, "message");
        if (m == NULL)
            m = json_object_get(r->json, "error");
        if (json_is_object(m))
            m = json_object_get(m, "message");
        if (m == NULL && json_is_array(json_object_get(r->json, "errors")))
            m = json_object_get(json_array_get(json_object_get(r->json, "errors"), 0), "message");
    }
    if (json_is_string(m))
        return xasprintf("%.300s", json_string_value(m));
    if (m != NULL) {
        char *s = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY), *out;

        out = xasprintf("%.300s", s != NULL ? s : "?");
        free(s);
        return out;
    }
    if (r->body.len > 0)
        return xasprintf("%.200s", r->body.data);
    return xasprintf("no message");
}

/* Seconds to wait before trying again, from the answer's headers; -1 none. */
static double
forge_wait(struct forge *f, const struct forge_response *r)
{
    curl_off_t after = -1;
    double now = now_wall();

    if (curl_easy_getinfo(f->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        return (double)after;
    if (r->remaining == 0 && r->reset > 0)
        return r->reset > now ? (double)r->reset - now + 1 : 1;
    return -1;
}

/*
 * One request to url (under the API origin), with retries.  endpoint
 * names it in messages (the path, no query).  On 0, r holds a 2xx answer,
 * parsed when it has a body.
 */
static int
forge_request(struct forge *f, const char *method, const char *url,
              const char *endpoint, const json_t *body,
              struct forge_response *r, char **err)
{
    struct curl_slist *h = NULL;
    char *payload = NULL, *origin, *msg, curlerr[CURL_ERROR_SIZE];
    double start = now_mono(), delay, wait;
    json_error_t jerr;
    CURLcode rc;
    int attempt, ret = -1;
    bool limited;

    memset(r, 0, sizeof *r);
    origin = forge_origin(url);
    if (origin == NULL || strcasecmp(origin, f->origin) != 0) {
        free(origin);
        return set_error(err, "%s %s %s: refusing a URL outside %s", f->row->name, method,
                         endpoint, f->origin);
    }
    free(origin);
    if (body != NULL)
        payload = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (f->auth != NULL)
        h = curl_slist_append(h, f->auth);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "User-Agent: gitsyncd/" PACKAGE_VERSION);
    if (f->row->host == GIT_HOST_GITHUB)
        h = curl_slist_append(h, "X-GitHub-Api-Version: 2022-11-28");
    if (body != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    for (attempt = 0;; attempt++) {
        forge_response_free(r);
        buf_init(&r->body);
        r->remaining = -1;
        r->reset = -1;
        curl_easy_reset(f->curl);
        curl_easy_setopt(f->curl, CURLOPT_URL, url);
        curl_easy_setopt(f->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, FORGE_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, FORGE_TIMEOUT_MS);
        curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYPEER, f->git->tls_verify ? 1L : 0L);
        curl_easy_setopt(f->curl, CURLOPT_SSL_VERIFYHOST, f->git->tls_verify ? 2L : 0L);
        if (f->git->ca_file != NULL)
            curl_easy_setopt(f->curl, CURLOPT_CAINFO, f->git->ca_file);
        curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(f->curl, CURLOPT_FOLLOWLOCATION, 0L);
        if (f->auth == NULL) {
            curl_easy_setopt(f->curl, CURLOPT_USERNAME, f->git->api.username);
            curl_easy_setopt(f->curl, CURLOPT_PASSWORD, f->git->api.token);
        }
        curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, forge_write);
        curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(f->curl, CURLOPT_HEADERFUNCTION, forge_header);
        curl_easy_setopt(f->curl, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(f->curl, CURLOPT_ERRORBUFFER, curlerr);
        if (payload != NULL) {
            curl_easy_setopt(f->curl, CURLOPT_POSTFIELDS, payload);
            curl_easy_setopt(f->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
        }
        curlerr[0] = '\0';
        rc = curl_easy_perform(f->curl);
        r->code = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &r->code);
        f->requests++;
        if (r->too_big) {
            set_error(err, "%s %s %s: the answer is larger than 16 MiB", f->row->name, method, endpoint);
            goto out;
        }
        /* GitHub says "rate limited" with 403 and x-ratelimit-remaining: 0. */
        limited = r->code == 429 || (r->code == 403 && r->remaining == 0);
        if (rc == CURLE_OK && !limited && r->code != 408 && r->code < 500)
            break;
        delay = (double)(FORGE_BACKOFF_MS << (attempt < 8 ? attempt : 8)) / 1000;
        delay = delay / 2 + delay / 2 * ((double)rand() / RAND_MAX);
        wait = rc == CURLE_OK ? forge_wait(f, r) : -1;
        if (wait > 0)
            delay = wait;
        if (attempt >= FORGE_MAX_RETRIES || now_mono() - start + delay > FORGE_BUDGET_S) {
            if (rc != CURLE_OK) {
                set_error(err, "%s %s %s: %s, gave up after %d tries", f->row->name, method,
                          endpoint, curlerr[0] ? curlerr : curl_easy_strerror(rc), attempt + 1);
            } else {
                r->json = jload(r->body.data, r->body.len, 0, &jerr);
                msg = forge_message(r);
                if (limited && wait > 0)
                    set_error(err, "%s %s %s: rate limited (HTTP %ld), the host says wait %.0f s: %s",
                              f->row->name, method, endpoint, r->code, wait, msg);
                else
                    set_error(err, "%s %s %s: HTTP %ld: %s, gave up after %d tries", f->row->name,
                              method, endpoint, r->code, msg, attempt + 1);
                free(msg);
            }
            goto out;
        }
        f->retries++;
        log_debug("git host request retried", "workspace", f->workspace, "host", f->row->name,
                  "method", method, "endpoint", endpoint,
                  "error", rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP status");
        usleep((useconds_t)(delay * 1e6));
    }
    if (r->body.len > 0)
        r->json = jload(r->body.data, r->body.len, 0, &jerr);
    if (r->code < 200 || r->code >= 300) {
        msg = forge_message(r);
        set_error(err, "%s %s %s: HTTP %ld: %s", f->row->name, method, endpoint, r->code, msg);
        free(msg);
        goto out;
    }
    if (r->body.len > 0 && r->json == NULL) {
        set_error(err, "%s %s %s: the answer is not JSON (line %d: %s)", f->row->name, method,
                  endpoint, jerr.line, jerr.text);
        goto out;
    }
    ret = 0;
out:
    curl_slist_free_all(h);
    free(payload);
    if (ret != 0) {
        long code = r->code; /* the caller may tell a 404 from other errors */

        forge_response_free(r);
        r->code = code;
    }
    return ret;
}

/* Send method to path (under the base or, with from_root, the server root). */
static int
forge_call(struct forge *f, const char *method, const char *path, bool from_root,
           const json_t *body, struct forge_response *r, char **err)
{
    char *url = xasprintf("%s%s", from_root ? f->root : f->base, path);
    char *endpoint = xstrdup(path), *q = strchr(endpoint, '?');
    int rc;

    if (q != NULL)
        *q = '\0';
    rc = forge_request(f, method, url, endpoint, body, r, err);
    free(url);
    free(endpoint);
    return rc;
}

/* ---- statuses -------------------------------------------------------- */

/* s cut to at most max bytes, on a UTF-8 character boundary. */
static char *
forge_cut(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return xstrdup(s);
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return xstrndup(s, len);
}

/* True if s is a full hex commit id. */
static bool
forge_is_sha(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");

    return (n == 40 || n == 64) && s[n] == '\0';
}

int
forge_set_status(struct forge *f, const char *sha, enum forge_state state,
                 const char *description, const char *url, char **err)
{
    struct forge_response r;
    json_t *body;
    char *path, *desc;
    int rc;

    if (!forge_is_sha(sha))
        return set_error(err, "%s status: \"%.50s\" is not a commit id", f->row->name, sha);
    desc = forge_cut(description != NULL ? description : "", FORGE_DESCRIPTION_MAX);
    body = json_object();
    json_object_set_new(body, "state", json_string(f->row->states[state]));
    json_object_set_new(body, f->row->status_key, json_string(f->context));
    if (f->row->status_name)
        json_object_set_new(body, "name", json_string(f->context));
    json_object_set_new(body, "description", json_string(desc));
    json_object_set_new(body, f->row->status_url, json_string(url != NULL ? url : f->web));
    path = forge_path(f, f->row->status_path, sha, "", "");
    rc = forge_call(f, "POST", path, f->row->status_from_root, body, &r, err);
    if (rc == 0) {
        log_info("commit status set", "workspace", f->workspace, "host", f->row->name,
                 "commit", sha, "state", f->row->states[state], "description", desc);
        forge_response_free(&r);
    }
    json_decref(body);
    free(path);
    free(desc);
    return rc;
}

/* ---- listings ------------------------------------------------------- */

/* Follow a '/'-separated path of object members; NULL if absent. */
static json_t *
forge_get(json_t *v, const char *path)
{
    char *copy, *p, *save = NULL;

    if (path == NULL)
        return v;
    copy = xstrdup(path);
    for (p = strtok_r(copy, "/", &save); p != NULL && v != NULL; p = strtok_r(NULL, "/", &save))
        v = json_object_get(v, p);
    free(copy);
    return v;
}

/* An id (a comment's, a request's) as text (numbers or strings), or NULL. */
static char *
forge_id_text(const json_t *id)
{
    if (json_is_integer(id))
        return xasprintf("%lld", (long long)json_integer_value(id));
    if (json_is_string(id) && strspn(json_string_value(id), "0123456789") == strlen(json_string_value(id)) &&
        json_string_length(id) > 0 && json_string_length(id) < 30)
        return xstrdup(json_string_value(id));
    return NULL;
}

/* Called on each item of a listing; true: found, stop walking. */
typedef bool forge_visit(json_t *item, void *arg);

/*
 * GET the listing at path (under the base) and hand each item of its list
 * (the answer's member items, or the answer itself when NULL) to visit,
 * page after page as the host pages it, until visit says found or there is
 * no next page.  A next page named by URL (Link, Bitbucket's "next") goes
 * through forge_request, which refuses any URL outside the API origin: the
 * token never follows a link to another host.  More than FORGE_MAX_PAGES
 * pages is an error, not a partial answer (a caller would take "not found"
 * for "none" and make a duplicate).  what names the items in messages.
 */
static int
forge_walk(struct forge *f, const char *path, const char *items_key, const char *what,
           forge_visit *visit, void *arg, char **err)
{
    struct forge_response r;
    json_t *items, *item;
    char *url, *endpoint;
    size_t i;
    int page, rc = 0;
    bool found = false;

    url = xasprintf("%s%s", f->base, path);
    endpoint = xstrndup(path, strcspn(path, "?"));
    for (page = 0; url != NULL; page++) {
        if (page == FORGE_MAX_PAGES) {
            rc = set_error(err, "%s GET %s: more than %d pages of %s, gave up", f->row->name,
                           endpoint, FORGE_MAX_PAGES, what);
            break;
        }
        if (forge_request(f, "GET", url, endpoint, NULL, &r, err) != 0) {
            rc = -1;
            break;
        }
        free(url);
        url = NULL;
        items = items_key != NULL ? json_object_get(r.json, items_key) : r.json;
        if (!json_is_array(items)) {
            rc = set_error(err, "%s GET %s: the answer holds no list of %s", f->row->name,
                           endpoint, what);
            forge_response_free(&r);
            break;
        }
        json_array_foreach(items, i, item) {
            if ((found = visit(item, arg)))
                break;
        }
        if (!found) {
            switch (f->row->paging) {
            case FORGE_PAGE_LINK:
                if (r.link_next != NULL)
                    url = xstrdup(r.link_next);
                break;
            case FORGE_PAGE_BODY_NEXT:
                if (json_is_string(json_object_get(r.json, "next")))
                    url = xstrdup(json_string_value(json_object_get(r.json, "next")));
                break;
            case FORGE_PAGE_START:
                if (json_is_false(json_object_get(r.json, "isLastPage")) &&
                    json_is_integer(json_object_get(r.json, "nextPageStart")))
                    url = xasprintf("%s%s%cstart=%lld", f->base, path,
                                    strchr(path, '?') != NULL ? '&' : '?',
                                    (long long)json_integer_value(json_object_get(r.json, "nextPageStart")));
                break;
            }
        }
        forge_response_free(&r);
    }
    free(url);
    free(endpoint);
    return rc;
}

/* ---- comments -------------------------------------------------------- */

struct forge_comment_visit {
    const struct forge *f;
    char *id;
    long long version;
};

static bool
forge_comment_visit(json_t *item, void *arg)
{
    struct forge_comment_visit *v = arg;
    const struct forge_row *row = v->f->row;
    json_t *c = forge_get(item, row->comment);
    const char *text = json_string_value(forge_get(c, row->text));

    if (text == NULL || strstr(text, v->f->marker) == NULL)
        return false;
    v->id = forge_id_text(json_object_get(c, "id"));
    if (row->version != NULL && json_is_integer(json_object_get(c, row->version)))
        v->version = (long long)json_integer_value(json_object_get(c, row->version));
    return v->id != NULL;
}

/*
 * Find this workspace's comment on request n: *id gets its id (NULL when
 * there is none) and *version its version (Bitbucket DC, else -1).
 */
static int
forge_find_comment(struct forge *f, const char *n, char **id, long long *version,
                   char **err)
{
    struct forge_comment_visit v = { f, NULL, -1 };
    char *path = forge_path(f, f->row->list_path, "", n, "");
    int rc;

    rc = forge_walk(f, path, f->row->items, "comments", forge_comment_visit, &v, err);
    free(path);
    if (rc != 0) {
        free(v.id);
        v.id = NULL;
        v.version = -1;
    }
    *id = v.id;
    *version = v.version;
    return rc;
}

int
forge_comment(struct forge *f, const char *request, const char *body,
              bool *updated, char **err)
{
    struct forge_response r;
    json_t *doc, *content;
    char *text, *id = NULL, *path;
    long long version;
    int rc;

    if (updated != NULL)
        *updated = false;
    if (request == NULL || request[0] == '\0' || strlen(request) > 19 ||
        strspn(request, "0123456789") != strlen(request))
        return set_error(err, "%s comment: \"%.30s\" is not a request number", f->row->name,
                         request != NULL ? request : "");
    text = xasprintf("%s\n%s", f->marker, body);
    if (forge_find_comment(f, request, &id, &version, err) != 0) {
        free(text);
        return -1;
    }
    doc = json_object();
    if (f->row->host == GIT_HOST_BITBUCKET) {
        content = json_object();
        json_object_set_new(content, "raw", json_string(text));
        json_object_set_new(doc, "content", content);
    } else {
        json_object_set_new(doc, f->row->text, json_string(text));
    }
    if (id != NULL && version >= 0)
        json_object_set_new(doc, "version", json_integer(version));
    if (id != NULL) {
        path = forge_path(f, f->row->update_path, "", request, id);
        rc = forge_call(f, f->row->update_method, path, false, doc, &r, err);
    } else {
        path = forge_path(f, f->row->create_path, "", request, "");
        rc = forge_call(f, "POST", path, false, doc, &r, err);
    }
    if (rc == 0) {
        log_info(id != NULL ? "request comment updated" : "request comment created",
                 "workspace", f->workspace, "host", f->row->name, "request", request,
                 "comment", id != NULL ? id : "new");
        forge_response_free(&r);
        if (updated != NULL)
            *updated = id != NULL;
    }
    json_decref(doc);
    free(path);
    free(id);
    free(text);
    return rc;
}

/* ---- requests gitsyncd opens (protected branches) -------------------- */

/*
 * Each host's pull/merge request endpoints.  {p} the project, {o} its
 * owner (GitHub), {h} the head branch and {b} the base branch (escaped),
 * {q} a BBQL filter on the head branch (Bitbucket Cloud), {n} the request.
 * The listing asks for open requests from {h}, filtered by the host where
 * its API can (GitHub head=owner:branch, GitLab source_branch, Bitbucket
 * Cloud q=source.branch.name, Data Center at=refs/heads/...); Gitea has no
 * such filter, so its listing is walked page by page (forge_walk), as is
 * every host's in case more than a page comes back.  The head and state
 * are checked again on each item.
 */
struct forge_pull_row {
    enum git_host host;
    const char *list_path;
    const char *all_path;    /* every state, newest first */
    const char *items;       /* the list in an answer; NULL: bare array */
    const char *head_key;    /* an item's head branch name */
    const char *number_key;  /* an item's number (GitHub "number", GitLab "iid") */
    const char *create_path;
    const char *update_method;
    const char *update_path;
    const char *text_key;    /* the description's field */
};

static const struct forge_pull_row forge_pull_rows[] = {
    { GIT_HOST_GITHUB, "/repos/{p}/pulls?state=open&head={o}%3A{h}&base={b}&per_page=100",
      "/repos/{p}/pulls?state=all&head={o}%3A{h}&base={b}&sort=created&direction=desc&per_page=100",
      NULL, "head/ref", "number", "/repos/{p}/pulls", "PATCH", "/repos/{p}/pulls/{n}", "body" },
    { GIT_HOST_GITLAB, "/projects/{p}/merge_requests?state=opened&source_branch={h}&per_page=100",
      "/projects/{p}/merge_requests?state=all&source_branch={h}&order_by=created_at&sort=desc&per_page=100",
      NULL, "source_branch", "iid", "/projects/{p}/merge_requests", "PUT",
      "/projects/{p}/merge_requests/{n}", "description" },
    { GIT_HOST_GITEA, "/repos/{p}/pulls?state=open&limit=50",
      "/repos/{p}/pulls?state=all&sort=recentupdate&limit=50",
      NULL, "head/ref", "number", "/repos/{p}/pulls", "PATCH", "/repos/{p}/pulls/{n}", "body" },
    { GIT_HOST_BITBUCKET, "/repositories/{p}/pullrequests?state=OPEN&q={q}&pagelen=50",
      "/repositories/{p}/pullrequests?state=OPEN&state=MERGED&state=DECLINED&q={q}&sort=-created_on&pagelen=50",
      "values", "source/branch/name", "id", "/repositories/{p}/pullrequests", "PUT",
      "/repositories/{p}/pullrequests/{n}", "description" },
    { GIT_HOST_BITBUCKET_SERVER,
      "/{p}/pull-requests?state=OPEN&direction=OUTGOING&at=refs%2Fheads%2F{h}&limit=100",
      "/{p}/pull-requests?state=ALL&direction=OUTGOING&at=refs%2Fheads%2F{h}&order=NEWEST&limit=100",
      "values", "fromRef/displayId", "id", "/{p}/pull-requests", "PUT",
      "/{p}/pull-requests/{n}", "description" },
};

static const struct forge_pull_row *
forge_pull_row(enum git_host host)
{
    size_t i;

    for (i = 0; i < nitems(forge_pull_rows); i++) {
        if (forge_pull_rows[i].host == host)
            return &forge_pull_rows[i];
    }
    return NULL;
}

/* The BBQL filter source.branch.name="head", escaped for a query. */
static char *
forge_bbql_head(const char *head)
{
    struct buf b;
    char *out;

    buf_init(&b);
    buf_adds(&b, "source.branch.name=\"");
    for (; *head != '\0'; head++) {
        if (*head == '"' || *head == '\\')
            buf_addc(&b, '\\');
        buf_addc(&b, *head);
    }
    buf_addc(&b, '"');
    out = forge_escape(b.data, false);
    buf_free(&b);
    return out;
}

/* A pull path template: {o}, {h}, {b} and {q} here, the rest by forge_path. */
static char *
forge_pull_path(const struct forge *f, const char *tmpl, const char *head,
                const char *base, const char *n)
{
    struct buf b;
    char *eh = forge_escape(head, false), *eb = forge_escape(base, false), *out;
    char *eq = forge_bbql_head(head);
    size_t olen = strcspn(f->project, "/");
    const char *p;

    buf_init(&b);
    buf_adds(&b, "");
    for (p = tmpl; *p != '\0'; p++) {
        if (strncmp(p, "{h}", 3) == 0) {
            buf_adds(&b, eh);
            p += 2;
        } else if (strncmp(p, "{b}", 3) == 0) {
            buf_adds(&b, eb);
            p += 2;
        } else if (strncmp(p, "{o}", 3) == 0) {
            buf_add(&b, f->project, olen);
            p += 2;
        } else if (strncmp(p, "{q}", 3) == 0) {
            buf_adds(&b, eq);
            p += 2;
        } else {
            buf_addc(&b, *p);
        }
    }
    out = forge_path(f, b.data, "", n, "");
    buf_free(&b);
    free(eh);
    free(eb);
    free(eq);
    return out;
}

/* The create body of a request from head into base. */
static json_t *
forge_pull_create_body(const struct forge *f, const char *head, const char *base,
                       const char *title, const char *text)
{
    json_t *doc = json_object();
    char *ref;

    json_object_set_new(doc, "title", json_string(title));
    switch (f->row->host) {
    case GIT_HOST_GITLAB:
        json_object_set_new(doc, "source_branch", json_string(head));
        json_object_set_new(doc, "target_branch", json_string(base));
        json_object_set_new(doc, "description", json_string(text));
        break;
    case GIT_HOST_BITBUCKET:
        json_object_set_new(doc, "description", json_string(text));
        json_object_set_new(doc, "source",
                            json_pack("{s:{s:s}}", "branch", "name", head));
        json_object_set_new(doc, "destination",
                            json_pack("{s:{s:s}}", "branch", "name", base));
        break;
    case GIT_HOST_BITBUCKET_SERVER:
        json_object_set_new(doc, "description", json_string(text));
        ref = xasprintf("refs/heads/%s", head);
        json_object_set_new(doc, "fromRef", json_pack("{s:s}", "id", ref));
        free(ref);
        ref = xasprintf("refs/heads/%s", base);
        json_object_set_new(doc, "toRef", json_pack("{s:s}", "id", ref));
        free(ref);
        break;
    default:
        json_object_set_new(doc, "head", json_string(head));
        json_object_set_new(doc, "base", json_string(base));
        json_object_set_new(doc, "body", json_string(text));
        break;
    }
    return doc;
}

/* A request item's state, in each host's words. */
static enum forge_pull_state
forge_pull_item_state(enum git_host host, json_t *item)
{
    const char *s = json_string_value(json_object_get(item, "state"));

    if (s == NULL)
        return FORGE_PULL_NONE;
    switch (host) {
    case GIT_HOST_GITHUB:
    case GIT_HOST_GITEA:
        if (strcmp(s, "open") == 0)
            return FORGE_PULL_OPEN;
        return json_is_true(json_object_get(item, "merged")) ||
                       json_is_string(json_object_get(item, "merged_at"))
                   ? FORGE_PULL_MERGED : FORGE_PULL_CLOSED;
    case GIT_HOST_GITLAB:
        return strcmp(s, "opened") == 0   ? FORGE_PULL_OPEN
               : strcmp(s, "merged") == 0 ? FORGE_PULL_MERGED : FORGE_PULL_CLOSED;
    default:
        return strcmp(s, "OPEN") == 0     ? FORGE_PULL_OPEN
               : strcmp(s, "MERGED") == 0 ? FORGE_PULL_MERGED : FORGE_PULL_CLOSED;
    }
}

struct forge_pull_visit {
    const struct forge *f;
    const struct forge_pull_row *pr;
    const char *head;
    bool open_only;
    json_t *found;
};

static bool
forge_pull_visit(json_t *item, void *arg)
{
    struct forge_pull_visit *v = arg;
    const char *h = json_string_value(forge_get(item, v->pr->head_key));
    char *n;

    if (h == NULL || strcmp(h, v->head) != 0)
        return false;
    if (v->open_only && forge_pull_item_state(v->f->row->host, item) != FORGE_PULL_OPEN)
        return false;
    n = forge_id_text(json_object_get(item, v->pr->number_key));
    if (n == NULL)
        return false;
    free(n);
    v->found = json_incref(item);
    return true;
}

/*
 * Walk the requests listed at tmpl for head -> base and hand back (a new
 * reference to) the first whose head is head (and, with open_only, that is
 * open), or NULL; -1 with *err when the list cannot be read whole.
 */
static int
forge_pull_lookup(struct forge *f, const char *tmpl, bool open_only, const char *head,
                  const char *base, json_t **found, char **err)
{
    const struct forge_pull_row *pr = forge_pull_row(f->row->host);
    struct forge_pull_visit v = { f, pr, head, open_only, NULL };
    char *path;
    int rc;

    *found = NULL;
    if (pr == NULL || tmpl == NULL)
        return set_error(err, "%s: no pull request support", f->row->name);
    path = forge_pull_path(f, tmpl, head, base, "");
    rc = forge_walk(f, path, pr->items, "requests", forge_pull_visit, &v, err);
    free(path);
    if (rc != 0) {
        json_decref(v.found);
        return -1;
    }
    *found = v.found;
    return 0;
}

int
forge_pull_find(struct forge *f, const char *head, const char *base,
                char **number, char **err)
{
    const struct forge_pull_row *pr = forge_pull_row(f->row->host);
    json_t *item;

    *number = NULL;
    if (forge_pull_lookup(f, pr != NULL ? pr->list_path : NULL, true, head, base, &item, err) != 0)
        return -1;
    if (item != NULL)
        *number = forge_id_text(json_object_get(item, pr->number_key));
    json_decref(item);
    return 0;
}

int
forge_pull_open(struct forge *f, const char *head, const char *base,
                const char *title, const char *text, char **number,
                bool *created, char **err)
{
    const struct forge_pull_row *pr = forge_pull_row(f->row->host);
    struct forge_response r;
    json_t *doc;
    char *path, *n = NULL;
    int rc;

    *number = NULL;
    *created = false;
    if (forge_pull_find(f, head, base, &n, err) != 0)
        return -1;
    if (n != NULL) {
        doc = json_object();
        json_object_set_new(doc, "title", json_string(title));
        json_object_set_new(doc, pr->text_key, json_string(text));
        if (f->row->host == GIT_HOST_BITBUCKET_SERVER) {
            /* Data Center wants the version it is replacing. */
            path = forge_pull_path(f, pr->update_path, head, base, n);
            if (forge_call(f, "GET", path, false, NULL, &r, err) != 0) {
                free(path);
                json_decref(doc);
                free(n);
                return -1;
            }
            json_object_set(doc, "version", json_object_get(r.json, "version"));
            forge_response_free(&r);
            free(path);
        }
        path = forge_pull_path(f, pr->update_path, head, base, n);
        rc = forge_call(f, pr->update_method, path, false, doc, &r, err);
    } else {
        doc = forge_pull_create_body(f, head, base, title, text);
        path = forge_pull_path(f, pr->create_path, head, base, "");
        rc = forge_call(f, "POST", path, false, doc, &r, err);
        if (rc == 0) {
            n = forge_id_text(json_object_get(r.json, pr->number_key));
            if (n == NULL) {
                set_error(err, "%s POST %s: the answer names no request %s", f->row->name,
                          path, pr->number_key);
                forge_response_free(&r);
                rc = -1;
            } else {
                *created = true;
            }
        }
    }
    if (rc == 0) {
        log_info(*created ? "pull request opened" : "pull request updated", "workspace",
                 f->workspace, "host", f->row->name, "request", n, "head", head, "base", base);
        forge_response_free(&r);
        *number = n;
        n = NULL;
    }
    json_decref(doc);
    free(path);
    free(n);
    return rc;
}

int
forge_pull_last(struct forge *f, const char *head, const char *base,
                enum forge_pull_state *state, char **number, char **err)
{
    const struct forge_pull_row *pr = forge_pull_row(f->row->host);
    json_t *item;

    *state = FORGE_PULL_NONE;
    *number = NULL;
    if (forge_pull_lookup(f, pr != NULL ? pr->all_path : NULL, false, head, base, &item, err) != 0)
        return -1;
    if (item != NULL) {
        *number = forge_id_text(json_object_get(item, pr->number_key));
        *state = forge_pull_item_state(f->row->host, item);
    }
    json_decref(item);
    return 0;
}

/* ---- branch protection (gitsyncd doctor) ----------------------------- */

/* GET path (under the base, or the server root); 404 is *found false. */
static int
forge_get_optional(struct forge *f, const char *path, bool from_root, bool *found,
                   struct forge_response *r, char **err)
{
    char *e = NULL;

    *found = false;
    if (forge_call(f, "GET", path, from_root, NULL, r, &e) == 0) {
        *found = true;
        return 0;
    }
    if (r->code == 404) {
        free(e);
        return 0;
    }
    *err = e;
    return -1;
}

/* True if a JSON list (or obj[key]) has an item whose key is one of names. */
static bool
forge_any_of(json_t *list, const char *key, const char *const *names)
{
    json_t *item;
    size_t i, j;

    json_array_foreach(list, i, item) {
        const char *v = json_string_value(json_object_get(item, key));

        for (j = 0; v != NULL && names[j] != NULL; j++) {
            if (strcmp(v, names[j]) == 0)
                return true;
        }
    }
    return false;
}

int
forge_branch_protected(struct forge *f, const char *branch, bool *refused,
                       char **how, char **err)
{
    static const char *const gh_rules[] = { "pull_request", "update", NULL };
    static const char *const bb_kinds[] = { "push", NULL };
    static const char *const bbs_types[] = { "read-only", "pull-request-only", NULL };
    struct forge_response r;
    char *eb = forge_escape(branch, false), *tmpl, *path;
    bool found = false;
    int rc = -1;

    *refused = false;
    *how = NULL;
    memset(&r, 0, sizeof r);
    switch (f->row->host) {
    case GIT_HOST_GITHUB:
        tmpl = xasprintf("/repos/{p}/branches/%s/protection", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, false, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found) {
            *refused = true;
            *how = xstrdup("GitHub branch protection");
            break;
        }
        forge_response_free(&r);
        if (rc != 0)
            break;
        tmpl = xasprintf("/repos/{p}/rules/branches/%s", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, false, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found && json_is_array(r.json) && forge_any_of(r.json, "type", gh_rules)) {
            *refused = true;
            *how = xstrdup("a GitHub ruleset (pull_request or update rule)");
        }
        break;
    case GIT_HOST_GITLAB:
        tmpl = xasprintf("/projects/{p}/protected_branches/%s", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, false, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found) {
            *refused = true;
            *how = xstrdup("a GitLab protected branch");
        }
        break;
    case GIT_HOST_GITEA:
        tmpl = xasprintf("/repos/{p}/branch_protections/%s", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, false, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found && (!json_is_true(json_object_get(r.json, "enable_push")) ||
                                 json_is_true(json_object_get(r.json, "enable_push_whitelist")))) {
            *refused = true;
            *how = xstrdup("a Gitea branch protection");
        }
        break;
    case GIT_HOST_BITBUCKET:
        tmpl = xasprintf("/repositories/{p}/branch-restrictions?pattern=%s&pagelen=100", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, false, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found && json_is_array(json_object_get(r.json, "values")) &&
            forge_any_of(json_object_get(r.json, "values"), "kind", bb_kinds)) {
            *refused = true;
            *how = xstrdup("a Bitbucket branch restriction (push)");
        }
        break;
    case GIT_HOST_BITBUCKET_SERVER:
        /* {p} is "projects/KEY/repos/slug"; this API sits beside the REST one. */
        tmpl = xasprintf("/rest/branch-permissions/2.0/{p}/restrictions?matcherType=BRANCH&matcherId=refs%%2Fheads%%2F%s", eb);
        path = forge_path(f, tmpl, "", "", "");
        rc = forge_get_optional(f, path, true, &found, &r, err);
        free(tmpl);
        free(path);
        if (rc == 0 && found && json_is_array(json_object_get(r.json, "values")) &&
            forge_any_of(json_object_get(r.json, "values"), "type", bbs_types)) {
            *refused = true;
            *how = xstrdup("a Bitbucket branch permission (read-only or pull-request-only)");
        }
        break;
    default:
        set_error(err, "%s: no branch protection API", f->row->name);
        break;
    }
    forge_response_free(&r);
    free(eb);
    return rc;
}
