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
int cmd_plan(int argc, char **argv);

/* Apply --log-level/--log-format over the configuration's log settings. */
int cmd_apply_log_opts(void);

#endif
