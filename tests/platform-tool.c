/*
 * platform-tool: drive src/platform.c from shell tests and benchmarks.
 *
 *   PT_PROFILE=demo PT_URL=http://127.0.0.1:P/api/v1 PT_TOKEN=t
 *   [PT_TIMEOUT_MS=..] [PT_RETRIES=..] platform-tool COMMAND ...
 *
 *   list KIND               the slugs of every KIND, all pages
 *   get KIND SLUG           the platform's object, JSON
 *   yaml KIND SLUG          its Git form, canonical YAML
 *   create KIND YAML        create from a Git-form document (references as slugs)
 *   update KIND SLUG YAML   update from a Git-form document
 *   delete KIND SLUG
 *   updates KIND SLUG N     N sequential updates of the name (benchmark)
 *   parse FILE [jansson]    parse the JSON documents in FILE, separated by
 *                           lines "@@page@@", and nothing else, with jload as
 *                           the daemon does (or json_loadb); print
 *                           "documents D bytes B seconds S" (benchmark)
 *
 * The last line on stderr is "requests R retries T connections C".
 * Exit status: 0 ok, 1 the platform refused or failed (message on stderr).
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "gitsyncd/jload.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

static const char *
env(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : def;
}

static int
tool_fail(enum platform_result r, char *err)
{
    fprintf(stderr, "%s: %s\n", platform_result_name(r), err != NULL ? err : "");
    free(err);
    return 1;
}

/* The floor of any client that parses its pages: the parse alone. */
static int
tool_parse(const char *file, bool jansson)
{
    static const char sep[] = "@@page@@\n";
    struct timespec t0, t1;
    json_error_t jerr;
    size_t len, bytes = 0;
    char *text = NULL, *p, *end;
    int docs = 0;
    json_t *j;
    FILE *f = fopen(file, "rb");

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = (size_t)ftell(f)) == 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "platform-tool: cannot read %s\n", file);
        if (f != NULL)
            fclose(f);
        return 2;
    }
    text = xmalloc(len + 1);
    len = fread(text, 1, len, f);
    text[len] = '\0';
    fclose(f);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (p = text; p < text + len; p = end + sizeof sep - 1) {
        if ((end = strstr(p, sep)) == NULL)
            end = text + len;
        j = jansson ? json_loadb(p, (size_t)(end - p), 0, &jerr) : jload(p, (size_t)(end - p), 0, &jerr);
        if (j == NULL) {
            fprintf(stderr, "platform-tool: %s: document %d: %s\n", file, docs + 1, jerr.text);
            free(text);
            return 1;
        }
        json_decref(j);
        bytes += (size_t)(end - p);
        docs++;
        if (end == text + len)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("documents %d bytes %zu seconds %.6f\n", docs, bytes,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(text);
    return 0;
}

int
main(int argc, char **argv)
{
    struct config_platform cfg;
    struct platform_snapshot *snap = NULL;
    const struct platform_object *o;
    const struct profile_kind *k = NULL;
    const struct platform_stats *st;
    struct profile *p = NULL;
    struct platform *pl;
    enum platform_result r = PLATFORM_OK;
    json_t *items = NULL, *doc = NULL, *body = NULL, *res = NULL, *v;
    char *err = NULL, *y;
    size_t i;
    int rc = 0, n;

    if (argc < 3) {
        fprintf(stderr, "usage: platform-tool COMMAND KIND ... (see the source)\n");
        return 2;
    }
    jload_init(); /* as the daemon does */
    if (strcmp(argv[1], "parse") == 0)
        return tool_parse(argv[2], argc > 3 && strcmp(argv[3], "jansson") == 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (profile_load(env("PT_PROFILE", "demo"), NULL, &p, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    k = profile_kind_by_name(p, argv[2]);
    if (k == NULL) {
        fprintf(stderr, "no kind %s\n", argv[2]);
        return 2;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.url = (char *)env("PT_URL", "http://127.0.0.1:8090/api/v1");
    cfg.token = (char *)env("PT_TOKEN", "demo-token");
    cfg.connect_timeout_ms = 2000;
    cfg.timeout_ms = atoll(env("PT_TIMEOUT_MS", "10000"));
    cfg.max_retries = atoi(env("PT_RETRIES", "8"));
    cfg.tls_verify = true;
    pl = platform_new(p, &cfg, "test");

    if (strcmp(argv[1], "list") == 0) {
        r = platform_list(pl, k, &items, &err);
        if (r == PLATFORM_OK) {
            json_array_foreach(items, i, v)
                printf("%s\n", json_string_value(json_object_get(v, k->slug_field)));
        }
    } else if ((strcmp(argv[1], "get") == 0 || strcmp(argv[1], "yaml") == 0) && argc >= 4) {
        r = platform_snapshot(pl, &snap, &err);
        o = r == PLATFORM_OK ? platform_snapshot_find_slug(snap, k, argv[3]) : NULL;
        if (r == PLATFORM_OK && o == NULL) {
            err = xasprintf("no %s %s", k->name, argv[3]);
            r = PLATFORM_NOTFOUND;
        } else if (r == PLATFORM_OK && argv[1][0] == 'g') {
            y = json_dumps(o->raw, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", y);
            free(y);
        } else if (r == PLATFORM_OK) {
            doc = platform_to_git(k, o->raw, snap, &err);
            if (doc == NULL) {
                r = PLATFORM_ERROR;
            } else {
                y = resource_encode(doc, (const char *const *)k->order, k->norder, NULL);
                fputs(y, stdout);
                free(y);
            }
        }
    } else if ((strcmp(argv[1], "create") == 0 && argc >= 4) ||
               (strcmp(argv[1], "update") == 0 && argc >= 5)) {
        bool create = argv[1][0] == 'c';
        const char *text = argv[create ? 3 : 4];

        if (resource_decode("arg", text, strlen(text), &doc, &err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        r = platform_snapshot(pl, &snap, &err);
        if (r == PLATFORM_OK) {
            body = platform_from_git(k, doc, snap, &err);
            if (body == NULL) {
                r = PLATFORM_INVALID;
            } else if (create) {
                r = platform_create(pl, k, body, "Platform Tool <tool@example.com>", &res, &err);
            } else {
                o = platform_snapshot_find_slug(snap, k, argv[3]);
                if (o == NULL) {
                    err = xasprintf("no %s %s", k->name, argv[3]);
                    r = PLATFORM_NOTFOUND;
                } else {
                    r = platform_update(pl, k, o->id, body, NULL, &res, &err);
                }
            }
            if (r == PLATFORM_OK) {
                y = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
                printf("%s\n", y);
                free(y);
            }
        }
    } else if (strcmp(argv[1], "delete") == 0 && argc >= 4) {
        r = platform_get_by_slug(pl, k, argv[3], &res, &err);
        if (r == PLATFORM_OK && res == NULL) {
            err = xasprintf("no %s %s", k->name, argv[3]);
            r = PLATFORM_NOTFOUND;
        } else if (r == PLATFORM_OK) {
            v = json_object_get(res, k->id_field);
            y = json_is_integer(v) ? xasprintf("%lld", (long long)json_integer_value(v))
                                   : xstrdup(json_string_value(v) ? json_string_value(v) : "");
            r = platform_delete(pl, k, y, NULL, &err);
            free(y);
        }
    } else if (strcmp(argv[1], "updates") == 0 && argc >= 5) {
        r = platform_get_by_slug(pl, k, argv[3], &res, &err);
        if (r == PLATFORM_OK && res != NULL) {
            char *id = xasprintf("%lld", (long long)json_integer_value(json_object_get(res, k->id_field)));

            n = atoi(argv[4]);
            for (i = 0; (int)i < n && r == PLATFORM_OK; i++) {
                char name[32];
                json_t *patch;

                snprintf(name, sizeof name, "Updated %zu", i);
                patch = json_pack("{s:s}", "name", name);
                json_t *out = NULL;

                r = platform_update(pl, k, id, patch, NULL, &out, &err);
                json_decref(out);
                json_decref(patch);
            }
            free(id);
        }
    } else {
        fprintf(stderr, "unknown command %s\n", argv[1]);
        return 2;
    }
    if (r != PLATFORM_OK)
        rc = tool_fail(r, err);
    st = platform_stats(pl);
    fprintf(stderr, "requests %lu retries %lu connections %lu\n", st->requests, st->retries,
            st->connections);
    json_decref(items);
    json_decref(doc);
    json_decref(body);
    json_decref(res);
    platform_snapshot_free(snap);
    platform_free(pl);
    profile_free(p);
    curl_global_cleanup();
    return rc;
}
