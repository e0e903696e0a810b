/* job: merging events into the jobs workers run, and freeing them. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "gitsyncd/job.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

/* Free the strings of one resource event. */
void
job_resource_free(struct job_resource *r)
{
    free(r->kind);
    free(r->id);
    free(r->slug);
    free(r->action);
    free(r->event_id);
    free(r->actor_name);
    free(r->actor_email);
    memset(r, 0, sizeof *r);
}

bool
job_wants_sync(const struct job *job)
{
    return job == NULL || job->full || job->git_moved || job->ndirty > 0;
}

void
job_check_free(struct job_check *c)
{
    free(c->request);
    free(c->ref);
    free(c->sha);
    free(c->delivery);
    memset(c, 0, sizeof *c);
}

/* Free a job and everything it holds. */
void
job_free(struct job *job)
{
    size_t i;

    if (job == NULL)
        return;
    for (i = 0; i < job->ndirty; i++)
        job_resource_free(&job->dirty[i]);
    free(job->dirty);
    for (i = 0; i < job->nchecks; i++)
        job_check_free(&job->checks[i]);
    free(job->checks);
    free(job->workspace);
    free(job->git_after);
    free(job->git_delivery);
    free(job);
}

void
job_add_git(struct job *j, const char *after, const char *delivery, double received_at)
{
    if (!j->git_moved) {
        j->git_moved = true;
        j->git_received_at = received_at;
    }
    free(j->git_after);
    j->git_after = after != NULL ? xstrdup(after) : NULL;
    free(j->git_delivery);
    j->git_delivery = delivery != NULL ? xstrdup(delivery) : NULL;
}

void
job_add_check(struct job *j, const char *request, const char *ref, const char *sha,
              const char *delivery, double received_at)
{
    struct job_check *c = NULL;
    size_t i;

    for (i = 0; i < j->nchecks && c == NULL; i++) {
        if (strcmp(j->checks[i].request, request) == 0)
            c = &j->checks[i];
    }
    if (c == NULL) {
        j->checks = xreallocarray(j->checks, j->nchecks + 1, sizeof *j->checks);
        c = &j->checks[j->nchecks++];
    } else {
        job_check_free(c);
    }
    c->request = xstrdup(request);
    c->ref = xstrdup(ref);
    c->sha = sha != NULL ? xstrdup(sha) : NULL;
    c->delivery = delivery != NULL ? xstrdup(delivery) : NULL;
    c->received_at = received_at;
}

/* True if a and b name the same resource. */
static bool
job_same_resource(const struct job_resource *a, const struct job_resource *b)
{
    if (a->kind == NULL || b->kind == NULL || strcmp(a->kind, b->kind) != 0)
        return false;
    if (a->id != NULL && b->id != NULL)
        return strcmp(a->id, b->id) == 0;
    return a->slug != NULL && b->slug != NULL && strcmp(a->slug, b->slug) == 0;
}

/* A deep copy of a resource event. */
static void
job_copy_resource(struct job_resource *dst, const struct job_resource *src)
{
#define DUP(f) dst->f = src->f != NULL ? xstrdup(src->f) : NULL
    DUP(kind);
    DUP(id);
    DUP(slug);
    DUP(action);
    DUP(event_id);
    DUP(actor_name);
    DUP(actor_email);
#undef DUP
    dst->seq = src->seq;
    dst->received_at = src->received_at;
}

void
job_add_resource(struct job *j, const struct job_resource *r, size_t max_dirty)
{
    size_t i;

    /* One entry per resource: a later event replaces an earlier one. */
    for (i = 0; i < j->ndirty; i++) {
        if (job_same_resource(&j->dirty[i], r)) {
            struct job_resource old = j->dirty[i];

            memmove(&j->dirty[i], &j->dirty[i + 1], (j->ndirty - i - 1) * sizeof *j->dirty);
            j->ndirty--;
            /* Keep the first arrival time: the latency users see. */
            job_copy_resource(&j->dirty[j->ndirty], r);
            j->dirty[j->ndirty].received_at = old.received_at;
            job_resource_free(&old);
            j->ndirty++;
            return;
        }
    }
    if (j->ndirty >= max_dirty) {
        if (!j->full)
            log_info("too many changed resources for one job: a full reconcile instead",
                     "workspace", j->workspace);
        j->full = true;
        return;
    }
    j->dirty = xreallocarray(j->dirty, j->ndirty + 1, sizeof *j->dirty);
    job_copy_resource(&j->dirty[j->ndirty++], r);
}
