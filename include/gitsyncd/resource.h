/*
 * resource: the canonical YAML form of a resource (DESIGN §3) and its
 * validation against a profile.
 */
#ifndef GITSYNCD_RESOURCE_H
#define GITSYNCD_RESOURCE_H

#include <stddef.h>

#include <jansson.h>

#include "gitsyncd/profile.h"

/*
 * Encode a JSON value as canonical YAML: keys in the given order first
 * (order may be NULL), then the rest sorted; deterministic to the byte.
 * Returns a new NUL-terminated string; *len (if not NULL) gets its length.
 */
char *resource_encode(const json_t *value, const char *const *order,
                      size_t norder, size_t *len);

/*
 * Decode YAML text into a JSON value.  On error returns -1 with *err set
 * to "name:line:col: message".
 */
int resource_decode(const char *name, const char *data, size_t len,
                    json_t **out, char **err);

/*
 * Check a decoded resource of kind k stored under slug against profile p:
 * slug rule, the slug: key if present, required fields, field types.
 * References are checked by the caller, who knows the tree.  Returns -1
 * with *err set to a message (without position) on the first problem.
 */
int resource_validate(const struct profile *p, const struct profile_kind *k,
                      const char *slug, const json_t *doc, char **err);

#endif
