/*
 * forge-tool: drive src/forge.c from shell tests.
 *
 *   FT_HOST=github|gitlab|gitea|bitbucket|bitbucket-server|auto
 *   FT_GIT_URL=... [FT_API_URL=...] FT_TOKEN=... [FT_USERNAME=...]
 *   [FT_WORKSPACE=w] forge-tool COMMAND ...
 *
 *   base                          print the API base URL
 *   status SHA pending|success|failure DESCRIPTION
 *   comment REQUEST BODY          print "created" or "updated"
 *   pull HEAD BASE                print the open request from HEAD into
 *                                 BASE, or "none"
 *
 * The last line on stderr is "requests R retries T".
 * Exit status: 0 ok, 1 the host refused or failed (message on stderr),
 * 2 usage.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "gitsyncd/forge.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
    static const char *const hosts[] = { "auto", "github", "gitlab", "bitbucket",
                                         "bitbucket-server", "gitea" };
    static const enum git_host ids[] = { GIT_HOST_AUTO, GIT_HOST_GITHUB, GIT_HOST_GITLAB,
                                         GIT_HOST_BITBUCKET, GIT_HOST_BITBUCKET_SERVER,
                                         GIT_HOST_GITEA };
    struct config_git git;
    struct forge *f;
    enum forge_state st;
    const char *host = env("FT_HOST") ? env("FT_HOST") : "auto";
    char *err = NULL, *number = NULL;
    size_t i;
    bool updated;
    int rc = 2;

    memset(&git, 0, sizeof git);
    git.tls_verify = true;
    git.url = (char *)env("FT_GIT_URL");
    git.api.url = (char *)env("FT_API_URL");
    git.api.token = (char *)env("FT_TOKEN");
    git.api.username = (char *)env("FT_USERNAME");
    git.host = (enum git_host)-1;
    for (i = 0; i < nitems(hosts); i++) {
        if (strcmp(host, hosts[i]) == 0)
            git.host = ids[i];
    }
    if ((int)git.host < 0 || git.url == NULL || argc < 2) {
        fprintf(stderr, "usage: FT_HOST=.. FT_GIT_URL=.. FT_TOKEN=.. forge-tool base|status|comment|pull ...\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    f = forge_new(&git, env("FT_WORKSPACE") ? env("FT_WORKSPACE") : "w", &err);
    if (f == NULL) {
        fprintf(stderr, "%s\n", err);
        free(err);
        curl_global_cleanup();
        return 1;
    }
    if (strcmp(argv[1], "base") == 0 && argc == 2) {
        printf("%s\n", forge_base(f));
        rc = 0;
    } else if (strcmp(argv[1], "status") == 0 && argc == 5) {
        st = strcmp(argv[3], "success") == 0 ? FORGE_SUCCESS
             : strcmp(argv[3], "failure") == 0 ? FORGE_FAILURE : FORGE_PENDING;
        rc = forge_set_status(f, argv[2], st, argv[4], NULL, &err) == 0 ? 0 : 1;
    } else if (strcmp(argv[1], "comment") == 0 && argc == 4) {
        rc = forge_comment(f, argv[2], argv[3], &updated, &err) == 0 ? 0 : 1;
        if (rc == 0)
            printf("%s\n", updated ? "updated" : "created");
    } else if (strcmp(argv[1], "pull") == 0 && argc == 4) {
        rc = forge_pull_find(f, argv[2], argv[3], &number, &err) == 0 ? 0 : 1;
        if (rc == 0)
            printf("%s\n", number != NULL ? number : "none");
        free(number);
    } else {
        fprintf(stderr, "forge-tool: unknown command or wrong arguments\n");
    }
    if (rc == 1)
        fprintf(stderr, "%s\n", err != NULL ? err : "failed");
    fprintf(stderr, "requests %lu retries %lu\n", forge_requests(f), forge_retries(f));
    free(err);
    forge_free(f);
    curl_global_cleanup();
    return rc;
}
