/*
 * pullreq: the one open request per workspace that carries gitsyncd's
 * outbound commits when the branch takes no direct pushes (DESIGN §11,
 * git.write pull_request or auto).  Its head is gitsyncd/<workspace>; it
 * is opened through the Git host's API (forge), reused while open (its
 * description replaced), and a new one is opened after it is merged or
 * closed.
 */
#ifndef GITSYNCD_PULLREQ_H
#define GITSYNCD_PULLREQ_H

#include <stdbool.h>
#include <stddef.h>

#include "gitsyncd/config.h"

/* "gitsyncd/<workspace>": the branch gitsyncd owns (malloc'd). */
char *pullreq_branch(const char *workspace);

/*
 * Open or update the workspace's request; text is its description (the
 * resources and actors), nchanges how many resources it carries.
 * *number gets the request's number (malloc'd).  Returns 0 or -1 with *err.
 */
int pullreq_publish(const struct config_workspace *ws, const char *platform,
                    const char *text, size_t nchanges, char **number,
                    char **err);

/*
 * Whether the workspace's newest request was closed without merging:
 * *closed, and *number its number (malloc'd, or NULL).  Returns 0 or -1.
 */
int pullreq_rejected(const struct config_workspace *ws, bool *closed,
                     char **number, char **err);

#endif
