/* status: per-workspace sync state for /status. */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/log.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *status_doc;
static json_t *status_top; /* blocks beside "workspaces", such as "cluster" */

/*
 * Redact every string in v, in place: /status is often on the public
 * address, and a platform's error may echo the request (its token).
 */
static void
status_redact(json_t *v)
{
    const char *key;
    json_t *item;
    char *clean;
    size_t i;

    if (json_is_string(v)) {
        clean = log_redact(json_string_value(v));
        if (strcmp(clean, json_string_value(v)) != 0 && json_string_set(v, clean) != 0)
            json_string_set(v, "<redacted>");
        free(clean);
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, item)
            status_redact(item);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item)
            status_redact(item);
    }
}

void
status_update(const char *workspace, json_t *fields)
{
    json_t *ws;

    status_redact(fields);
    pthread_mutex_lock(&status_lock);
    if (status_doc == NULL)
        status_doc = json_object();
    ws = json_object_get(status_doc, workspace);
    if (ws == NULL) {
        ws = json_object();
        json_object_set_new(status_doc, workspace, ws);
    }
    json_object_update(ws, fields);
    pthread_mutex_unlock(&status_lock);
    json_decref(fields);
}

void
status_keep_only(const char *const *names)
{
    const char *key;
    json_t *v;
    void *tmp;
    size_t i;
    bool keep;

    pthread_mutex_lock(&status_lock);
    json_object_foreach_safe(status_doc, tmp, key, v) {
        keep = false;
        for (i = 0; names[i] != NULL && !keep; i++)
            keep = strcmp(names[i], key) == 0;
        if (!keep)
            json_object_del(status_doc, key);
    }
    pthread_mutex_unlock(&status_lock);
}

char *
status_render(void)
{
    json_t *doc;
    char *s;

    pthread_mutex_lock(&status_lock);
    if (status_doc == NULL)
        status_doc = json_object();
    doc = json_pack("{s:O}", "workspaces", status_doc);
    if (status_top != NULL)
        json_object_update(doc, status_top);
    s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    pthread_mutex_unlock(&status_lock);
    json_decref(doc);
    return s;
}

void
status_set(const char *key, json_t *value)
{
    status_redact(value);
    pthread_mutex_lock(&status_lock);
    if (status_top == NULL)
        status_top = json_object();
    json_object_set_new(status_top, key, value);
    pthread_mutex_unlock(&status_lock);
}

void
status_shutdown(void)
{
    pthread_mutex_lock(&status_lock);
    json_decref(status_top);
    status_top = NULL;
    json_decref(status_doc);
    status_doc = NULL;
    pthread_mutex_unlock(&status_lock);
}
