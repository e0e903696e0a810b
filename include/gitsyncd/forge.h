/*
 * forge: a client of the Git host's REST API (libcurl + jansson), for pull
 * request checks (DESIGN §11): a commit status on a request's head and one
 * comment per request, created once and then updated in place (a hidden
 * marker finds it); for protected branches: the request gitsyncd opens from
 * gitsyncd/<workspace> (found, opened, updated, its state) and whether the
 * host refuses direct pushes to a branch (gitsyncd doctor).  One table row per host: GitHub (and Enterprise),
 * GitLab, Gitea/Forgejo, Bitbucket Cloud, Bitbucket Data Center.
 *
 * Rules: the token goes only to the origin of the API base (a next-page
 * link elsewhere is refused, redirects are not followed); it is added to
 * the log's redactions and never appears in an error.  Errors name the
 * host and the endpoint ("github POST /repos/o/r/statuses/SHA: HTTP 422:
 * ...").  Requests are retried (bounded) on network errors, 408, 429 and
 * 5xx, waiting as Retry-After or the host's rate-limit headers say.
 * One struct forge per thread: it owns a CURL handle.
 */
#ifndef GITSYNCD_FORGE_H
#define GITSYNCD_FORGE_H

#include <stdbool.h>

#include "gitsyncd/config.h"

enum forge_state {
    FORGE_PENDING,
    FORGE_SUCCESS,
    FORGE_FAILURE,
};

struct forge;

/* A request's state, whatever the host calls it. */
enum forge_pull_state {
    FORGE_PULL_NONE,   /* there is none */
    FORGE_PULL_OPEN,
    FORGE_PULL_MERGED,
    FORGE_PULL_CLOSED, /* closed (declined) without merging */
};

/*
 * A client for workspace's Git host.  The host is git->host, or, for
 * auto, guessed from git->url (github.com, gitlab.com, bitbucket.org, a
 * /scm/ path); the API base is git->api.url, or derived from git->url.
 * Returns NULL with *err set when neither says enough (or no token).
 */
struct forge *forge_new(const struct config_git *git, const char *workspace,
                        char **err);
void forge_free(struct forge *f);

/* The host this client talks to, and its API base URL (no trailing '/'). */
enum git_host forge_host(const struct forge *f);
const char *forge_base(const struct forge *f);

/*
 * Set the commit status of sha (context "gitsyncd/<workspace>") with a
 * one-line description (cut to what the host takes) and a link (NULL:
 * the repository's page; Bitbucket requires one).  Returns 0 or -1 with
 * *err.
 */
int forge_set_status(struct forge *f, const char *sha, enum forge_state state,
                     const char *description, const char *url, char **err);

/*
 * Create or update this workspace's comment on request (the pull/merge
 * request's number: GitLab's iid, Bitbucket's id).  body is Markdown; the
 * marker "<!-- gitsyncd:<workspace> -->" is added on its first line and
 * finds the comment next time.  *updated (may be NULL) says whether an
 * existing comment was edited.  Returns 0 or -1 with *err.
 */
int forge_comment(struct forge *f, const char *request, const char *body,
                  bool *updated, char **err);

/*
 * The open request from branch head into base: *number gets its number
 * (malloc'd; NULL when none is open).  Found by the host's filter on the
 * head branch where its API has one, else by reading every page of open
 * requests; a listing longer than 100 pages is an error, not "none".
 * Returns 0 or -1 with *err.
 */
int forge_pull_find(struct forge *f, const char *head, const char *base,
                    char **number, char **err);

/*
 * Open a request from head into base, or, when one is open from head
 * already, set its title and description (text, Markdown).  *number gets
 * its number (malloc'd), *created whether it is new.  Finding before
 * creating makes it safe to repeat after a crash.  Returns 0 or -1.
 */
int forge_pull_open(struct forge *f, const char *head, const char *base,
                    const char *title, const char *text, char **number,
                    bool *created, char **err);

/*
 * The newest request from branch head into base, whatever its state:
 * *state and *number (malloc'd; NULL with FORGE_PULL_NONE).  Returns 0 or
 * -1 with *err.
 */
int forge_pull_last(struct forge *f, const char *head, const char *base,
                    enum forge_pull_state *state, char **number, char **err);

/*
 * Whether the host refuses direct pushes to branch (GitHub branch
 * protection or a ruleset with a pull_request/update rule; GitLab protected
 * branch; Gitea protection without plain push; Bitbucket push restriction;
 * Data Center read-only or pull-request-only permission): *refused, and
 * *how names what (malloc'd, NULL when not refused).  Returns 0 or -1.
 */
int forge_branch_protected(struct forge *f, const char *branch, bool *refused,
                           char **how, char **err);

/* Requests sent and retried so far (tests, metrics). */
unsigned long forge_requests(const struct forge *f);
unsigned long forge_retries(const struct forge *f);

/* The host's own name of a state ("success", "failed", "SUCCESSFUL"...). */
const char *forge_state_name(enum git_host host, enum forge_state state);

#endif
