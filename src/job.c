/* job: freeing the jobs the queue hands to workers. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "gitsyncd/job.h"

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
