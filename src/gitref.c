/* gitref: fetch a pull request's head into the mirror; merge bases. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/gitref.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#define GITREF_PREFIX "refs/gitsyncd/review/"

static const char *
gitref_giterr(void)
{
    const git_error *e = git_error_last();

    return e != NULL && e->message != NULL ? e->message : "unknown error";
}

int
gitref_fetch(struct gitstore *gs, const struct config_git *git,
             const char *ref, git_oid *head, char **err)
{
    git_repository *repo = gitstore_repo(gs);
    char *full, *local, *safe;
    int rc, valid = 0;

    memset(head, 0, sizeof *head);
    full = strncmp(ref, "refs/", 5) == 0 ? xstrdup(ref) : xasprintf("refs/heads/%s", ref);
    local = xasprintf(GITREF_PREFIX "%s", full + 5);
    if (git_reference_name_is_valid(&valid, full) != 0 || !valid || strstr(full, "..") != NULL ||
        strchr(full, ':') != NULL || strchr(full, '*') != NULL) {
        set_error(err, "\"%s\" is not a valid ref name", ref);
        free(full);
        free(local);
        return -1;
    }
    safe = url_without_credentials(git->url, NULL);
    {
        /* A ref left by an earlier check must not stand for a missing one. */
        git_reference *old = NULL;

        if (git_reference_lookup(&old, repo, local) == 0)
            git_reference_delete(old);
        git_reference_free(old);
    }
    if (gitstore_fetch_ref(gs, full, local, err) != GITSTORE_OK) {
        rc = -1;
        goto out;
    }
    /* The fetch may have reopened the mirror: ask for the repository again. */
    rc = git_reference_name_to_id(head, gitstore_repo(gs), local);
    if (rc != 0)
        set_error(err, "fetch %s from %s: the remote has no such ref", full, safe);
    else
        log_debug("fetched a ref for a check", "url", safe, "ref", full);
out:
    free(safe);
    free(full);
    free(local);
    return rc == 0 ? 0 : -1;
}

void
gitref_forget(struct gitstore *gs, const char *ref)
{
    git_reference *r = NULL;
    char *local = strncmp(ref, "refs/", 5) == 0 ? xasprintf(GITREF_PREFIX "%s", ref + 5)
                                                : xasprintf(GITREF_PREFIX "heads/%s", ref);

    if (git_reference_lookup(&r, gitstore_repo(gs), local) == 0)
        git_reference_delete(r);
    git_reference_free(r);
    free(local);
}

int
gitref_merge_base(struct gitstore *gs, const git_oid *a, const git_oid *b,
                  git_oid *base, bool *found, char **err)
{
    int rc = git_merge_base(base, gitstore_repo(gs), a, b);

    *found = rc == 0;
    if (rc == 0 || rc == GIT_ENOTFOUND)
        return 0;
    return set_error(err, "merge base: %s", gitref_giterr());
}
