/* pullreq: the request that carries outbound commits (protected branches). */
#include "autoconfig.h"

#include <stdlib.h>

#include "gitsyncd/forge.h"
#include "gitsyncd/log.h"
#include "gitsyncd/pullreq.h"
#include "gitsyncd/util.h"

char *
pullreq_branch(const char *workspace)
{
    return xasprintf("gitsyncd/%s", workspace);
}

int
pullreq_publish(const struct config_workspace *ws, const char *platform,
                const char *text, size_t nchanges, char **number, char **err)
{
    struct forge *f;
    char *head, *title;
    bool created;
    int rc;

    *number = NULL;
    f = forge_new(&ws->git, ws->name, err);
    if (f == NULL)
        return -1;
    head = pullreq_branch(ws->name);
    title = xasprintf("gitsyncd: %zu change%s made on %s (workspace %s)", nchanges,
                      nchanges == 1 ? "" : "s", platform, ws->name);
    rc = forge_pull_open(f, head, ws->git.branch, title, text, number, &created, err);
    if (rc == 0)
        log_info(created ? "outbound changes: pull request opened"
                         : "outbound changes: pull request updated",
                 "workspace", ws->name, "request", *number, "branch", head);
    free(title);
    free(head);
    forge_free(f);
    return rc;
}

int
pullreq_rejected(const struct config_workspace *ws, bool *closed, char **number,
                 char **err)
{
    enum forge_pull_state state;
    struct forge *f;
    char *head;
    int rc;

    *closed = false;
    *number = NULL;
    f = forge_new(&ws->git, ws->name, err);
    if (f == NULL)
        return -1;
    head = pullreq_branch(ws->name);
    rc = forge_pull_last(f, head, ws->git.branch, &state, number, err);
    if (rc == 0)
        *closed = state == FORGE_PULL_CLOSED;
    free(head);
    forge_free(f);
    return rc;
}
