/*
 * The reference for jload_only, written from its specification in
 * jload.h and shared by the unit test and the fuzz target: a copy of a
 * whole jansson value with only the members on paths, all below them,
 * the containers above them (with just those members) and the scalars
 * above them.
 */
#ifndef GITSYNCD_TESTS_JLOAD_FILTER_H
#define GITSYNCD_TESTS_JLOAD_FILTER_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* 2: on a path or below one; 1: above one; 0: neither. */
static int
jfilter_class(const char *const *paths, const char *path)
{
    size_t len = strlen(path), pl, i;
    int r = 0;

    for (i = 0; paths[i] != NULL; i++) {
        pl = strlen(paths[i]);
        if (pl <= len && strncmp(paths[i], path, pl) == 0 && (path[pl] == '\0' || path[pl] == '/'))
            return 2;
        if (pl > len && strncmp(paths[i], path, len) == 0 && paths[i][len] == '/')
            r = 1;
    }
    return r;
}

static json_t *jfilter_at(const json_t *v, const char *path, const char *const *paths);

static void
jfilter_member(json_t *into, const char *key, const json_t *child, const char *path,
               const char *const *paths)
{
    char sub[1024];
    int c;

    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "/" : "", key != NULL ? key : "*");
    c = jfilter_class(paths, sub);
    if (c == 0)
        return;
    child = c == 2 ? json_deep_copy(child) : jfilter_at(child, sub, paths);
    if (key != NULL)
        json_object_set_new(into, key, (json_t *)child);
    else
        json_array_append_new(into, (json_t *)child);
}

static json_t *
jfilter_at(const json_t *v, const char *path, const char *const *paths)
{
    const json_t *child;
    const char *key;
    json_t *out;
    size_t i;

    if (json_is_object(v)) {
        out = json_object();
        json_object_foreach((json_t *)v, key, child)
            jfilter_member(out, key, child, path, paths);
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        json_array_foreach(v, i, child)
            jfilter_member(out, NULL, child, path, paths);
        return out;
    }
    return json_deep_copy(v);
}

/* The part of v that jload_only(..., paths, ...) builds. */
static json_t *
jfilter(const json_t *v, const char *const *paths)
{
    return jfilter_at(v, "", paths);
}

#endif
