/*
 * gitref: fetch one ref of the remote other than the workspace branch (a
 * pull request's head) into the workspace's mirror, and the merge base of
 * two commits; what a check needs beyond gitstore's branch fetch.  It
 * works on the mirror of a struct gitstore (same thread rules) and
 * writes only refs under refs/gitsyncd/review/.
 *
 * The fetch is gitstore's (gitstore_fetch_ref): the same credentials,
 * TLS and SSH host key checks (known_hosts or git.host_key_fingerprint)
 * and timeouts as the branch.
 */
#ifndef GITSYNCD_GITREF_H
#define GITSYNCD_GITREF_H

#include <stdbool.h>

#include <git2.h>

#include "gitsyncd/config.h"
#include "gitsyncd/gitstore.h"

/*
 * Fetch the remote's ref (a full name such as "refs/pull/7/head", or a
 * branch name) into refs/gitsyncd/review/<name>; *head gets its commit.
 * A ref the remote lacks is an error naming it.  Errors name the URL
 * without credentials.
 */
int gitref_fetch(struct gitstore *gs, const struct config_git *git,
                 const char *ref, git_oid *head, char **err);

/*
 * Drop what gitref_fetch left for ref (its refs/gitsyncd/review/ ref), so
 * that the mirror does not keep every request's objects forever.
 */
void gitref_forget(struct gitstore *gs, const char *ref);

/* The merge base of a and b; *found false when they share no history. */
int gitref_merge_base(struct gitstore *gs, const git_oid *a, const git_oid *b,
                      git_oid *base, bool *found, char **err);

#endif
