/* ytree: a YAML file as a tree of nodes with line and column. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "gitsyncd/ytree.h"
#include "gitsyncd/util.h"

#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_FILE (8u << 20)

struct ytree_parser {
    const char *name;
    yaml_parser_t parser;
    char **err;
};

static struct ynode *
ytree_node(enum ynode_type type, const yaml_mark_t *mark)
{
    struct ynode *n = xcalloc(1, sizeof *n);

    n->type = type;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    return n;
}

void
ytree_free(struct ynode *node)
{
    size_t i;

    if (node == NULL)
        return;
    for (i = 0; i < node->n; i++) {
        if (node->keys != NULL)
            ytree_free(node->keys[i]);
        ytree_free(node->values[i]);
    }
    free(node->keys);
    free(node->values);
    free(node->scalar);
    free(node);
}

static int
ytree_fail(struct ytree_parser *yp, const yaml_mark_t *mark, const char *msg)
{
    return set_error(yp->err, "%s:%zu:%zu: %s", yp->name, mark->line + 1,
                     mark->column + 1, msg);
}

static int
ytree_next(struct ytree_parser *yp, yaml_event_t *ev)
{
    if (yaml_parser_parse(&yp->parser, ev))
        return 0;
    return set_error(yp->err, "%s:%zu:%zu: %s%s%s", yp->name,
                     yp->parser.problem_mark.line + 1,
                     yp->parser.problem_mark.column + 1,
                     yp->parser.problem ? yp->parser.problem : "invalid YAML",
                     yp->parser.context ? " " : "",
                     yp->parser.context ? yp->parser.context : "");
}

static void
ytree_append(struct ynode *parent, struct ynode *key, struct ynode *value)
{
    parent->values = xreallocarray(parent->values, parent->n + 1,
                                   sizeof *parent->values);
    if (parent->type == YNODE_MAP) {
        parent->keys = xreallocarray(parent->keys, parent->n + 1,
                                     sizeof *parent->keys);
        parent->keys[parent->n] = key;
    }
    parent->values[parent->n++] = value;
}

/* Parse the node that starts with ev (which this function owns). */
static int
ytree_parse_node(struct ytree_parser *yp, yaml_event_t *ev, int depth,
                 struct ynode **out)
{
    struct ynode *node = NULL, *key = NULL, *value = NULL;
    yaml_event_t next;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    size_t i;

    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        ytree_fail(yp, &ev->start_mark, "aliases are not allowed");
        goto fail;
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
        ytree_fail(yp, &ev->start_mark, "unexpected YAML event");
        goto fail;
    }
    if (anchor != NULL) {
        ytree_fail(yp, &ev->start_mark, "anchors are not allowed");
        goto fail;
    }
    if (tag != NULL) {
        ytree_fail(yp, &ev->start_mark, "tags are not allowed");
        goto fail;
    }
    if (depth > YTREE_MAX_DEPTH) {
        ytree_fail(yp, &ev->start_mark, "nesting deeper than 64 levels");
        goto fail;
    }

    if (ev->type == YAML_SCALAR_EVENT) {
        node = ytree_node(YNODE_SCALAR, &ev->start_mark);
        node->scalar = xstrndup((const char *)ev->data.scalar.value,
                                ev->data.scalar.length);
        if (strlen(node->scalar) != ev->data.scalar.length) {
            ytree_fail(yp, &ev->start_mark, "NUL byte in a string");
            goto fail;
        }
        node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        yaml_event_delete(ev);
        *out = node;
        return 0;
    }

    node = ytree_node(ev->type == YAML_MAPPING_START_EVENT ? YNODE_MAP
                                                           : YNODE_SEQ,
                      &ev->start_mark);
    yaml_event_delete(ev);
    for (;;) {
        if (ytree_next(yp, &next) != 0)
            goto fail_node;
        if (next.type == YAML_MAPPING_END_EVENT ||
            next.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&next);
            break;
        }
        if (node->type == YNODE_SEQ) {
            if (ytree_parse_node(yp, &next, depth + 1, &value) != 0)
                goto fail_node;
            ytree_append(node, NULL, value);
            continue;
        }
        if (next.type != YAML_SCALAR_EVENT) {
            ytree_fail(yp, &next.start_mark, "a mapping key must be a string");
            yaml_event_delete(&next);
            goto fail_node;
        }
        if (ytree_parse_node(yp, &next, depth + 1, &key) != 0)
            goto fail_node;
        for (i = 0; i < node->n; i++) {
            if (strcmp(node->keys[i]->scalar, key->scalar) == 0) {
                set_error(yp->err, "%s:%d:%d: duplicate key \"%s\" (first at line %d)",
                          yp->name, key->line, key->col, key->scalar,
                          node->keys[i]->line);
                ytree_free(key);
                goto fail_node;
            }
        }
        if (ytree_next(yp, &next) != 0) {
            ytree_free(key);
            goto fail_node;
        }
        if (ytree_parse_node(yp, &next, depth + 1, &value) != 0) {
            ytree_free(key);
            goto fail_node;
        }
        ytree_append(node, key, value);
    }
    *out = node;
    return 0;

fail:
    yaml_event_delete(ev);
fail_node:
    ytree_free(node);
    return -1;
}

int
ytree_parse(const char *name, const char *data, size_t len,
            struct ynode **root, char **err)
{
    struct ytree_parser yp = { .name = name, .err = err };
    yaml_event_t ev;
    yaml_mark_t start = { 0, 0, 0 };
    struct ynode *node = NULL;
    int rc = -1;

    *root = NULL;
    if (len > YTREE_MAX_FILE)
        return set_error(err, "%s: file larger than 8 MiB", name);
    if (!yaml_parser_initialize(&yp.parser))
        return set_error(err, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&yp.parser, (const unsigned char *)data, len);

    if (ytree_next(&yp, &ev) != 0) /* STREAM-START */
        goto out;
    yaml_event_delete(&ev);
    if (ytree_next(&yp, &ev) != 0)
        goto out;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        *root = ytree_node(YNODE_MAP, &start);
        rc = 0;
        goto out;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (ytree_next(&yp, &ev) != 0)
        goto out;
    if (ytree_parse_node(&yp, &ev, 1, &node) != 0)
        goto out;
    if (ytree_next(&yp, &ev) != 0) /* DOCUMENT-END */
        goto out;
    yaml_event_delete(&ev);
    if (ytree_next(&yp, &ev) != 0)
        goto out;
    if (ev.type != YAML_STREAM_END_EVENT) {
        ytree_fail(&yp, &ev.start_mark, "more than one YAML document");
        yaml_event_delete(&ev);
        goto out;
    }
    yaml_event_delete(&ev);
    /* An empty document ("---" alone) is an empty plain scalar. */
    if (node->type == YNODE_SCALAR && node->plain && node->scalar[0] == '\0') {
        node->type = YNODE_MAP;
        free(node->scalar);
        node->scalar = NULL;
    }
    *root = node;
    node = NULL;
    rc = 0;
out:
    ytree_free(node);
    yaml_parser_delete(&yp.parser);
    return rc;
}

int
ytree_load_file(const char *path, struct ynode **root, char **err)
{
    char *data;
    size_t len;
    int rc;

    *root = NULL;
    if (read_file(path, YTREE_MAX_FILE, &data, &len, err) != 0)
        return -1;
    rc = ytree_parse(path, data, len, root, err);
    free(data);
    return rc;
}

const struct ynode *
ytree_get(const struct ynode *map, const char *key)
{
    size_t i;

    if (map == NULL || map->type != YNODE_MAP)
        return NULL;
    for (i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->values[i];
    }
    return NULL;
}

const char *
ytree_type_name(enum ynode_type type)
{
    switch (type) {
    case YNODE_SCALAR:
        return "scalar";
    case YNODE_MAP:
        return "mapping";
    case YNODE_SEQ:
        return "sequence";
    }
    return "?";
}
