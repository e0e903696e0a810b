/* status: what /status shows per workspace, updated from any thread. */
#ifndef GITSYNCD_STATUS_H
#define GITSYNCD_STATUS_H

#include <jansson.h>

/* Merge fields (stolen) into the workspace's entry. */
void status_update(const char *workspace, json_t *fields);
/* Set a block beside "workspaces" (value stolen; "workspaces" is refused). */
void status_set(const char *key, json_t *value);
/* Forget workspaces no longer configured (names: NULL-terminated). */
void status_keep_only(const char *const *names);
/* The whole document, a new string. */
char *status_render(void);
void status_shutdown(void);

#endif
