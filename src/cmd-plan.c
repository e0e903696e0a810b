/* cmd-plan: `gitsyncd plan`, what a merge would do, from a shell or CI. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <git2.h>

#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/log.h"
#include "gitsyncd/plan.h"

static void
plan_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd [-c FILE] plan WORKSPACE [--ref REF | --dir DIR]\n"
            "                [--format text|json]\n"
            "\n"
            "Show what merging REF (a ref of the workspace's remote, such as\n"
            "refs/pull/7/head, or a branch name) into the workspace branch would do\n"
            "to the platform: the changed resource files validated, their references\n"
            "resolved against the merged tree, and per resource create, update\n"
            "(which fields) or delete, with the max_deletes guard and resources the\n"
            "platform changed since the merge base flagged.  --dir plans a directory\n"
            "holding the workspace's tree (a CI checkout) against the branch.\n"
            "Without either, the workspace branch itself is planned.  Nothing is\n"
            "changed on the platform or the remote.\n"
            "\n"
            "Exit 0 when the merge would sync cleanly, 1 when a file is invalid,\n"
            "the guard would refuse, or the plan could not be made, 2 on a usage\n"
            "or configuration error.\n");
}

int
cmd_plan(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "ref", required_argument, NULL, 'r' },
        { "dir", required_argument, NULL, 'd' },
        { "format", required_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    const struct config_workspace *ws;
    struct config *cfg = NULL;
    struct plan p;
    struct stat st;
    const char *ref = NULL, *dir = NULL, *format = "text", *name = NULL;
    char *err = NULL, *text;
    json_t *j;
    int c, rc, r;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            ref = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            plan_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                plan_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        name = argv[optind++];
    if (name == NULL || optind != argc || (ref != NULL && dir != NULL) ||
        (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)) {
        plan_usage(stderr);
        return EXIT_USAGE;
    }
    if (dir != NULL && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "gitsyncd: %s: %s\n", dir, errno != 0 ? strerror(errno) : "not a directory");
        return EXIT_USAGE;
    }
    if (cmd_load_workspace(name, &cfg, &ws) != EXIT_OK)
        return EXIT_USAGE;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    git_libgit2_init();
    if (dir != NULL)
        rc = plan_dir(cfg, ws, dir, &p, &err);
    else
        rc = plan_ref(cfg, ws, ref != NULL ? ref : ws->git.branch, &p, &err);
    if (rc != 0) {
        fprintf(stderr, "gitsyncd: plan of workspace %s: %s\n", ws->name, err != NULL ? err : "failed");
        log_error("plan failed", "workspace", ws->name, "error", err);
    } else if (strcmp(format, "json") == 0) {
        j = plan_json(&p);
        text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(j);
    } else {
        plan_print(stdout, &p);
    }
    rc = rc == 0 && plan_ok(&p) ? EXIT_OK : EXIT_FAILURE_RUNTIME;
    plan_free(&p);
    free(err);
    config_free(cfg);
    git_libgit2_shutdown();
    curl_global_cleanup();
    return rc;
}
