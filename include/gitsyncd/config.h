/*
 * config: the daemon's YAML configuration (doc/gitsyncd.yaml.5), loaded
 * into typed structs with defaults.  Errors name file:line:col.
 */
#ifndef GITSYNCD_CONFIG_H
#define GITSYNCD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gitsyncd/log.h"

enum git_host {
    GIT_HOST_AUTO,
    GIT_HOST_GITHUB,
    GIT_HOST_GITLAB,
    GIT_HOST_BITBUCKET,        /* Bitbucket Cloud */
    GIT_HOST_BITBUCKET_SERVER, /* Bitbucket Data Center */
    GIT_HOST_GITEA,            /* Gitea and Forgejo */
};

enum conflict_policy {
    CONFLICT_PLATFORM, /* the platform's version wins; Git's stays in history */
    CONFLICT_GIT,      /* Git's version wins; the platform's is committed first */
    CONFLICT_BRANCH,   /* the platform's version goes to a conflict branch */
};

/* How outbound commits reach the workspace branch (DESIGN §11). */
enum git_write {
    GIT_WRITE_PUSH,         /* pushed to the branch */
    GIT_WRITE_PULL_REQUEST, /* to gitsyncd/<workspace>, one open request */
    GIT_WRITE_AUTO,         /* pushed; a request when the push is refused */
};

/* A request closed without merging: what the platform keeps. */
enum git_rejected {
    GIT_REJECTED_KEEP,   /* the platform's values stay; a new request next */
    GIT_REJECTED_REVERT, /* the branch's version is applied to the platform */
};

struct config_identity {
    char *name;
    char *email;
};

struct config_platform {
    char *profile;        /* profile name or path */
    char *url;            /* API base URL */
    char *token;          /* secret: bearer token */
    char *webhook_secret; /* secret: whsec_<base64>; NULL = none */
    bool insecure_no_signature; /* accept unsigned events (tests only) */
    long long connect_timeout_ms; /* default 5 s */
    long long timeout_ms;         /* per request, default 30 s */
    int max_retries;              /* default 5 */
    long long list_timeout_ms;    /* one kind's whole listing, default 10 min */
    size_t list_max_items;        /* items in one kind's listing, default 1,000,000 */
    char *ca_file;                /* extra CA bundle, or NULL */
    bool tls_verify;              /* default true */
    char *actor;          /* X-Actor for writes, default "gitsyncd" identity */
};

/* The Git host's REST API, for pull request checks (DESIGN §11). */
struct config_git_api {
    char *url;      /* API base; NULL = derived from git.url */
    char *token;    /* secret: API token; NULL = no checks reported */
    char *username; /* with token: HTTP Basic (Bitbucket app passwords) */
};

struct config_git {
    char *url;
    char *branch;         /* default "main" */
    char *path;           /* sub-path, "" for the root; normalised to "x/" */
    enum git_host host;   /* default auto */
    char *webhook_secret; /* secret; NULL = none */
    bool allow_sha1;      /* accept sha1= signatures */
    bool insecure_no_signature;
    char *username;       /* HTTPS */
    char *password;       /* secret: HTTPS token */
    char *ssh_key;        /* path of a private key */
    char *ssh_public_key; /* path; default ssh_key + ".pub" */
    char *ssh_passphrase; /* secret */
    char *known_hosts;    /* path; default ~/.ssh/known_hosts */
    char *host_key_fingerprint; /* "SHA256:<base64>" pin, or NULL */
    bool insecure_skip_host_key_check;
    char *ca_file;
    bool tls_verify;      /* default true */
    long long timeout_ms; /* default 60 s */
    struct config_identity author;    /* fallback author and committer */
    struct config_identity committer; /* default: author */
    struct config_git_api api;
    enum git_write write;       /* default push */
    enum git_rejected rejected; /* default keep */
};

struct config_sync {
    long long interval_ms; /* periodic full reconcile; 0 = off; default 10m */
    enum conflict_policy conflict;
    long max_deletes;      /* default 10; -1 = unlimited */
    int max_push_retries;  /* default 5 */
};

struct config_workspace {
    char *name;
    int line; /* where it is defined, for messages */
    struct config_platform platform;
    struct config_git git;
    struct config_sync sync;
};

/*
 * Cluster mode (DESIGN §10): replicas share the work through PostgreSQL.
 * Off when database is NULL (no `cluster:` key): one process, as ever.
 */
struct config_cluster {
    char *database;        /* libpq URI or conninfo; NULL = not clustered */
    char *password;        /* secret: or password_file; NULL = libpq's own */
    char *replica;         /* this replica's name; default <hostname>-<pid> */
    long long sweep_ms;    /* look for events a dead replica left, default 5 s */
    long long connect_timeout_ms; /* default 2 s */
};

/* An address range of trusted_proxies: addr/prefix. */
struct config_net {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network byte order; 4 bytes for AF_INET */
    int prefix;              /* bits that must match */
};

struct config {
    char *path;           /* the file it was read from */
    unsigned long generation; /* unique per load, to tell reloads apart */
    char *listen;         /* default 127.0.0.1:8080 */
    char *admin_listen;   /* NULL = share listen */
    int workers;          /* default: number of cores */
    int http_threads;     /* event loops answering requests; cores, at most 4 */
    char *state_dir;      /* default /var/lib/gitsyncd */
    char *profiles_dir;   /* extra directory searched for profiles */
    unsigned long long max_body;      /* default 1 MiB */
    long long request_timeout_ms;     /* HTTP request timeout, default 30 s */
    double rate_limit;    /* requests/s per client address; 0 = off (default 500) */
    int rate_burst;       /* default 1000 */
    size_t dedup_size;    /* delivery ids remembered, default 10000 */
    long long dedup_ttl_ms; /* default 1 h */
    size_t max_dirty;     /* dirty resources before a job becomes full, 1000 */
    int max_connections;  /* open HTTP connections per listener thread, 1024 */
    bool hide_workspaces; /* unknown workspace and bad signature answered alike */
    /* peers whose X-Forwarded-For / Forwarded name the client (none) */
    struct config_net *trusted_proxies;
    size_t ntrusted_proxies;
    enum log_level log_level;
    enum log_format log_format;
    struct config_cluster cluster;
    size_t nworkspaces;
    struct config_workspace *workspaces;
};

/*
 * Load and check a configuration file.  On error returns -1 with *err set
 * to "file:line:col: message" (the caller frees it); warnings (such as a
 * secret file readable by others) are logged.
 */
int config_load(const char *path, struct config **out, char **err);
/* Load from a buffer; name stands for the file in messages. */
int config_parse(const char *name, const char *data, size_t len,
                 struct config **out, char **err);
void config_free(struct config *cfg);

/* The workspace called name, or NULL. */
struct config_workspace *config_find_workspace(const struct config *cfg,
                                               const char *name);

/* Print what was understood, every secret as <redacted> (check-config). */
void config_print(FILE *f, const struct config *cfg);

const char *config_git_host_name(enum git_host host);
const char *config_conflict_name(enum conflict_policy policy);
const char *config_git_write_name(enum git_write write);

#endif
