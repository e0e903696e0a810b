/* check: plan a pull request and report it on the Git host. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "gitsyncd/check.h"
#include "gitsyncd/forge.h"
#include "gitsyncd/log.h"
#include "gitsyncd/plan.h"
#include "gitsyncd/util.h"

const char *
check_result_name(enum check_result r)
{
    switch (r) {
    case CHECK_OK: return "ok";
    case CHECK_FAILED: return "failed";
    case CHECK_ERROR: return "error";
    }
    return "?";
}

/* True if s is a whole commit id (a status needs one). */
static bool
check_is_sha(const char *s)
{
    return s != NULL && strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

enum check_result
check_run(const struct config *cfg, const struct config_workspace *ws,
          const struct job_check *c, char **err)
{
    enum check_result res;
    struct forge *f = NULL;
    struct plan p;
    const char *sha;
    char *perr = NULL, *ferr = NULL, *desc = NULL, *body = NULL;
    bool planned;

    planned = plan_ref(cfg, ws, c->ref, &p, &perr) == 0;
    res = !planned ? CHECK_ERROR : plan_ok(&p) ? CHECK_OK : CHECK_FAILED;
    if (planned) {
        desc = plan_summary(&p);
        body = plan_markdown(&p);
    } else {
        /* The reason stays in the log: it may name internal addresses. */
        desc = xstrdup("gitsyncd could not make the plan (see its log)");
        body = xasprintf("### gitsyncd plan for %s: not made\n\n"
                         "The plan of this request could not be made; gitsyncd's log says why. "
                         "A new push to the request tries again.\n", ws->name);
        log_error("request check: no plan", "workspace", ws->name, "request", c->request,
                  "ref", c->ref, "error", perr);
    }
    sha = planned && p.head[0] != '\0' ? p.head : c->sha;
    f = forge_new(&ws->git, ws->name, &ferr);
    if (f == NULL) {
        log_warn("request checked, not reported", "workspace", ws->name, "request", c->request,
                 "result", check_result_name(res), "summary", desc, "why", ferr);
    } else {
        if (!check_is_sha(sha)) {
            log_warn("request check: no full commit id for a status", "workspace", ws->name,
                     "request", c->request);
        } else if (forge_set_status(f, sha, res == CHECK_OK ? FORGE_SUCCESS : FORGE_FAILURE,
                                    desc, NULL, &ferr) != 0) {
            res = CHECK_ERROR;
        }
        if (ferr == NULL && forge_comment(f, c->request, body, NULL, &ferr) != 0)
            res = CHECK_ERROR;
        if (ferr != NULL)
            log_error("request check: report failed", "workspace", ws->name, "request", c->request,
                      "error", ferr);
    }
    log_info("request checked", "workspace", ws->name, "request", c->request, "ref", c->ref,
             "head", sha != NULL ? sha : "", "result", check_result_name(res), "summary", desc);
    if (res == CHECK_ERROR && err != NULL)
        *err = xstrdup(ferr != NULL ? ferr : perr != NULL ? perr : "check failed");
    forge_free(f);
    plan_free(&p);
    free(perr);
    free(ferr);
    free(desc);
    free(body);
    return res;
}
