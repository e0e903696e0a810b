/*
 * resource: the canonical YAML form of a resource (DESIGN §3) and its
 * validation against a profile.  doc/gitsyncd-resource.5 is the format.
 */
#ifndef GITSYNCD_RESOURCE_H
#define GITSYNCD_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "gitsyncd/profile.h"

/* Limits of what decoding accepts. */
#define RESOURCE_MAX_FILE (8u << 20)
#define RESOURCE_MAX_SCALAR (1u << 20)
#define RESOURCE_MAX_DEPTH 64

/*
 * Encode a JSON value as canonical YAML: keys of the top-level mapping in
 * the given order first (order may be NULL), then the rest sorted bytewise;
 * nested mappings sorted; deterministic to the byte, final newline.
 * Returns a new NUL-terminated string; *len (if not NULL) gets its length.
 */
char *resource_encode(const json_t *value, const char *const *order,
                      size_t norder, size_t *len);

/* Where each top-level key of a decoded mapping was (for messages). */
struct resource_pos {
    char *key;
    int line, col;     /* of the key */
    int vline, vcol;   /* of its value */
};

struct resource_marks {
    struct resource_pos *v;
    size_t n;
};

/*
 * Decode YAML text into a JSON value.  On error returns -1 with *err set
 * to "name:line:col: message".  marks (may be NULL) gets the positions of
 * the top-level keys; free them with resource_marks_free.
 */
int resource_decode(const char *name, const char *data, size_t len,
                    json_t **out, char **err);
int resource_decode_marks(const char *name, const char *data, size_t len,
                          json_t **out, struct resource_marks *marks,
                          char **err);
void resource_marks_free(struct resource_marks *marks);
/* The position of key in marks, or NULL. */
const struct resource_pos *resource_marks_find(const struct resource_marks *m,
                                               const char *key);

/*
 * Check a decoded resource of kind k stored under slug against profile p:
 * a mapping, the slug rule, the slug: key if present, required fields,
 * field types.  References are checked by the caller, who knows the tree.
 * Returns -1 with *err set to a message (without position) on the first
 * problem; *key (if not NULL) names the top-level key at fault, or NULL.
 */
int resource_validate(const struct profile *p, const struct profile_kind *k,
                      const char *slug, const json_t *doc, char **err);
int resource_validate_key(const struct profile *p,
                          const struct profile_kind *k, const char *slug,
                          const json_t *doc, const char **key, char **err);

#endif
