/*
 * reconcile internals: what the parts of the reconcile module (reconcile.c,
 * reconcile-audit.c, reconcile-outbound.c, reconcile-inbound.c) share, and
 * nothing else includes.  The public interface is gitsyncd/reconcile.h.
 */
#ifndef GITSYNCD_RECONCILE_INT_H
#define GITSYNCD_RECONCILE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>
#include <jansson.h>

#include "gitsyncd/config.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/job.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/util.h"

/*
 * What a workspace has read of its platform's audit log, shared by the
 * worker threads: whichever runs the next job goes on from the same
 * cursor and forgets what the last one committed.  No lock is needed
 * for its contents, as jobs of one workspace never run at once and the
 * queue's lock orders one job before the next; rc_audit_lock guards the
 * list.  Keyed by workspace and platform URL: a reload that points the
 * workspace at another platform starts from that platform's beginning.
 */
struct rc_audit {
    char *key;                /* workspace "\n" platform URL */
    char *cursor;             /* last audit seq read, or NULL */
    json_t *actors;           /* "kind/slug" -> {"name", "email", "seq"} */
    json_t *invalid;          /* path -> blob id of each invalid file logged */
    struct rc_audit *next;
};

/* What this thread keeps for one workspace between jobs. */
struct rc_ctx {
    char *workspace;
    unsigned long generation; /* of the configuration it was built from */
    struct profile *profile;
    const char **folders;
    struct gitstore *gs;
    struct platform *pl;
    struct rc_audit *audit;   /* the workspace's, shared */
    struct rc_ctx *next;
};

/* One resource as seen by the platform (P), the base (B) and Git (G). */
struct rc_slot {
    const struct profile_kind *kind;
    char *folder;
    char *slug;
    bool has_p, has_b, has_g;
    git_oid p, b, g;
    const struct platform_object *pobj;
    bool p_unknown;           /* the platform object could not be mapped */
    bool g_invalid;           /* Git's file is invalid: left alone */
    bool blocked;             /* the platform's object cannot be synced
                                 (duplicate slug, over the limits): the
                                 resource is left alone in both directions */
    char *aname, *aemail;     /* the cleaned author of its commit, or NULL */
    char *atrailer;           /* the actor for the Gitsyncd-Actor trailer */
    const char *g_irregular;  /* Git's entry is not a file (static), or NULL */
    json_t *gdoc;             /* Git's document, decoded (inbound) */
    const struct job_resource *ev; /* the latest event naming it */
    long ev_order;            /* its position in the job, or LONG_MAX */
    /* decisions */
    bool outbound, inbound, conflict, refused, failed, branch_conflict;
    bool has_new, settled;
    git_oid newbase;
    bool has_newbase;
    bool carried;             /* committed to the request, not the branch */
};

struct rc_state {
    struct rc_ctx *ctx;
    const struct config_workspace *ws;
    const struct job *job;
    struct reconcile_report *rep;
    struct platform_snapshot *snap;
    struct rc_slot *slots;
    size_t nslots, capslots;
    json_t *slot_index;     /* "kind:slug" -> index in slots, while building */
    git_oid ghead;
    bool gexists;
    git_oid bcommit;
    bool bexists;
    bool again;
    json_t *invalid;        /* path -> blob id of the invalid files seen */
    long long audit_before; /* the audit cursor before this job read it; -1 */
};

/* The zero id: "no commit" for a compare-and-swap. */
extern const git_oid rc_zero_oid; /* reconcile.c */

/* Shared helpers, defined in the file named. */
void rc_issue(struct reconcile_issues *list, const struct rc_slot *s,
              const char *path, const char *fmt, ...) GS_PRINTF(4, 5); /* reconcile.c */
char *rc_path(const struct rc_state *st, const struct rc_slot *s); /* reconcile.c */
int rc_slot_cmp(const void *a, const void *b); /* reconcile.c */
int rc_platform_blob(struct rc_state *st, const struct profile_kind *k,
                     const char *slug, const json_t *raw, const git_oid *known,
                     git_oid *oid, char **err); /* reconcile.c */
bool rc_check_git(struct rc_state *st, struct rc_slot *s); /* reconcile.c */
struct rc_audit *rc_audit_get(const char *workspace, const char *url); /* reconcile-audit.c */
void rc_read_audit(struct rc_state *st); /* reconcile-audit.c */
void rc_forget_audit(struct rc_state *st); /* reconcile-audit.c */
/* What the open request proposes (git.rejected revert), and where the
 * remote's copy is fetched to for rc_request_adopt. */
#define RC_REQUEST_REF "refs/gitsyncd/request"
#define RC_REQUEST_FETCHED_REF "refs/gitsyncd/request-remote"
/* Cluster mode: take RC_REQUEST_REF from the remote's request branch, as
 * another replica may have pushed it since this mirror last did. */
int rc_request_adopt(struct gitstore *gs, const char *workspace, char **err); /* reconcile-outbound.c */
int rc_outbound(struct rc_state *st, char **err); /* reconcile-outbound.c */
int rc_rejected_revert(struct rc_state *st, char **err); /* reconcile-outbound.c */
void rc_request_done(struct rc_state *st); /* reconcile-outbound.c */
void rc_push_conflict_branch(struct rc_state *st, struct rc_slot *s); /* reconcile-outbound.c */
void rc_inbound(struct rc_state *st); /* reconcile-inbound.c */
void rc_confirm_absent(struct rc_state *st); /* reconcile-inbound.c */

#endif
