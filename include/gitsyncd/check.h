/*
 * check: one pull request check (DESIGN §11), run by a worker: the plan
 * of the request's head (plan.h), reported on the Git host (forge.h) as a
 * commit status on the head and one comment on the request, updated in
 * place.  The platform and the workspace branch are never changed.
 */
#ifndef GITSYNCD_CHECK_H
#define GITSYNCD_CHECK_H

#include "gitsyncd/config.h"
#include "gitsyncd/job.h"

/* What a check found. */
enum check_result {
    CHECK_OK,     /* the merge would sync cleanly */
    CHECK_FAILED, /* a file is invalid or the guard would refuse */
    CHECK_ERROR,  /* no plan (fetch, platform) or the report failed */
};

/*
 * Check one request of ws and report it (without git.api.token the plan
 * is made and logged, not reported).  *err (caller frees) says what went
 * wrong on CHECK_ERROR.
 */
enum check_result check_run(const struct config *cfg,
                            const struct config_workspace *ws,
                            const struct job_check *c, char **err);

const char *check_result_name(enum check_result r);

#endif
