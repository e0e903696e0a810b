/* cmd-check-config: `gitsyncd check-config FILE`, what a configuration means. */
#include "autoconfig.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "gitsyncd/cmd.h"
#include "gitsyncd/config.h"
#include "gitsyncd/log.h"

static void
check_config_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd check-config [FILE]\n"
            "\n"
            "Load FILE (default: -c, else %s) as the daemon would and print\n"
            "what was understood, every secret shown as <redacted>.  Exit 0 if\n"
            "it is valid, 2 with \"file:line:col: message\" if not.\n",
            GITSYNCD_DEFAULT_CONFIG);
}

int
cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    struct config *cfg;
    const char *path;
    char *err = NULL, *text = NULL, *clean;
    size_t len = 0;
    FILE *f;
    int c, r;

    while ((c = getopt_long(argc, argv, "h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            check_config_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                check_config_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        check_config_usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc)
        path = argv[optind];
    else if (global_opts.config_path != NULL)
        path = global_opts.config_path;
    else
        path = GITSYNCD_DEFAULT_CONFIG;
    if (config_load(path, &cfg, &err) != 0) {
        clean = log_redact(err);
        fprintf(stderr, "gitsyncd: %s\n", clean);
        free(clean);
        free(err);
        return EXIT_USAGE;
    }
    /* The whole report goes through the one redaction of every output. */
    f = open_memstream(&text, &len);
    if (f == NULL) {
        fprintf(stderr, "gitsyncd: fatal: open_memstream: out of memory\n");
        abort();
    }
    config_print(f, cfg);
    fclose(f);
    clean = log_redact(text);
    fputs(clean, stdout);
    free(clean);
    free(text);
    printf("ok\n");
    config_free(cfg);
    return EXIT_OK;
}
