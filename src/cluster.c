/* cluster: replicas sharing the work through PostgreSQL (cluster.h). */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "gitsyncd/cluster.h"
#include "gitsyncd/log.h"
#include "gitsyncd/metrics.h"
#include "gitsyncd/queue.h"
#include "gitsyncd/reconcile.h"
#include "gitsyncd/status.h"
#include "gitsyncd/util.h"

/* The first key of every advisory lock gitsyncd takes ("gits"); the
 * second is a workspace's id, or 0 for the schema migration. */
#define CL_LOCK_CLASS "1734964595"
#define CL_SCHEMA_VERSION 1
/* Events read into one job; more wait for the next. */
#define CL_MAX_EVENTS "10000"
/* A replica not seen for this many sweeps is taken for dead (cold start). */
#define CL_DEAD_SWEEPS 3
/*
 * Affinity: a workspace's events go first to the replica that ran its last
 * job, whose mirror and base are current (another one fetches first: about
 * 10 ms more per change).  The others try it this much later, in case that
 * replica is gone or busy.
 */
#define CL_AFFINITY_MS 100
/* Wakes put off for affinity, at most (then they go at once). */
#define CL_MAX_DEFERRED 4096

/* At start-up the first full reconciles are spread over this much per
 * workspace, at most CL_SPREAD_MAX_MS: the platform is not stampeded. */
#define CL_SPREAD_PER_WS_MS 20
#define CL_SPREAD_MAX_MS 30000

/* One thread's connection. */
struct cl_conn {
    PGconn *pg;
    struct cl_conn *next;
};

/* A configured workspace as the cluster knows it. */
struct cl_ws {
    char *name;
    long long interval_ms;
    long long id; /* gitsyncd_workspaces.id, 0 until known */
};

struct cluster {
    char *conninfo;
    char *password;
    char *replica;
    char *appname;            /* application_name: "gitsyncd/<replica>" */
    long long sweep_ms;
    long long connect_timeout_ms;
    long long dedup_ttl_ms;
    struct queue *q;
    pthread_t thread;
    bool started;
    int pipe[2];              /* wakes the listener (stop, new workspaces) */
    atomic_bool stopping;
    atomic_bool ready;
    pthread_key_t key;        /* this thread's struct cl_conn */
    pthread_mutex_t lock;     /* guards what follows */
    struct cl_ws *ws;
    size_t nws;
    bool ws_changed;
    struct cl_conn *conns;
    double down_until;        /* now_mono() before which no thread reconnects */
    char *refusal;            /* why the last cluster_run_job ran nothing */
};

static const char *const cl_schema_v1[] = {
    "CREATE TABLE gitsyncd_events ("
    " id bigserial PRIMARY KEY,"
    " workspace text NOT NULL,"
    " kind text NOT NULL,"
    " body jsonb NOT NULL,"
    " received_at double precision NOT NULL,"
    " replica text NOT NULL,"
    " created timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX gitsyncd_events_workspace ON gitsyncd_events (workspace, id)",
    "CREATE TABLE gitsyncd_deliveries ("
    " workspace text NOT NULL,"
    " delivery text NOT NULL,"
    " seen timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (workspace, delivery))",
    "CREATE INDEX gitsyncd_deliveries_seen ON gitsyncd_deliveries (seen)",
    "CREATE TABLE gitsyncd_workspaces ("
    " id serial PRIMARY KEY,"
    " name text NOT NULL UNIQUE,"
    " interval_ms bigint NOT NULL DEFAULT 0,"
    " next_full timestamptz,"
    " base text,"
    " audit jsonb,"
    " failures integer NOT NULL DEFAULT 0,"
    " not_before timestamptz,"
    " last_job timestamptz,"
    " last_result text,"
    " last_replica text)",
    "CREATE TABLE gitsyncd_replicas ("
    " name text PRIMARY KEY,"
    " started timestamptz NOT NULL DEFAULT now(),"
    " seen timestamptz NOT NULL DEFAULT now())",
    /* The payload: the workspace, a newline, the replica that ran its
     * last job (affinity: its mirror is current). */
    "CREATE FUNCTION gitsyncd_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('gitsyncd', NEW.workspace || E'\\n' || coalesce("
    "(SELECT last_replica FROM gitsyncd_workspaces WHERE name = NEW.workspace), ''));"
    " RETURN NULL; END $$",
    "CREATE TRIGGER gitsyncd_events_notify AFTER INSERT ON gitsyncd_events"
    " FOR EACH ROW EXECUTE FUNCTION gitsyncd_notify()",
};

/* libpq's notices (such as "relation exists, skipping") are not ours to log. */
static void
cl_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A libpq message on one line, without its trailing newline. */
static char *
cl_pg_error(const char *msg)
{
    char *s = xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error"), *p;

    for (p = s; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    while (p > s && p[-1] == ' ')
        *--p = '\0';
    return s;
}

/* Open a connection with this replica's settings; NULL with *err. */
static PGconn *
cl_connect(struct cluster *cl, char **err)
{
    const char *keys[14], *vals[14];
    char timeout[32];
    PGconn *pg;
    int n = 0;

    /* Ours first, so that what the user's conninfo says wins; then the
     * password from password_file, which wins over the conninfo's. */
    snprintf(timeout, sizeof timeout, "%lld",
             cl->connect_timeout_ms < 2000 ? 2 : (cl->connect_timeout_ms + 999) / 1000);
    keys[n] = "connect_timeout", vals[n++] = timeout;
    keys[n] = "application_name", vals[n++] = cl->appname;
    /* A dead peer is noticed within seconds on both ends: here (the
     * database's host gone) by the client's keepalives, there (this
     * replica's host gone, its network cut) by the session's own
     * tcp_keepalives_* below, so that its advisory locks go with it. */
    keys[n] = "keepalives", vals[n++] = "1";
    keys[n] = "keepalives_idle", vals[n++] = "5";
    keys[n] = "keepalives_interval", vals[n++] = "2";
    keys[n] = "keepalives_count", vals[n++] = "3";
    keys[n] = "tcp_user_timeout", vals[n++] = "10000";
    /* A database that hangs must not hold a request or a worker for long. */
    keys[n] = "options", vals[n++] = "-c statement_timeout=15000 -c tcp_keepalives_idle=5"
                                     " -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3";
    keys[n] = "dbname", vals[n++] = cl->conninfo;
    if (cl->password != NULL)
        keys[n] = "password", vals[n++] = cl->password;
    keys[n] = NULL, vals[n] = NULL;
    pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL) {
        set_error(err, "cannot connect to the cluster database: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char *m = cl_pg_error(PQerrorMessage(pg));

        set_error(err, "cannot connect to the cluster database: %s", m);
        free(m);
        PQfinish(pg);
        metrics_inc("cluster_db_errors_total", 1, (char *)NULL);
        return NULL;
    }
    PQsetNoticeProcessor(pg, cl_notice, NULL);
    return pg;
}

/*
 * Run one statement with text parameters (NULL: SQL NULL).  0 with *res
 * (caller clears; may be NULL to discard) on success; -1 with *err.
 */
static int
cl_exec(PGconn *pg, const char *sql, int n, const char *const *params, PGresult **res,
        char **err)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);

    if (res != NULL)
        *res = NULL;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (res != NULL)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    {
        char *m = cl_pg_error(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(pg));

        if (*m == '\0' || strcmp(m, "unknown error") == 0) {
            free(m);
            m = cl_pg_error(PQerrorMessage(pg));
        }
        set_error(err, "cluster database: %s", m);
        free(m);
    }
    PQclear(r);
    metrics_inc("cluster_db_errors_total", 1, (char *)NULL);
    return -1;
}

/* This thread's connection, opened if need be; NULL with *err. */
static PGconn *
cl_thread_conn(struct cluster *cl, char **err)
{
    struct cl_conn *c = pthread_getspecific(cl->key);
    bool wait;

    if (c != NULL && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return c->pg;
    if (c == NULL) {
        c = xcalloc(1, sizeof *c);
        pthread_mutex_lock(&cl->lock);
        c->next = cl->conns;
        cl->conns = c;
        pthread_mutex_unlock(&cl->lock);
        pthread_setspecific(cl->key, c);
    }
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    /* After a failed connect, others fail at once for a second: a database
     * that is down must not cost every request a connect timeout. */
    pthread_mutex_lock(&cl->lock);
    wait = now_mono() < cl->down_until;
    pthread_mutex_unlock(&cl->lock);
    if (wait) {
        set_error(err, "the cluster database is unavailable (retrying)");
        return NULL;
    }
    c->pg = cl_connect(cl, err);
    if (c->pg == NULL) {
        pthread_mutex_lock(&cl->lock);
        cl->down_until = now_mono() + 1.0;
        pthread_mutex_unlock(&cl->lock);
    }
    return c->pg;
}

/* After a failed statement: drop the connection if it is broken. */
static void
cl_check_conn(struct cluster *cl)
{
    struct cl_conn *c = pthread_getspecific(cl->key);

    if (c != NULL && c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

/* A PostgreSQL array literal of the workspace names; lock held. */
static char *
cl_names_array(const struct cluster *cl)
{
    struct buf b;
    const char *p;
    size_t i;

    buf_init(&b);
    buf_addc(&b, '{');
    for (i = 0; i < cl->nws; i++) {
        if (i > 0)
            buf_addc(&b, ',');
        buf_addc(&b, '"');
        for (p = cl->ws[i].name; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                buf_addc(&b, '\\');
            buf_addc(&b, *p);
        }
        buf_addc(&b, '"');
    }
    buf_addc(&b, '}');
    return buf_detach(&b);
}

/* Create or migrate the schema, one replica at a time. */
static int
cl_migrate(PGconn *pg, char **err)
{
    PGresult *r = NULL;
    int version, rc = -1;
    size_t i;

    if (cl_exec(pg, "SELECT pg_advisory_lock(" CL_LOCK_CLASS ", 0)", 0, NULL, NULL, err) != 0)
        return -1;
    if (cl_exec(pg, "CREATE TABLE IF NOT EXISTS gitsyncd_schema (version integer NOT NULL)", 0,
                NULL, NULL, err) != 0 ||
        cl_exec(pg, "SELECT coalesce(max(version), 0) FROM gitsyncd_schema", 0, NULL, &r, err) != 0)
        goto out;
    version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > CL_SCHEMA_VERSION) {
        set_error(err, "the cluster database has schema version %d, newer than this gitsyncd's %d: "
                  "upgrade this replica", version, CL_SCHEMA_VERSION);
        goto out;
    }
    if (version < 1) {
        if (cl_exec(pg, "BEGIN", 0, NULL, NULL, err) != 0)
            goto out;
        for (i = 0; i < sizeof cl_schema_v1 / sizeof cl_schema_v1[0]; i++) {
            if (cl_exec(pg, cl_schema_v1[i], 0, NULL, NULL, err) != 0) {
                cl_exec(pg, "ROLLBACK", 0, NULL, NULL, NULL);
                goto out;
            }
        }
        if (cl_exec(pg, "INSERT INTO gitsyncd_schema VALUES (1)", 0, NULL, NULL, err) != 0 ||
            cl_exec(pg, "COMMIT", 0, NULL, NULL, err) != 0) {
            cl_exec(pg, "ROLLBACK", 0, NULL, NULL, NULL);
            goto out;
        }
        log_info("cluster database schema created", "version", "1");
    }
    rc = 0;
out:
    cl_exec(pg, "SELECT pg_advisory_unlock(" CL_LOCK_CLASS ", 0)", 0, NULL, NULL, NULL);
    return rc;
}

/* Register one workspace (made due within spread_ms if new); its id or 0. */
static long long
cl_register(PGconn *pg, const char *name, long long interval_ms, long long spread_ms, char **err)
{
    PGresult *r;
    char iv[32], sp[32];
    const char *p[3] = { name, iv, sp };
    long long id;

    snprintf(iv, sizeof iv, "%lld", interval_ms);
    snprintf(sp, sizeof sp, "%lld", spread_ms);
    if (cl_exec(pg,
                "INSERT INTO gitsyncd_workspaces (name, interval_ms, next_full)"
                " VALUES ($1, $2, now() + random() * $3::bigint * interval '1 millisecond')"
                " ON CONFLICT (name) DO UPDATE SET interval_ms = EXCLUDED.interval_ms"
                " RETURNING id", 3, p, &r, err) != 0)
        return 0;
    id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

/* The spread of first full reconciles for n workspaces. */
static long long
cl_spread(size_t n)
{
    long long s = (long long)n * CL_SPREAD_PER_WS_MS;

    return s > CL_SPREAD_MAX_MS ? CL_SPREAD_MAX_MS : s;
}

/*
 * Register every workspace not known yet.  The first replica of a cluster
 * that was all down (none seen for CL_DEAD_SWEEPS sweeps) also makes a
 * full reconcile of each due, spread: events while all were down may be
 * lost (the senders gave up), as a single process starts with one.
 */
static int
cl_register_all(struct cluster *cl, PGconn *pg, bool starting, char **err)
{
    struct cl_ws *copy;
    PGresult *r = NULL;
    char dead[32], spread[32], *names;
    const char *p[3];
    size_t i, n;
    long long id;
    bool cold = false;

    pthread_mutex_lock(&cl->lock);
    n = cl->nws;
    copy = xcalloc(n + 1, sizeof *copy);
    for (i = 0; i < n; i++) {
        copy[i].name = xstrdup(cl->ws[i].name);
        copy[i].interval_ms = cl->ws[i].interval_ms;
        copy[i].id = cl->ws[i].id;
    }
    cl->ws_changed = false;
    names = cl_names_array(cl);
    pthread_mutex_unlock(&cl->lock);

    for (i = 0; i < n; i++) {
        if (copy[i].id > 0)
            continue;
        id = cl_register(pg, copy[i].name, copy[i].interval_ms, cl_spread(n), err);
        if (id <= 0)
            goto fail;
        copy[i].id = id;
    }
    if (starting) {
        snprintf(dead, sizeof dead, "%lld", cl->sweep_ms * CL_DEAD_SWEEPS + 1000);
        p[0] = cl->replica;
        p[1] = dead;
        if (cl_exec(pg, "SELECT count(*) FROM gitsyncd_replicas WHERE name <> $1"
                        " AND seen > now() - $2::bigint * interval '1 millisecond'",
                    2, p, &r, err) != 0)
            goto fail;
        cold = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
        PQclear(r);
        if (cl_exec(pg, "INSERT INTO gitsyncd_replicas (name) VALUES ($1)"
                        " ON CONFLICT (name) DO UPDATE SET started = now(), seen = now()",
                    1, p, NULL, err) != 0)
            goto fail;
        if (cold) {
            snprintf(spread, sizeof spread, "%lld", cl_spread(n));
            p[0] = names;
            p[1] = spread;
            if (cl_exec(pg, "UPDATE gitsyncd_workspaces SET next_full = now() + random() *"
                            " $2::bigint * interval '1 millisecond' WHERE name = ANY($1::text[])",
                        2, p, NULL, err) != 0)
                goto fail;
            log_info("cluster: no other replica is running: a full reconcile of each workspace, spread",
                     "replica", cl->replica, "spread_ms", spread);
        }
    }
    pthread_mutex_lock(&cl->lock);
    for (i = 0; i < n; i++) {
        size_t j;

        for (j = 0; j < cl->nws; j++) {
            if (cl->ws[j].id == 0 && strcmp(cl->ws[j].name, copy[i].name) == 0)
                cl->ws[j].id = copy[i].id;
        }
    }
    pthread_mutex_unlock(&cl->lock);
    for (i = 0; i < n; i++)
        free(copy[i].name);
    free(copy);
    free(names);
    return 0;
fail:
    pthread_mutex_lock(&cl->lock);
    cl->ws_changed = true;
    pthread_mutex_unlock(&cl->lock);
    for (i = 0; i < n; i++)
        free(copy[i].name);
    free(copy);
    free(names);
    return -1;
}

/* True if name is a configured workspace. */
static bool
cl_configured(struct cluster *cl, const char *name)
{
    bool found = false;
    size_t i;

    pthread_mutex_lock(&cl->lock);
    for (i = 0; i < cl->nws && !found; i++)
        found = strcmp(cl->ws[i].name, name) == 0;
    pthread_mutex_unlock(&cl->lock);
    return found;
}

/* Claim the full reconciles that are due, once across the cluster. */
static int
cl_claim_due(struct cluster *cl, PGconn *pg, char **err)
{
    PGresult *r;
    char *names;
    const char *p[2];
    int rc;

    pthread_mutex_lock(&cl->lock);
    names = cl_names_array(cl);
    pthread_mutex_unlock(&cl->lock);
    p[0] = names;
    p[1] = cl->replica;
    rc = cl_exec(pg,
                 "WITH due AS (UPDATE gitsyncd_workspaces SET next_full = CASE WHEN interval_ms > 0"
                 " THEN now() + interval_ms * (0.9 + random() * 0.2) * interval '1 millisecond' END"
                 " WHERE name = ANY($1::text[]) AND next_full <= now() RETURNING name)"
                 " INSERT INTO gitsyncd_events (workspace, kind, body, received_at, replica)"
                 " SELECT name, 'full', '{}', extract(epoch FROM clock_timestamp()), $2 FROM due"
                 " RETURNING workspace", 2, p, &r, err);
    free(names);
    if (rc != 0)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        log_debug("cluster: periodic full reconcile claimed", "workspace", PQgetvalue(r, i, 0),
                  "replica", cl->replica);
    PQclear(r);
    return 0;
}

/*
 * The sweep: say this replica lives, forget old delivery ids, publish who
 * holds what and the queue in the database, and wake the workspaces whose
 * events nobody runs (a dead replica's, or a wake lost to a race).
 */
static int
cl_sweep(struct cluster *cl, PGconn *pg, char **err)
{
    PGresult *r;
    json_t *holders, *pending, *block;
    char ttl[32], *names;
    const char *p[2];
    double total = 0;
    int i;

    p[0] = cl->replica;
    if (cl_exec(pg, "INSERT INTO gitsyncd_replicas (name) VALUES ($1)"
                    " ON CONFLICT (name) DO UPDATE SET seen = now()", 1, p, NULL, err) != 0)
        return -1;
    snprintf(ttl, sizeof ttl, "%lld", cl->dedup_ttl_ms);
    p[0] = ttl;
    if (cl_exec(pg, "DELETE FROM gitsyncd_deliveries WHERE seen < now() - $1::bigint * interval '1 millisecond'",
                1, p, NULL, err) != 0)
        return -1;
    pthread_mutex_lock(&cl->lock);
    names = cl_names_array(cl);
    pthread_mutex_unlock(&cl->lock);
    p[0] = names;
    if (cl_exec(pg,
                "SELECT w.name, a.application_name,"
                " (SELECT count(*) FROM gitsyncd_events e WHERE e.workspace = w.name),"
                " coalesce(w.not_before > now(), false)"
                " FROM gitsyncd_workspaces w"
                " LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted"
                "  AND l.classid = " CL_LOCK_CLASS "::bigint::oid AND l.objid = w.id::bigint::oid"
                "  AND l.objsubid = 2"
                " LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE w.name = ANY($1::text[]) ORDER BY w.name", 1, p, &r, err) != 0) {
        free(names);
        return -1;
    }
    free(names);
    holders = json_object();
    pending = json_object();
    for (i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const char *app = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
        long long n = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        bool backoff = strcmp(PQgetvalue(r, i, 3), "t") == 0;
        json_t *holder;

        if (app != NULL && strncmp(app, "gitsyncd/", 9) == 0)
            app += 9;
        holder = app != NULL ? json_string(app) : json_null();
        json_object_set(holders, name, holder);
        status_update(name, json_pack("{s:o}", "holder", holder));
        json_object_set_new(pending, name, json_integer(n));
        total += (double)n;
        if (n > 0 && app == NULL && !backoff)
            queue_add_wake(cl->q, name);
    }
    PQclear(r);
    block = json_pack("{s:s, s:s, s:o, s:o}", "replica", cl->replica, "database", "ok",
                      "holders", holders, "events_pending", pending);
    status_set("cluster", block);
    metrics_set("cluster_events_pending", total, (char *)NULL);
    return 0;
}

/* Say in /status that the database is out of reach. */
static void
cl_status_down(struct cluster *cl, const char *err)
{
    status_set("cluster", json_pack("{s:s, s:s, s:s}", "replica", cl->replica, "database",
                                    "unavailable", "error", err != NULL ? err : ""));
    metrics_set("cluster_database_up", 0, (char *)NULL);
}

/* Wait for the pipe (stop, news) or the socket, at most ms; false on stop. */
static bool
cl_wait(struct cluster *cl, int sock, long long ms)
{
    struct pollfd fds[2];
    char drain[64];
    int n = 1;

    fds[0].fd = cl->pipe[0];
    fds[0].events = POLLIN;
    if (sock >= 0) {
        fds[1].fd = sock;
        fds[1].events = POLLIN;
        n = 2;
    }
    if (ms < 0)
        ms = 0;
    if (poll(fds, (nfds_t)n, (int)(ms > 60000 ? 60000 : ms)) > 0 && (fds[0].revents & POLLIN)) {
        while (read(cl->pipe[0], drain, sizeof drain) > 0)
            ;
    }
    return !atomic_load(&cl->stopping);
}

/* A wake put off for affinity (the listener's own list). */
struct cl_deferred {
    char *workspace;
    double due; /* now_mono() */
};

/*
 * A notification: wake the workspace now if this replica ran its last job
 * (or nobody did), else put the wake off for CL_AFFINITY_MS.
 */
static void
cl_notified(struct cluster *cl, const char *payload, struct cl_deferred *d, size_t *nd)
{
    const char *nl = strchr(payload, '\n');
    char *ws = nl != NULL ? xstrndup(payload, (size_t)(nl - payload)) : xstrdup(payload);
    const char *last = nl != NULL ? nl + 1 : "";
    size_t i;

    if (!cl_configured(cl, ws)) {
        free(ws);
        return;
    }
    if (*last == '\0' || strcmp(last, cl->replica) == 0 || *nd >= CL_MAX_DEFERRED) {
        queue_add_wake(cl->q, ws);
        free(ws);
        return;
    }
    for (i = 0; i < *nd; i++) {
        if (strcmp(d[i].workspace, ws) == 0) {
            free(ws);
            return; /* already put off: the earlier time stands */
        }
    }
    d[*nd].workspace = ws;
    d[*nd].due = now_mono() + CL_AFFINITY_MS / 1000.0;
    (*nd)++;
}

/* Wake the put-off workspaces that are due; the time of the next, or 0. */
static double
cl_deferred_run(struct cluster *cl, struct cl_deferred *d, size_t *nd)
{
    double now = now_mono(), next = 0;
    size_t i = 0;

    while (i < *nd) {
        if (d[i].due <= now) {
            queue_add_wake(cl->q, d[i].workspace);
            free(d[i].workspace);
            d[i] = d[--*nd];
            continue;
        }
        if (next == 0 || d[i].due < next)
            next = d[i].due;
        i++;
    }
    return next;
}

/* The listener thread: LISTEN, wake workers, sweep, claim due fulls. */
static void *
cl_listen(void *arg)
{
    struct cluster *cl = arg;
    PGconn *pg = NULL;
    PGnotify *note;
    double next_sweep = 0, next_due = 0, next_deferred, now, until;
    struct cl_deferred *deferred = xcalloc(CL_MAX_DEFERRED, sizeof *deferred);
    size_t ndeferred = 0;
    long long backoff = 500, wait;
    char *err = NULL;
    bool starting = true, told = false, changed;

    while (!atomic_load(&cl->stopping)) {
        if (pg == NULL) {
            pg = cl_connect(cl, &err);
            if (pg != NULL && (cl_migrate(pg, &err) != 0 ||
                               cl_register_all(cl, pg, starting, &err) != 0 ||
                               cl_exec(pg, "LISTEN gitsyncd", 0, NULL, NULL, &err) != 0)) {
                PQfinish(pg);
                pg = NULL;
            }
            if (pg == NULL) {
                atomic_store(&cl->ready, false);
                cl_status_down(cl, err);
                if (!told)
                    log_error("cluster database unavailable: webhooks are answered 503 until it is back",
                              "replica", cl->replica, "error", err);
                told = true;
                free(err);
                err = NULL;
                if (!cl_wait(cl, -1, backoff))
                    break;
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            log_info(told ? "cluster database reachable again" : "cluster database connected",
                     "replica", cl->replica);
            told = false;
            starting = false;
            backoff = 500;
            atomic_store(&cl->ready, true);
            metrics_set("cluster_database_up", 1, (char *)NULL);
            next_sweep = 0;
            next_due = 0;
        }
        pthread_mutex_lock(&cl->lock);
        changed = cl->ws_changed;
        pthread_mutex_unlock(&cl->lock);
        now = now_mono();
        if ((changed && cl_register_all(cl, pg, false, &err) != 0) ||
            (now >= next_due && cl_claim_due(cl, pg, &err) != 0) ||
            (now >= next_sweep && cl_sweep(cl, pg, &err) != 0)) {
            log_warn("cluster database statement failed", "replica", cl->replica, "error", err);
            free(err);
            err = NULL;
            if (PQstatus(pg) != CONNECTION_OK) {
                PQfinish(pg);
                pg = NULL;
                continue;
            }
        }
        if (now >= next_due)
            next_due = now + 1.0;
        if (now >= next_sweep)
            next_sweep = now + (double)cl->sweep_ms / 1000;
        next_deferred = cl_deferred_run(cl, deferred, &ndeferred);
        until = next_due < next_sweep ? next_due : next_sweep;
        if (next_deferred > 0 && next_deferred < until)
            until = next_deferred;
        wait = (long long)((until - now_mono()) * 1000);
        if (!cl_wait(cl, PQsocket(pg), wait + 1))
            break;
        if (PQconsumeInput(pg) == 0 || PQstatus(pg) != CONNECTION_OK) {
            char *m = cl_pg_error(PQerrorMessage(pg));

            log_error("cluster database connection lost: webhooks are answered 503 until it is back",
                      "replica", cl->replica, "error", m);
            cl_status_down(cl, m);
            free(m);
            metrics_inc("cluster_db_errors_total", 1, (char *)NULL);
            told = true;
            atomic_store(&cl->ready, false);
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        while ((note = PQnotifies(pg)) != NULL) {
            cl_notified(cl, note->extra, deferred, &ndeferred);
            PQfreemem(note);
        }
    }
    while (ndeferred > 0)
        free(deferred[--ndeferred].workspace);
    free(deferred);
    PQfinish(pg);
    free(err);
    return NULL;
}

struct cluster *
cluster_new(const struct config *cfg)
{
    struct cluster *cl = xcalloc(1, sizeof *cl);
    char host[256];

    cl->conninfo = xstrdup(cfg->cluster.database);
    cl->password = cfg->cluster.password != NULL ? xstrdup(cfg->cluster.password) : NULL;
    if (cfg->cluster.replica != NULL) {
        cl->replica = xstrdup(cfg->cluster.replica);
    } else {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "gitsyncd");
        host[sizeof host - 1] = '\0';
        cl->replica = xasprintf("%s-%ld", host, (long)getpid());
    }
    cl->appname = xasprintf("gitsyncd/%s", cl->replica);
    cl->sweep_ms = cfg->cluster.sweep_ms;
    cl->connect_timeout_ms = cfg->cluster.connect_timeout_ms;
    cl->dedup_ttl_ms = cfg->dedup_ttl_ms > 0 ? cfg->dedup_ttl_ms : 3600000;
    cl->pipe[0] = cl->pipe[1] = -1;
    pthread_mutex_init(&cl->lock, NULL);
    pthread_key_create(&cl->key, NULL);
    cluster_set_workspaces(cl, cfg);
    return cl;
}

void
cluster_set_workspaces(struct cluster *cl, const struct config *cfg)
{
    struct cl_ws *ws = xcalloc(cfg->nworkspaces + 1, sizeof *ws);
    size_t i, j;

    pthread_mutex_lock(&cl->lock);
    for (i = 0; i < cfg->nworkspaces; i++) {
        ws[i].name = xstrdup(cfg->workspaces[i].name);
        ws[i].interval_ms = cfg->workspaces[i].sync.interval_ms;
        /* Known ones keep their id unless the interval changed. */
        for (j = 0; j < cl->nws; j++) {
            if (strcmp(cl->ws[j].name, ws[i].name) == 0 && cl->ws[j].interval_ms == ws[i].interval_ms)
                ws[i].id = cl->ws[j].id;
        }
    }
    for (j = 0; j < cl->nws; j++)
        free(cl->ws[j].name);
    free(cl->ws);
    cl->ws = ws;
    cl->nws = cfg->nworkspaces;
    cl->ws_changed = true;
    pthread_mutex_unlock(&cl->lock);
    if (cl->pipe[1] >= 0 && write(cl->pipe[1], "w", 1) < 0 && errno != EAGAIN)
        log_warn("cannot wake the cluster listener", "error", strerror(errno));
}

void
cluster_start(struct cluster *cl, struct queue *q)
{
    int i;

    cl->q = q;
    if (pipe(cl->pipe) != 0) {
        log_error("cannot make a pipe for the cluster listener", "error", strerror(errno));
        abort();
    }
    for (i = 0; i < 2; i++) {
        fcntl(cl->pipe[i], F_SETFL, fcntl(cl->pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(cl->pipe[i], F_SETFD, FD_CLOEXEC);
    }
    status_set("cluster", json_pack("{s:s, s:s}", "replica", cl->replica, "database", "connecting"));
    metrics_set("cluster_database_up", 0, (char *)NULL);
    if (pthread_create(&cl->thread, NULL, cl_listen, cl) != 0) {
        log_error("cannot start the cluster listener thread", "error", strerror(errno));
        abort();
    }
    cl->started = true;
}

bool
cluster_ready(struct cluster *cl)
{
    return atomic_load(&cl->ready);
}

const char *
cluster_replica(const struct cluster *cl)
{
    return cl->replica;
}

/* Commit one event (body stolen); see enum cluster_intake. */
static enum cluster_intake
cl_intake(struct cluster *cl, const char *workspace, const char *kind, json_t *body,
          const char *delivery, double received_at)
{
    PGresult *r = NULL;
    PGconn *pg;
    char *text, *err = NULL, at[64];
    const char *p[6];
    double t0 = now_mono();
    enum cluster_intake result = CLUSTER_UNAVAILABLE;
    int rc;

    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(at, sizeof at, "%.6f", received_at);
    pg = cl_thread_conn(cl, &err);
    if (pg == NULL)
        goto out;
    p[0] = workspace;
    p[1] = kind;
    p[2] = text;
    p[3] = at;
    p[4] = cl->replica;
    p[5] = delivery;
    if (delivery != NULL)
        rc = cl_exec(pg,
                     "WITH d AS (INSERT INTO gitsyncd_deliveries (workspace, delivery) VALUES ($1, $6)"
                     " ON CONFLICT DO NOTHING RETURNING 1)"
                     " INSERT INTO gitsyncd_events (workspace, kind, body, received_at, replica)"
                     " SELECT $1, $2, $3::jsonb, $4::double precision, $5 FROM d RETURNING id",
                     6, p, &r, &err);
    else
        rc = cl_exec(pg,
                     "INSERT INTO gitsyncd_events (workspace, kind, body, received_at, replica)"
                     " VALUES ($1, $2, $3::jsonb, $4::double precision, $5) RETURNING id",
                     5, p, &r, &err);
    if (rc != 0) {
        cl_check_conn(cl);
        goto out;
    }
    result = PQntuples(r) > 0 ? CLUSTER_COMMITTED : CLUSTER_DUPLICATE;
    PQclear(r);
out:
    if (result == CLUSTER_UNAVAILABLE) {
        if (log_flood_ok())
            log_error("cluster database unavailable: webhook answered 503 (the sender retries)",
                      "workspace", workspace, "kind", kind, "delivery", delivery ? delivery : "",
                      "error", err);
        metrics_inc("cluster_intake_total", 1, "result", "error", (char *)NULL);
    } else {
        metrics_observe("cluster_intake_seconds", now_mono() - t0, (char *)NULL);
        metrics_inc("cluster_intake_total", 1, "result",
                    result == CLUSTER_COMMITTED ? "committed" : "duplicate", (char *)NULL);
    }
    free(err);
    free(text);
    return result;
}

enum cluster_intake
cluster_add_git(struct cluster *cl, const char *workspace, const char *after,
                const char *delivery, double received_at)
{
    return cl_intake(cl, workspace, "git",
                     json_pack("{s:s?, s:s?}", "after", after, "delivery", delivery),
                     delivery, received_at);
}

enum cluster_intake
cluster_add_check(struct cluster *cl, const char *workspace, const char *request,
                  const char *ref, const char *sha, const char *delivery,
                  double received_at)
{
    return cl_intake(cl, workspace, "check",
                     json_pack("{s:s, s:s, s:s?, s:s?}", "request", request, "ref", ref,
                               "sha", sha, "delivery", delivery),
                     delivery, received_at);
}

enum cluster_intake
cluster_add_resource(struct cluster *cl, const char *workspace,
                     const struct job_resource *r, const char *delivery)
{
    return cl_intake(cl, workspace, "resource",
                     json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "kind", r->kind,
                               "id", r->id, "slug", r->slug, "action", r->action, "event_id",
                               r->event_id, "actor_name", r->actor_name, "actor_email",
                               r->actor_email, "seq", (json_int_t)r->seq),
                     delivery, r->received_at > 0 ? r->received_at : now_wall());
}

/* A string member of an event body, or NULL. */
static const char *
cl_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Merge one row of gitsyncd_events into job. */
static void
cl_merge(const struct config *cfg, struct job *job, const char *kind, const char *text,
         double at)
{
    json_t *b = json_loads(text, 0, NULL);

    if (job->first_event_at == 0 || at < job->first_event_at)
        job->first_event_at = at;
    if (strcmp(kind, "full") == 0) {
        job->full = true;
    } else if (strcmp(kind, "git") == 0) {
        job_add_git(job, cl_str(b, "after"), cl_str(b, "delivery"), at);
    } else if (strcmp(kind, "check") == 0 && cl_str(b, "request") != NULL &&
               cl_str(b, "ref") != NULL) {
        job_add_check(job, cl_str(b, "request"), cl_str(b, "ref"), cl_str(b, "sha"),
                      cl_str(b, "delivery"), at);
    } else if (strcmp(kind, "resource") == 0) {
        struct job_resource r;

        memset(&r, 0, sizeof r);
        r.kind = (char *)cl_str(b, "kind");
        r.id = (char *)cl_str(b, "id");
        r.slug = (char *)cl_str(b, "slug");
        r.action = (char *)cl_str(b, "action");
        r.event_id = (char *)cl_str(b, "event_id");
        r.actor_name = (char *)cl_str(b, "actor_name");
        r.actor_email = (char *)cl_str(b, "actor_email");
        r.seq = json_is_integer(json_object_get(b, "seq"))
                    ? (long long)json_integer_value(json_object_get(b, "seq")) : -1;
        r.received_at = at;
        job_add_resource(job, &r, cfg->max_dirty);
    } else {
        log_warn("cluster: an event of an unknown kind is ignored", "workspace", job->workspace,
                 "kind", kind);
    }
    json_decref(b);
}

/* Remember why a job was not run (for `sync --once`). */
static void
cl_refuse(struct cluster *cl, char *why)
{
    pthread_mutex_lock(&cl->lock);
    free(cl->refusal);
    cl->refusal = why;
    pthread_mutex_unlock(&cl->lock);
}

const char *
cluster_last_refusal(struct cluster *cl)
{
    const char *s;

    pthread_mutex_lock(&cl->lock);
    s = cl->refusal;
    pthread_mutex_unlock(&cl->lock);
    return s;
}

/* The id of workspace ws, registered if need be; 0 with *err. */
static long long
cl_ws_id(struct cluster *cl, PGconn *pg, const struct config_workspace *ws, char **err)
{
    long long id = 0;
    size_t i;

    pthread_mutex_lock(&cl->lock);
    for (i = 0; i < cl->nws && id == 0; i++) {
        if (strcmp(cl->ws[i].name, ws->name) == 0)
            id = cl->ws[i].id;
    }
    pthread_mutex_unlock(&cl->lock);
    if (id > 0)
        return id;
    id = cl_register(pg, ws->name, ws->sync.interval_ms, 0, err);
    if (id <= 0)
        return 0;
    pthread_mutex_lock(&cl->lock);
    for (i = 0; i < cl->nws; i++) {
        if (strcmp(cl->ws[i].name, ws->name) == 0)
            cl->ws[i].id = id;
    }
    pthread_mutex_unlock(&cl->lock);
    return id;
}

int
cluster_run_job(struct cluster *cl, const struct config *cfg,
                const struct config_workspace *ws, const struct job *wake,
                job_fn fn, void *arg)
{
    PGresult *r = NULL, *ev = NULL;
    PGconn *pg;
    struct job *job = NULL;
    char *err = NULL, idbuf[32], maxbuf[32], newbase[64], *audit = NULL, *known = NULL;
    char *audit_before = NULL;
    const char *p[7];
    bool audit_changed = false;
    json_t *a;
    long long id, maxid = 0;
    int rc = 0, i, nev;
    bool locked = false, more = false;

    pg = cl_thread_conn(cl, &err);
    if (pg == NULL) {
        log_warn("cluster database unavailable: the job waits until it is back", "workspace",
                 ws->name, "error", err);
        cl_refuse(cl, err);
        return 0;
    }
    id = cl_ws_id(cl, pg, ws, &err);
    if (id <= 0)
        goto dberr;
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    p[0] = idbuf;
    if (cl_exec(pg, "SELECT pg_try_advisory_lock(" CL_LOCK_CLASS ", $1::integer)", 1, p, &r, &err) != 0)
        goto dberr;
    locked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    r = NULL;
    metrics_inc("cluster_lock_total", 1, "result", locked ? "acquired" : "busy", (char *)NULL);
    if (!locked) {
        /* Its holder runs it; what came in meanwhile it finds after. */
        log_debug("cluster: the workspace runs on another replica", "workspace", ws->name,
                  "replica", cl->replica);
        if (cl_exec(pg, "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                        " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                        " AND l.classid = " CL_LOCK_CLASS "::bigint::oid"
                        " AND l.objid = $1::bigint::oid AND l.objsubid = 2", 1, p, &r, &err) == 0 &&
            PQntuples(r) > 0) {
            const char *app = PQgetvalue(r, 0, 0);

            cl_refuse(cl, xasprintf("replica %s is syncing it now",
                                    strncmp(app, "gitsyncd/", 9) == 0 ? app + 9 : app));
        } else {
            cl_refuse(cl, xstrdup("another replica is syncing it now"));
        }
        PQclear(r);
        free(err);
        return 0;
    }
    if (cl_exec(pg, "SELECT base, audit::text, coalesce(not_before > now(), false)"
                    " FROM gitsyncd_workspaces WHERE id = $1::integer", 1, p, &r, &err) != 0)
        goto dberr;
    if (PQntuples(r) != 1) {
        size_t k;

        /* Someone deleted the row: the next job registers it again. */
        set_error(&err, "workspace %s (id %s) is gone from gitsyncd_workspaces", ws->name, idbuf);
        pthread_mutex_lock(&cl->lock);
        for (k = 0; k < cl->nws; k++) {
            if (strcmp(cl->ws[k].name, ws->name) == 0)
                cl->ws[k].id = 0;
        }
        pthread_mutex_unlock(&cl->lock);
        goto dberr;
    }
    if (strcmp(PQgetvalue(r, 0, 2), "t") == 0 && (wake == NULL || !wake->full)) {
        /* Backing off after failures, cluster-wide: the sweep wakes it. */
        cl_refuse(cl, xstrdup("it is backing off after failed jobs"));
        PQclear(r);
        r = NULL;
        goto unlock;
    }
    p[0] = ws->name;
    if (cl_exec(pg, "SELECT id, kind, body::text, received_at FROM gitsyncd_events"
                    " WHERE workspace = $1 ORDER BY id LIMIT " CL_MAX_EVENTS, 1, p, &ev, &err) != 0)
        goto dberr;
    nev = PQntuples(ev);
    job = xcalloc(1, sizeof *job);
    job->workspace = xstrdup(ws->name);
    job->full = wake != NULL && wake->full;
    for (i = 0; i < nev; i++) {
        long long eid = strtoll(PQgetvalue(ev, i, 0), NULL, 10);

        if (eid > maxid)
            maxid = eid;
        cl_merge(cfg, job, PQgetvalue(ev, i, 1), PQgetvalue(ev, i, 2),
                 strtod(PQgetvalue(ev, i, 3), NULL));
    }
    more = nev == atoi(CL_MAX_EVENTS);
    PQclear(ev);
    ev = NULL;
    if (nev == 0 && !job->full) {
        /* Another replica ran them already. */
        PQclear(r);
        r = NULL;
        goto unlock;
    }
    {
        char n[32];

        snprintf(n, sizeof n, "%d", nev);
        log_info("cluster job started", "workspace", ws->name, "replica", cl->replica, "events", n);
    }
    if (!PQgetisnull(r, 0, 0)) {
        known = xstrdup(PQgetvalue(r, 0, 0));
        if (reconcile_base_adopt(cfg, ws, known, &err) != 0) {
            log_error("cluster: cannot take the workspace's base: the job is put off", "workspace",
                      ws->name, "error", err);
            free(err);
            err = NULL;
            rc = -1;
        }
    }
    if (rc == 0 && !PQgetisnull(r, 0, 1)) {
        a = json_loads(PQgetvalue(r, 0, 1), 0, NULL);
        if (a != NULL)
            reconcile_audit_import(ws, a);
        json_decref(a);
    }
    /* What the audit state was, so that an unchanged one is not written
     * back (it may hold thousands of actors). */
    a = reconcile_audit_export(ws);
    audit_before = a != NULL ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(a);
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = fn(cfg, ws, job, arg);
    /* The base the job left, for the next replica; a failed job may have
     * moved it too (commits pushed before the failure). */
    snprintf(newbase, sizeof newbase, "%s", known != NULL ? known : "");
    if (reconcile_base_publish(cfg, ws, known, newbase, sizeof newbase, &err) != 0) {
        log_warn("cluster: cannot publish the base: the next job goes on from the one before",
                 "workspace", ws->name, "error", err);
        free(err);
        err = NULL;
    }
    a = reconcile_audit_export(ws);
    audit = a != NULL ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(a);
    audit_changed = audit != NULL && (audit_before == NULL || strcmp(audit, audit_before) != 0);
    snprintf(maxbuf, sizeof maxbuf, "%lld", maxid);
    p[0] = ws->name;
    p[1] = maxbuf;
    p[2] = newbase[0] != '\0' ? newbase : NULL;
    p[3] = audit;
    p[4] = cl->replica;
    p[5] = idbuf;
    p[6] = audit_changed ? "t" : "f";
    if (rc == 0) {
        if (cl_exec(pg,
                    "WITH d AS (DELETE FROM gitsyncd_events WHERE workspace = $1 AND id <= $2::bigint)"
                    " UPDATE gitsyncd_workspaces SET base = $3,"
                    " audit = CASE WHEN $7::boolean THEN $4::jsonb ELSE audit END, failures = 0,"
                    " not_before = NULL, last_job = now(), last_result = 'ok', last_replica = $5"
                    " WHERE id = $6::integer", 7, p, NULL, &err) != 0)
            goto dberr;
    } else {
        /* The events stay: their actors are wanted when it goes through. */
        if (cl_exec(pg,
                    "UPDATE gitsyncd_workspaces SET base = $3,"
                    " audit = CASE WHEN $7::boolean THEN $4::jsonb ELSE audit END,"
                    " failures = failures + 1, not_before = now() + least(300, 2 ^ least(failures, 9))"
                    " * interval '1 second', last_job = now(), last_result = 'error', last_replica = $5"
                    " WHERE id = $6::integer AND $1::text IS NOT NULL AND $2::bigint IS NOT NULL", 7, p, NULL,
                    &err) != 0)
            goto dberr;
    }
    if (rc == 0 && !more) {
        p[0] = ws->name;
        p[1] = maxbuf;
        if (cl_exec(pg, "SELECT EXISTS (SELECT 1 FROM gitsyncd_events WHERE workspace = $1"
                        " AND id > $2::bigint)", 2, p, &r, &err) != 0)
            goto dberr;
        more = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        r = NULL;
    }
    log_info("cluster job done", "workspace", ws->name, "replica", cl->replica, "result",
             rc == 0 ? "ok" : "error");
    goto unlock;
dberr:
    log_error("cluster database statement failed: the workspace's events stay for the next job",
              "workspace", ws->name, "replica", cl->replica, "error", err);
    cl_refuse(cl, err);
    err = NULL;
    PQclear(r);
    r = NULL;
    PQclear(ev);
    ev = NULL;
    if (job != NULL && locked)
        log_info("cluster job done", "workspace", ws->name, "replica", cl->replica, "result", "error");
    if (rc == 0)
        rc = -1;
    more = false;
unlock:
    if (locked) {
        p[0] = idbuf;
        if (cl_exec(pg, "SELECT pg_advisory_unlock(" CL_LOCK_CLASS ", $1::integer)", 1, p, NULL,
                    &err) != 0) {
            /* A broken connection has no locks left: closing it is letting go. */
            free(err);
            err = NULL;
        }
    }
    cl_check_conn(cl);
    if (more && cl->q != NULL)
        queue_add_wake(cl->q, ws->name);
    free(known);
    free(audit);
    free(audit_before);
    job_free(job);
    return rc;
}

void
cluster_stop(struct cluster *cl)
{
    if (cl == NULL || !cl->started)
        return;
    atomic_store(&cl->stopping, true);
    if (write(cl->pipe[1], "s", 1) < 0 && errno != EAGAIN)
        log_warn("cannot wake the cluster listener", "error", strerror(errno));
    pthread_join(cl->thread, NULL);
    cl->started = false;
}

void
cluster_free(struct cluster *cl)
{
    struct cl_conn *c, *next;
    size_t i;

    if (cl == NULL)
        return;
    cluster_stop(cl);
    for (c = cl->conns; c != NULL; c = next) {
        next = c->next;
        PQfinish(c->pg);
        free(c);
    }
    pthread_key_delete(cl->key);
    for (i = 0; i < cl->nws; i++)
        free(cl->ws[i].name);
    free(cl->ws);
    if (cl->pipe[0] >= 0) {
        close(cl->pipe[0]);
        close(cl->pipe[1]);
    }
    pthread_mutex_destroy(&cl->lock);
    free(cl->conninfo);
    free(cl->password);
    free(cl->replica);
    free(cl->appname);
    free(cl->refusal);
    free(cl);
}

int
cluster_probe(const struct config *cfg, const char *workspace, char **report)
{
    struct cluster *cl = cluster_new(cfg);
    PGresult *r = NULL;
    PGconn *pg;
    const char *p[1] = { workspace };
    char *err = NULL;
    int version, rc = -1;

    *report = NULL;
    pg = cl_connect(cl, &err);
    if (pg == NULL) {
        *report = xasprintf("%s: check cluster.database and its password", err);
        goto out;
    }
    if (cl_exec(pg, "SELECT to_regclass('gitsyncd_schema') IS NOT NULL", 0, NULL, &r, &err) != 0)
        goto fail;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        *report = xstrdup("reachable; no gitsyncd schema yet: the first replica to start creates it "
                          "(the role needs CREATE on the database)");
        rc = 0;
        goto out;
    }
    PQclear(r);
    if (cl_exec(pg, "SELECT coalesce(max(version), 0) FROM gitsyncd_schema", 0, NULL, &r, &err) != 0)
        goto fail;
    version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (version > CL_SCHEMA_VERSION) {
        *report = xasprintf("schema version %d is newer than this gitsyncd's %d: upgrade it",
                            version, CL_SCHEMA_VERSION);
        goto out;
    }
    if (cl_exec(pg,
                "SELECT (SELECT count(*) FROM gitsyncd_events WHERE workspace = $1),"
                " (SELECT a.application_name FROM gitsyncd_workspaces w JOIN pg_locks l"
                "  ON l.locktype = 'advisory' AND l.granted AND l.classid = " CL_LOCK_CLASS "::bigint::oid"
                "  AND l.objid = w.id::bigint::oid AND l.objsubid = 2"
                "  JOIN pg_stat_activity a ON a.pid = l.pid WHERE w.name = $1 LIMIT 1),"
                " (SELECT string_agg(name, ', ' ORDER BY name) FROM gitsyncd_replicas"
                "  WHERE seen > now() - interval '1 minute')", 1, p, &r, &err) != 0)
        goto fail;
    *report = xasprintf("reachable, schema %d; %s events waiting for this workspace; held by %s; "
                        "replicas seen in the last minute: %s", version, PQgetvalue(r, 0, 0),
                        PQgetisnull(r, 0, 1) ? "none now" : PQgetvalue(r, 0, 1),
                        PQgetisnull(r, 0, 2) ? "none" : PQgetvalue(r, 0, 2));
    rc = 0;
    goto out;
fail:
    *report = xstrdup(err);
out:
    PQclear(r);
    PQfinish(pg);
    free(err);
    cluster_free(cl);
    return rc;
}
