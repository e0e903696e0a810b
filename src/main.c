/* main: global options and the subcommand table of the gitsyncd binary. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/jload.h"
#include "gitsyncd/log.h"

struct global_opts global_opts;

struct main_cmd {
    const char *name;
    int (*exec)(int, char **);
    const char *summary;
    int daemon; /* writes state and talks to the network: not as root */
};

static const struct main_cmd main_cmds[] = {
    { "serve", cmd_serve, "run the daemon (the default)", 1 },
    { "sync", cmd_sync, "run one full reconcile of a workspace and exit", 1 },
    { "validate", cmd_validate, "check a tree of resource files offline", 0 },
    { "fmt", cmd_fmt, "rewrite resource files in canonical form", 0 },
    { "check-config", cmd_check_config, "check a configuration file", 0 },
    { "status", cmd_status, "show the running daemon's per-workspace status", 0 },
    { "plan", cmd_plan, "show what merging a pull request would do to the platform", 1 },
    { "doctor", cmd_doctor, "check online what a first sync of a workspace needs", 1 },
};

static void
main_usage(FILE *f)
{
    size_t i;

    fprintf(f,
            "usage: gitsyncd [-c FILE] [--log-level LEVEL] [--log-format FORMAT]\n"
            "                [--allow-root] [COMMAND] [ARGS...]\n"
            "       (the options may also follow the command: gitsyncd serve -c FILE)\n"
            "\n"
            "Keep a SaaS platform's configuration and a Git repository in two-way sync.\n"
            "\n"
            "Commands:\n");
    for (i = 0; i < nitems(main_cmds); i++)
        fprintf(f, "  %-13s %s\n", main_cmds[i].name, main_cmds[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  -c, --config FILE     configuration file (default %s)\n"
            "      --log-level L     debug, info, warn or error (overrides the file)\n"
            "      --log-format F    logfmt or json (overrides the file)\n"
            "      --allow-root      let serve and sync run as root (refused otherwise)\n"
            "  -h, --help            show this help; 'gitsyncd COMMAND --help' for a command\n"
            "  -V, --version         show the version\n"
            "\n"
            "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n"
            "See gitsyncd(8) and gitsyncd.yaml(5).\n",
            GITSYNCD_DEFAULT_CONFIG);
}

int
cmd_load_workspace(const char *name, struct config **cfg,
                   const struct config_workspace **ws)
{
    const char *path = global_opts.config_path != NULL ? global_opts.config_path
                                                       : GITSYNCD_DEFAULT_CONFIG;
    char *err = NULL, *clean;

    *ws = NULL;
    if (config_load(path, cfg, &err) != 0) {
        clean = log_redact(err);
        fprintf(stderr, "gitsyncd: %s\n", clean);
        free(clean);
        free(err);
        return EXIT_USAGE;
    }
    log_set_level((*cfg)->log_level);
    log_set_format((*cfg)->log_format);
    if (cmd_apply_log_opts() != 0)
        goto fail;
    *ws = config_find_workspace(*cfg, name);
    if (*ws == NULL) {
        fprintf(stderr, "gitsyncd: %s: no workspace named \"%s\"\n", path, name);
        goto fail;
    }
    return EXIT_OK;
fail:
    config_free(*cfg);
    *cfg = NULL;
    return EXIT_USAGE;
}

int
cmd_apply_log_opts(void)
{
    enum log_level level;
    enum log_format format;

    if (global_opts.log_level != NULL) {
        if (log_level_parse(global_opts.log_level, &level) != 0) {
            fprintf(stderr, "gitsyncd: --log-level: unknown level \"%s\" "
                            "(debug, info, warn, error)\n",
                    global_opts.log_level);
            return -1;
        }
        log_set_level(level);
    }
    if (global_opts.log_format != NULL) {
        if (log_format_parse(global_opts.log_format, &format) != 0) {
            fprintf(stderr, "gitsyncd: --log-format: unknown format \"%s\" "
                            "(logfmt, json)\n",
                    global_opts.log_format);
            return -1;
        }
        log_set_format(format);
    }
    return 0;
}

int
cmd_global_option(int c, const char *arg)
{
    switch (c) {
    case 'c':
    case CMD_OPT_CONFIG:
        global_opts.config_path = arg;
        return 1;
    case CMD_OPT_LOG_LEVEL:
        global_opts.log_level = arg;
        break;
    case CMD_OPT_LOG_FORMAT:
        global_opts.log_format = arg;
        break;
    case CMD_OPT_ALLOW_ROOT:
        global_opts.allow_root = 1;
        return 1;
    default:
        return 0;
    }
    return cmd_apply_log_opts() == 0 ? 1 : -1;
}

/*
 * serve and sync hold tokens, write the state dir and answer the network:
 * as root a bug would own the machine.  False (with a message) if we are
 * root and were not told --allow-root; --help is always answered.
 */
static int
main_root_ok(int argc, char **argv)
{
    int i;

    if (geteuid() != 0 || global_opts.allow_root)
        return 1;
    /* --allow-root may come after the command too. */
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--allow-root") == 0)
            return 1;
    }
    fprintf(stderr, "gitsyncd: %s: refusing to run as root; run it as a user of its own "
                    "(contrib/systemd/gitsyncd.service uses DynamicUser=yes), or pass --allow-root\n",
            argv[0]);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'L' },
        { "log-format", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "allow-root", no_argument, &global_opts.allow_root, 1 },
        { NULL, 0, NULL, 0 },
    };
    static char *serve_argv[] = { "serve", NULL };
    int c;
    size_t i;

    /* Before any JSON value exists, and before threads (see jload.h). */
    if (jload_init() != 0)
        fprintf(stderr, "gitsyncd: could not reserve address space for JSON regions: %s; "
                        "using malloc\n", strerror(errno));
    /* "+": stop at the first non-option, which is the subcommand. */
    while ((c = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 0: /* a flag set by getopt_long */
            break;
        case 'c':
            global_opts.config_path = optarg;
            break;
        case 'L':
            global_opts.log_level = optarg;
            break;
        case 'F':
            global_opts.log_format = optarg;
            break;
        case 'h':
            main_usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("gitsyncd %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        default:
            main_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (cmd_apply_log_opts() != 0)
        return EXIT_USAGE;
    argc -= optind;
    argv += optind;
    if (argc == 0) {
        argc = 1;
        argv = serve_argv;
    }

    for (i = 0; i < nitems(main_cmds); i++) {
        if (strcmp(argv[0], main_cmds[i].name) == 0) {
            if (main_cmds[i].daemon && !main_root_ok(argc, argv))
                return EXIT_USAGE;
            optind = 0; /* reset getopt for the subcommand */
            return main_cmds[i].exec(argc, argv);
        }
    }
    fprintf(stderr, "gitsyncd: unknown command \"%s\"\n", argv[0]);
    main_usage(stderr);
    return EXIT_USAGE;
}
