/*
 * cmd-doctor: `gitsyncd doctor WORKSPACE`, online checks of what a first
 * sync needs, one line each with what to fix: the platform and its token,
 * the remote and its credentials, the branch, whether the host refuses
 * direct pushes to it (and so which git.write fits), the webhook secrets.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <git2.h>

#include "gitsyncd/cluster.h"
#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/forge.h"
#include "gitsyncd/gitstore.h"
#include "gitsyncd/log.h"
#include "gitsyncd/platform.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/util.h"

static void
doctor_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd [-c FILE] doctor WORKSPACE\n"
            "\n"
            "Check online what a first sync of WORKSPACE needs, one line each:\n"
            "the platform is reachable and takes the token; the remote is reachable\n"
            "and takes the credentials; the branch exists; whether the Git host\n"
            "refuses direct pushes to it (and so which git.write fits); the webhook\n"
            "secrets are set.  Nothing is changed on the platform or the remote.\n"
            "\n"
            "Exit 0 when all is well, 1 when a check failed, 2 on a usage or\n"
            "configuration error.\n");
}

/* One line: "ok   what  text" or "FAIL what  text". */
static void
doctor_line(int *bad, bool ok, const char *what, const char *fmt, ...) GS_PRINTF(4, 5);

static void
doctor_line(int *bad, bool ok, const char *what, const char *fmt, ...)
{
    va_list ap;

    printf("%-4s %-10s ", ok ? "ok" : "FAIL", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (!ok)
        (*bad)++;
}

/* Profile directories as plan and sync look them up. */
static int
doctor_profile(const struct config *cfg, const struct config_workspace *ws,
               struct profile **out, char **err)
{
    const char *dirs[3];
    char *cfgdir = NULL, *slash;
    size_t nd = 0;
    int rc;

    if (cfg->profiles_dir != NULL)
        dirs[nd++] = cfg->profiles_dir;
    if (cfg->path != NULL) {
        cfgdir = xstrdup(cfg->path);
        slash = strrchr(cfgdir, '/');
        if (slash != NULL)
            *slash = '\0';
        else
            strcpy(cfgdir, ".");
        dirs[nd++] = cfgdir;
    }
    dirs[nd] = NULL;
    rc = profile_load(ws->platform.profile, dirs, out, err);
    free(cfgdir);
    return rc;
}

static void
doctor_platform(const struct config_workspace *ws, struct profile *prof, int *bad)
{
    struct platform *pl;
    enum platform_result r;
    json_t *items = NULL;
    char *err = NULL;

    if (prof->nkinds == 0) {
        doctor_line(bad, false, "platform", "profile %s has no kinds", prof->name);
        return;
    }
    pl = platform_new(prof, &ws->platform, ws->name);
    r = platform_list(pl, &prof->kinds[0], &items, &err);
    if (r == PLATFORM_OK)
        doctor_line(bad, true, "platform", "%s reachable, token accepted (kind %s: %zu listed)",
                    prof->name, prof->kinds[0].name, json_array_size(items));
    else if (r == PLATFORM_AUTH)
        doctor_line(bad, false, "platform", "the token is refused: check platform.token (%s)",
                    err != NULL ? err : "");
    else
        doctor_line(bad, false, "platform", "cannot list %s: %s: check platform.url",
                    prof->kinds[0].name, err != NULL ? err : platform_result_name(r));
    json_decref(items);
    free(err);
    platform_free(pl);
}

/* Returns true when the branch exists on a reachable remote. */
static bool
doctor_remote(const struct config *cfg, const struct config_workspace *ws,
              struct profile *prof, int *bad)
{
    struct gitstore_opts opts;
    struct gitstore *gs = NULL;
    const char **folders;
    enum gitstore_result r;
    git_oid head;
    char *err = NULL, hex[GIT_OID_HEXSZ + 1];
    bool exists = false;
    size_t i;

    folders = xcalloc(prof->nkinds + 1, sizeof *folders);
    for (i = 0; i < prof->nkinds; i++)
        folders[i] = prof->kinds[i].folder;
    memset(&opts, 0, sizeof opts);
    opts.state_dir = cfg->state_dir;
    opts.workspace = ws->name;
    opts.git = &ws->git;
    opts.folders = folders;
    opts.nfolders = prof->nkinds;
    if (gitstore_open(&opts, &gs, &err) != 0) {
        doctor_line(bad, false, "remote", "cannot open the mirror: %s", err);
        free(err);
        free(folders);
        return false;
    }
    r = gitstore_fetch(gs, &head, &exists, &err);
    if (r == GITSTORE_OK) {
        doctor_line(bad, true, "remote", "reachable, credentials accepted");
        if (exists) {
            git_oid_tostr(hex, sizeof hex, &head);
            doctor_line(bad, true, "branch", "%s exists (%.12s)", ws->git.branch, hex);
        } else {
            doctor_line(bad, true, "branch", "%s does not exist yet: the first sync creates it "
                        "with an import commit", ws->git.branch);
        }
    } else if (r == GITSTORE_AUTH) {
        doctor_line(bad, false, "remote", "credentials refused: check git.username/password or "
                    "git.ssh_key (%s)", err != NULL ? err : "");
    } else {
        doctor_line(bad, false, "remote", "%s: check git.url (%s)", gitstore_result_name(r),
                    err != NULL ? err : "");
    }
    free(err);
    gitstore_free(gs);
    free(folders);
    return r == GITSTORE_OK && exists;
}

static void
doctor_protection(const struct config_workspace *ws, bool branch, int *bad)
{
    struct forge *f;
    char *err = NULL, *how = NULL;
    const char *mode = config_git_write_name(ws->git.write);
    bool refused;

    if (ws->git.api.token == NULL) {
        doctor_line(bad, ws->git.write == GIT_WRITE_PUSH, "protection",
                    "no git.api.token: cannot ask the host whether %s refuses direct pushes%s",
                    ws->git.branch, ws->git.write == GIT_WRITE_PUSH
                    ? " (a refused push fails every sync: set git.api.token and git.write auto)" : "");
        return;
    }
    if (!branch) {
        doctor_line(bad, true, "protection", "%s does not exist: nothing to protect yet", ws->git.branch);
        return;
    }
    f = forge_new(&ws->git, ws->name, &err);
    if (f == NULL || forge_branch_protected(f, ws->git.branch, &refused, &how, &err) != 0) {
        doctor_line(bad, false, "protection", "cannot ask the host: %s: check git.api", err);
    } else if (refused && ws->git.write == GIT_WRITE_PUSH) {
        doctor_line(bad, false, "protection", "%s refuses direct pushes (%s), but git.write is push: "
                    "set git.write pull_request or auto", ws->git.branch, how);
    } else if (refused) {
        doctor_line(bad, true, "protection", "%s refuses direct pushes (%s): git.write %s fits",
                    ws->git.branch, how, mode);
    } else {
        doctor_line(bad, true, "protection", "%s takes direct pushes: git.write %s fits%s",
                    ws->git.branch, mode, ws->git.write == GIT_WRITE_PULL_REQUEST
                    ? " (push would too)" : "");
    }
    free(how);
    free(err);
    forge_free(f);
}

int
cmd_doctor(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    const struct config_workspace *ws;
    struct config *cfg = NULL;
    struct profile *prof = NULL;
    const char *name = NULL;
    char *err = NULL;
    int c, r, bad = 0;
    bool branch;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        if (c == 'h') {
            doctor_usage(stdout);
            return EXIT_OK;
        }
        r = cmd_global_option(c, optarg);
        if (r > 0)
            continue;
        if (r == 0)
            doctor_usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc)
        name = argv[optind++];
    if (name == NULL || optind != argc) {
        doctor_usage(stderr);
        return EXIT_USAGE;
    }
    if (cmd_load_workspace(name, &cfg, &ws) != EXIT_OK)
        return EXIT_USAGE;
    if (doctor_profile(cfg, ws, &prof, &err) != 0) {
        fprintf(stderr, "gitsyncd: workspace %s: %s\n", ws->name, err);
        free(err);
        config_free(cfg);
        return EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    git_libgit2_init();
    doctor_platform(ws, prof, &bad);
    branch = doctor_remote(cfg, ws, prof, &bad);
    doctor_protection(ws, branch, &bad);
    if (cfg->cluster.database != NULL) {
        char *report = NULL;
        int rc = cluster_probe(cfg, ws->name, &report);

        doctor_line(&bad, rc == 0, "cluster", "%s", report);
        free(report);
    }
    doctor_line(&bad, ws->platform.webhook_secret != NULL || ws->platform.insecure_no_signature,
                "events", "%s", ws->platform.webhook_secret != NULL ? "platform.webhook_secret set"
                : ws->platform.insecure_no_signature ? "platform events accepted unsigned (insecure_no_signature)"
                : "no platform.webhook_secret: platform events are refused (set it, or rely on sync.interval)");
    doctor_line(&bad, ws->git.webhook_secret != NULL || ws->git.insecure_no_signature,
                "webhooks", "%s", ws->git.webhook_secret != NULL ? "git.webhook_secret set"
                : ws->git.insecure_no_signature ? "push webhooks accepted unsigned (insecure_no_signature)"
                : "no git.webhook_secret: push webhooks are refused (set it, or rely on sync.interval)");
    profile_free(prof);
    config_free(cfg);
    git_libgit2_shutdown();
    curl_global_cleanup();
    return bad == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}
