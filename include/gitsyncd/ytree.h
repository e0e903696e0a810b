/*
 * ytree: a YAML file loaded as a tree of nodes that remember their line and
 * column, for the loaders of configuration and profiles.  Anchors, aliases,
 * tags, duplicate keys and more than one document are refused.
 */
#ifndef GITSYNCD_YTREE_H
#define GITSYNCD_YTREE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_type { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
    enum ynode_type type;
    int line; /* 1-based */
    int col;  /* 1-based */
    /* YNODE_SCALAR */
    char *scalar;
    bool plain; /* an unquoted scalar (so "null" vs null can be told) */
    /* YNODE_MAP: keys[i] -> values[i]; YNODE_SEQ: values[i] */
    size_t n;
    struct ynode **keys;
    struct ynode **values;
};

/*
 * Parse a YAML document from a buffer.  name is used in messages, which
 * read "name:line:col: message".  An empty document gives an empty map.
 */
int ytree_parse(const char *name, const char *data, size_t len,
                struct ynode **root, char **err);
/* Read and parse a file (at most 8 MiB). */
int ytree_load_file(const char *path, struct ynode **root, char **err);
void ytree_free(struct ynode *node);

/* The value of key in a map, or NULL. */
const struct ynode *ytree_get(const struct ynode *map, const char *key);
/* "mapping", "sequence" or "scalar". */
const char *ytree_type_name(enum ynode_type type);

#endif
