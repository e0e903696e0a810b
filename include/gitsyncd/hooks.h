/*
 * hooks: verify and read the webhooks that reach /hooks/<workspace>/...:
 * push events from Git hosts (one table row per host) and change events
 * from the platform (Standard Webhooks).  The signature is checked over the
 * raw body, in constant time, before the body is parsed.  No I/O here.
 */
#ifndef GITSYNCD_HOOKS_H
#define GITSYNCD_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "gitsyncd/config.h"
#include "gitsyncd/job.h"
#include "gitsyncd/profile.h"

/* How the caller reads request headers (case-insensitive names). */
struct hook_headers {
    const char *(*get)(void *arg, const char *name);
    void *arg;
};

enum hook_verdict {
    HOOK_QUEUE,        /* 202: queue a job */
    HOOK_IGNORE,       /* 200: valid, nothing to do (reason says why) */
    HOOK_BAD,          /* 400: malformed */
    HOOK_UNAUTHORIZED, /* 401: bad or missing signature */
};

/* What a verified push says. */
struct hook_push {
    enum git_host host;
    char *delivery;     /* delivery id, or NULL */
    char *repository;   /* "owner/name" as the host names it */
    char *ref;
    char *before;
    char *after;
    bool created, deleted, forced;
    char **paths;       /* files the push touched, where listed */
    size_t npaths;
    bool paths_complete; /* false: the list may be cut (or absent) */
    /*
     * A pull/merge request event (opened, updated, reopened): request is
     * its number (GitLab's iid, Bitbucket's id), request_ref the ref that
     * holds its head (refs/pull/N/head, refs/merge-requests/N/head,
     * refs/pull-requests/N/from, or the source branch), ref the branch it
     * targets and after its head commit as the event says.  NULL for a push.
     */
    char *request;
    char *request_ref;
};

/*
 * Verify and read a Git host's webhook for ws: a push, or a pull/merge
 * request event (push->request set) for a request that targets the
 * workspace branch.  On HOOK_QUEUE *push is
 * filled; *reason (always set, caller frees) is the answer's text: why it
 * was ignored or refused (naming the header at fault), or "queued".
 */
enum hook_verdict hooks_git(const struct config_workspace *ws,
                            const struct hook_headers *h, const char *body,
                            size_t len, struct hook_push *push, char **reason);
void hook_push_free(struct hook_push *push);

/*
 * Verify and read a platform change event (Standard Webhooks: webhook-id,
 * webhook-timestamp within 5 minutes of now, webhook-signature with one or
 * more "v1,<base64>" entries).  Where the event names kind, id, slug,
 * action and actor comes from the profile's event pointers.  On HOOK_QUEUE
 * *res is filled (free with hook_resource_free) and *delivery is set.
 */
enum hook_verdict hooks_platform(const struct config_workspace *ws,
                                 const struct profile *profile,
                                 const struct hook_headers *h,
                                 const char *body, size_t len, double now,
                                 struct job_resource *res, char **delivery,
                                 char **reason);
void hook_resource_free(struct job_resource *res);

/* The name of a host ("github", ...). */
const char *hooks_host_name(enum git_host host);

#endif
