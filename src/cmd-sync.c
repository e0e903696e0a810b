/* cmd-sync: `gitsyncd sync --once WORKSPACE`, one full reconcile for cron and CI. */
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
#include "gitsyncd/log.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/statelock.h"
#include "gitsyncd/util.h"

static void
sync_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd [-c FILE] sync --once [--wait DURATION] [--restore-branch] WORKSPACE\n"
            "\n"
            "Run one full two-way reconcile of WORKSPACE (platform and Git),\n"
            "print a summary and exit: 0 when both sides are in sync, 1 when\n"
            "the sync failed or left something unsynced (invalid files,\n"
            "refused deletes, open conflicts, refused applies), 2 on a usage\n"
            "or configuration error.\n"
            "\n"
            "  --once   required: run once and exit (the daemon is `serve`)\n"
            "  --wait DURATION\n"
            "           while another gitsyncd holds the state_dir, wait for it this\n"
            "           long (\"30s\", \"5m\"); without it, exit 1 naming the holder\n"
            "  --restore-branch\n"
            "           the workspace branch was deleted on the remote: push the base\n"
            "           back as the branch, on top of its last head, then sync\n"
            "  -h, --help\n"
            "\n"
            "With a cluster: block it runs under the cluster's lock of the workspace,\n"
            "from the base and audit cursor in the database, as a replica would; while\n"
            "a replica runs the workspace it exits 1 saying which.\n");
}

/* Print line and a newline with every secret and URL credential taken out,
 * and control characters as '?' (a platform's slug may hold a newline). */
static void
sync_print_redacted(const char *line)
{
    char *clean = log_redact(line), *p;

    for (p = clean; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    printf("%s\n", clean);
    free(clean);
}

/* Print one list of issues under a heading, secrets redacted. */
static void
sync_print_issues(const char *title, const struct reconcile_issues *list)
{
    char *line;
    size_t i;

    for (i = 0; i < list->n; i++) {
        line = xasprintf("  %s: %s/%s%s%s%s: %s", title, list->v[i].kind,
                         list->v[i].slug, list->v[i].path ? " (" : "",
                         list->v[i].path ? list->v[i].path : "",
                         list->v[i].path ? ")" : "", list->v[i].message);
        sync_print_redacted(line);
        free(line);
    }
}

/* What one run does and leaves, between cmd_sync and sync_job. */
struct sync_run {
    bool restore;
    bool ran;   /* sync_job was called (cluster mode: the lock was had) */
    int left;   /* issues left unsynced */
};

/* Run the reconcile (after a restore, if asked) and print its summary. */
static int
sync_job(const struct config *cfg, const struct config_workspace *ws,
         const struct job *job, void *arg)
{
    struct sync_run *run = arg;
    struct reconcile_report rep;
    char head[GIT_OID_HEXSZ + 1], *err = NULL;
    int rc = 0;

    (void)job;
    run->ran = true;
    if (run->restore) {
        rc = reconcile_restore_branch(cfg, ws, head, sizeof head, &err);
        if (rc == 0) {
            printf("workspace %s: restored branch %s at %s\n", ws->name, ws->git.branch, head);
            log_info("branch restored from the base", "workspace", ws->name, "branch", ws->git.branch,
                     "head", head);
        }
    }
    memset(&rep, 0, sizeof rep);
    if (rc == 0)
        rc = reconcile_run(cfg, ws, NULL, &rep, &err);
    printf("workspace %s: %s\n", ws->name, rc == 0 ? "synced" : "FAILED");
    if (rc != 0) {
        char *line = xasprintf("  error: %s", err != NULL ? err : "unknown");

        sync_print_redacted(line);
        free(line);
    }
    printf("  commits %zu, pushes %zu, created %zu, updated %zu, deleted %zu, "
           "conflicts %zu, unchanged %zu\n",
           rep.commits, rep.pushes, rep.created, rep.updated, rep.deleted,
           rep.conflicts, rep.unchanged);
    if (rep.head[0] != '\0')
        printf("  head %s\n", rep.head);
    if (rep.base[0] != '\0')
        printf("  base %s\n", rep.base);
    sync_print_issues("invalid", &rep.invalid);
    sync_print_issues("refused delete", &rep.refused_deletes);
    sync_print_issues("conflict", &rep.conflicts_open);
    sync_print_issues("apply error", &rep.apply_errors);
    sync_print_issues("invalid platform object", &rep.invalid_platform);
    sync_print_issues("not applied", &rep.not_applied);
    run->left = (int)(rep.invalid.n + rep.invalid_platform.n + rep.refused_deletes.n +
                      rep.conflicts_open.n + rep.apply_errors.n + rep.not_applied.n);
    if (rc == 0)
        log_info("sync finished", "workspace", ws->name);
    else
        log_error("sync failed", "workspace", ws->name, "error", err);
    reconcile_report_free(&rep);
    free(err);
    return rc;
}

int
cmd_sync(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "once", no_argument, NULL, 'o' },
        { "wait", required_argument, NULL, 'w' },
        { "restore-branch", no_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    struct sync_run run = { 0 };
    struct config *cfg = NULL;
    struct statelock *lock = NULL;
    const struct config_workspace *ws;
    long long wait_ms = 0;
    char *what, *err = NULL;
    bool once = false;
    int c, r, rc;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            once = true;
            break;
        case 'w':
            if (parse_duration_ms(optarg, &wait_ms) != 0 || wait_ms < 0) {
                fprintf(stderr, "gitsyncd: --wait %s: not a duration (e.g. 30s, 5m)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            run.restore = true;
            break;
        case 'h':
            sync_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                sync_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!once || optind != argc - 1) {
        sync_usage(stderr);
        return EXIT_USAGE;
    }
    if (cmd_load_workspace(argv[optind], &cfg, &ws) != EXIT_OK)
        return EXIT_USAGE;

    what = xasprintf("sync --once %s", ws->name);
    rc = statelock_acquire(cfg->state_dir, what, wait_ms, &lock, &err);
    free(what);
    if (rc != 0) {
        fprintf(stderr, "gitsyncd: %s\n", err);
        free(err);
        config_free(cfg);
        return EXIT_FAILURE_RUNTIME;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    git_libgit2_init();
    if (cfg->cluster.database != NULL) {
        /* As a replica would: under the workspace's lock, from the base
         * and audit state in the database, publishing them after. */
        struct cluster *cl = cluster_new(cfg);
        struct job full = { .workspace = ws->name, .full = true };

        rc = cluster_run_job(cl, cfg, ws, &full, sync_job, &run);
        if (!run.ran) {
            printf("workspace %s: not synced: %s\n", ws->name,
                   cluster_last_refusal(cl) != NULL ? cluster_last_refusal(cl)
                                                   : "the cluster did not run it");
            rc = -1;
        }
        cluster_free(cl);
    } else {
        rc = sync_job(cfg, ws, NULL, &run);
    }
    reconcile_thread_reset();
    reconcile_shutdown();
    config_free(cfg);
    git_libgit2_shutdown();
    curl_global_cleanup();
    statelock_release(lock);
    return rc == 0 && run.left == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}
