/*
 * cmd: the gitsyncd subcommands.  Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit code:
 * 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef GITSYNCD_CMD_H
#define GITSYNCD_CMD_H

enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUNTIME = 1,
    EXIT_USAGE = 2,
};

/* Options every subcommand accepts before its own (set by main). */
struct global_opts {
    const char *config_path; /* -c/--config, or NULL for the default */
    const char *log_level;   /* --log-level, or NULL */
    const char *log_format;  /* --log-format, or NULL */
    int allow_root;          /* --allow-root: serve and sync may run as root */
};
extern struct global_opts global_opts;

/* The default configuration file when -c is not given. */
#define GITSYNCD_DEFAULT_CONFIG GITSYNCD_SYSCONFDIR "/gitsyncd.yaml"

int cmd_serve(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_fmt(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

struct config;
struct config_workspace;
/*
 * Load the configuration (-c, else the default), apply its log settings
 * and then the command line's, and find the workspace called name.
 * Errors are printed, secrets redacted; returns EXIT_OK, or EXIT_USAGE
 * with nothing left to free.
 */
int cmd_load_workspace(const char *name, struct config **cfg,
                       const struct config_workspace **ws);

/* Apply --log-level/--log-format over the configuration's log settings. */
int cmd_apply_log_opts(void);

/*
 * The global options are accepted after the command too ("gitsyncd serve
 * -c FILE"): a subcommand puts CMD_GLOBAL_LONGOPTS in its long options and
 * CMD_GLOBAL_SHORTOPTS ("c:") in its short ones unless it has its own -c,
 * and hands every option it does not know to cmd_global_option().
 */
enum {
    CMD_OPT_CONFIG = 0x100,
    CMD_OPT_LOG_LEVEL,
    CMD_OPT_LOG_FORMAT,
    CMD_OPT_ALLOW_ROOT,
};
#define CMD_GLOBAL_SHORTOPTS "c:"
#define CMD_GLOBAL_LONGOPTS                                                  \
    { "config", required_argument, NULL, CMD_OPT_CONFIG },                   \
    { "log-level", required_argument, NULL, CMD_OPT_LOG_LEVEL },             \
    { "log-format", required_argument, NULL, CMD_OPT_LOG_FORMAT },           \
    { "allow-root", no_argument, NULL, CMD_OPT_ALLOW_ROOT }

/*
 * Take option c (getopt's answer, its argument in arg) if it is a global
 * one: 1 taken, 0 not a global option, -1 a bad value (message printed).
 */
int cmd_global_option(int c, const char *arg);

#endif
