/* Unit tests for config: defaults, every error with its position, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitsyncd/config.h"
#include "gitsyncd/log.h"
#include "gitsyncd/util.h"

#define WS_HEAD \
    "workspaces:\n" \
    "  - name: w1\n" \
    "    platform:\n" \
    "      profile: demo\n" \
    "      url: http://127.0.0.1:1/api/v1\n" \
    "      token: tok-secret-1234\n" \
    "    git:\n" \
    "      url: file:///tmp/r.git\n"

static char tmpdir[64];

static int
parse(const char *text, struct config **cfg, char **err)
{
    *cfg = NULL;
    *err = NULL;
    return config_parse("t.yaml", text, strlen(text), cfg, err);
}

/* Expect text to fail with exactly msg. */
static void
expect_error(const char *text, const char *msg)
{
    struct config *cfg;
    char *err;

    assert_int_equal(parse(text, &cfg, &err), -1);
    assert_null(cfg);
    assert_non_null(err);
    assert_string_equal(err, msg);
    free(err);
}

static void
test_defaults(void **state)
{
    struct config *cfg;
    char *err;
    const struct config_workspace *ws;

    (void)state;
    assert_int_equal(parse(WS_HEAD, &cfg, &err), 0);
    assert_string_equal(cfg->listen, "127.0.0.1:8080");
    assert_null(cfg->admin_listen);
    assert_true(cfg->workers >= 1);
    assert_string_equal(cfg->state_dir, "/var/lib/gitsyncd");
    assert_int_equal(cfg->max_body, 1048576);
    assert_int_equal(cfg->request_timeout_ms, 30000);
    assert_int_equal(cfg->dedup_size, 10000);
    assert_int_equal(cfg->log_level, LOG_INFO);
    assert_int_equal(cfg->nworkspaces, 1);
    ws = config_find_workspace(cfg, "w1");
    assert_non_null(ws);
    assert_null(config_find_workspace(cfg, "nope"));
    assert_string_equal(ws->git.branch, "main");
    assert_string_equal(ws->git.path, "");
    assert_int_equal(ws->git.host, GIT_HOST_AUTO);
    assert_int_equal(ws->sync.interval_ms, 600000);
    assert_int_equal(ws->sync.conflict, CONFLICT_PLATFORM);
    assert_int_equal(ws->sync.max_deletes, 10);
    assert_true(ws->platform.tls_verify);
    assert_true(ws->git.tls_verify);
    assert_int_equal(ws->platform.timeout_ms, 30000);
    assert_string_equal(ws->git.committer.name, "gitsyncd");
    config_free(cfg);
}

static void
test_values(void **state)
{
    struct config *cfg;
    char *err;
    const struct config_workspace *ws;

    (void)state;
    assert_int_equal(parse("listen: 0.0.0.0:9000\nworkers: 7\nmax_body: 2MiB\n"
                           "log: {level: debug, format: json}\n" WS_HEAD
                           "      branch: prod\n      path: /configs/hightouch\n"
                           "      host: gitlab\n"
                           "      author: {name: Bot, email: bot@example.com}\n"
                           "    sync: {interval: 90s, conflict: branch, max_deletes: -1}\n",
                           &cfg, &err), 0);
    assert_string_equal(cfg->listen, "0.0.0.0:9000");
    assert_int_equal(cfg->workers, 7);
    assert_int_equal(cfg->max_body, 2097152);
    assert_int_equal(cfg->log_level, LOG_DEBUG);
    assert_int_equal(cfg->log_format, LOG_FORMAT_JSON);
    ws = &cfg->workspaces[0];
    assert_string_equal(ws->git.branch, "prod");
    assert_string_equal(ws->git.path, "configs/hightouch/");
    assert_int_equal(ws->git.host, GIT_HOST_GITLAB);
    assert_string_equal(ws->git.author.email, "bot@example.com");
    assert_string_equal(ws->git.committer.email, "bot@example.com");
    assert_int_equal(ws->sync.interval_ms, 90000);
    assert_int_equal(ws->sync.conflict, CONFLICT_BRANCH);
    assert_int_equal(ws->sync.max_deletes, -1);
    config_free(cfg);
}

static void
test_unknown_key_suggests(void **state)
{
    (void)state;
    expect_error("workres: 4\n" WS_HEAD,
                 "t.yaml:1:1: unknown key \"workres\" (did you mean \"workers\"?)");
    expect_error(WS_HEAD "    sync:\n      conflcit: git\n",
                 "t.yaml:10:7: unknown key \"workspaces[0].sync.conflcit\" (did you mean \"conflict\"?)");
    expect_error(WS_HEAD "      tokne_file: /x\n",
                 "t.yaml:9:7: unknown key \"workspaces[0].git.tokne_file\"");
    expect_error("zzzzzz: 1\n" WS_HEAD, "t.yaml:1:1: unknown key \"zzzzzz\"");
}

static void
test_missing_required(void **state)
{
    (void)state;
    expect_error("listen: 127.0.0.1:1\n", "t.yaml:1:1: missing required key \"workspaces\"");
    expect_error("workspaces:\n  - name: w\n    platform:\n      profile: demo\n"
                 "      url: http://x\n    git:\n      url: file:///r\n",
                 "t.yaml:4:7: missing required key \"workspaces[0].platform.token\"");
    expect_error("workspaces:\n  - platform: {profile: p, url: http://x, token: t}\n"
                 "    git: {url: u}\n",
                 "t.yaml:2:5: missing required key \"workspaces[0].name\"");
}

static void
test_wrong_type(void **state)
{
    (void)state;
    expect_error("workers: many\n" WS_HEAD,
                 "t.yaml:1:10: workers: expected a number, got \"many\"");
    expect_error("workers: 2.5\n" WS_HEAD,
                 "t.yaml:1:10: workers: expected a whole number, got \"2.5\"");
    expect_error("listen: [a, b]\n" WS_HEAD,
                 "t.yaml:1:9: listen: expected a scalar, got a sequence");
    expect_error("workspaces: {a: 1}\n",
                 "t.yaml:1:13: workspaces: expected a sequence, got a mapping");
    expect_error(WS_HEAD "      tls_verify: maybe\n",
                 "t.yaml:9:19: workspaces[0].git.tls_verify: expected true or false, got \"maybe\"");
    expect_error("- 1\n", "t.yaml:1:1: expected a mapping at the top level, got a sequence");
}

static void
test_out_of_range(void **state)
{
    (void)state;
    expect_error("workers: 0\n" WS_HEAD,
                 "t.yaml:1:10: workers: 0 is out of range (1 to 256)");
    expect_error("max_body: 10\n" WS_HEAD,
                 "t.yaml:1:11: max_body: 10 is out of range (1KiB to 1GiB)");
    /* Found by tests/fuzz (fuzz_config): beyond long long was undefined. */
    expect_error("max_dirty: 99111111111111111111111111111111111111117\n" WS_HEAD,
                 "t.yaml:1:12: max_dirty: 99111111111111111111111111111111111111117 is out of range");
    expect_error("max_dirty: inf\n" WS_HEAD,
                 "t.yaml:1:12: max_dirty: expected a number, got \"inf\"");
    expect_error("max_body: lots\n" WS_HEAD,
                 "t.yaml:1:11: max_body: \"lots\" is not a size (e.g. 512KiB, 1MiB)");
    expect_error(WS_HEAD "    sync: {interval: soon}\n",
                 "t.yaml:9:22: workspaces[0].sync.interval: \"soon\" is not a duration (e.g. 500ms, 30s, 10m, 1h)");
    expect_error(WS_HEAD "    sync: {conflict: mine}\n",
                 "t.yaml:9:22: workspaces[0].sync.conflict: unknown value \"mine\" (one of: platform, git, branch)");
    expect_error(WS_HEAD "      host: sourcehut\n",
                 "t.yaml:9:13: workspaces[0].git.host: unknown value \"sourcehut\" (one of: auto, github, gitlab, bitbucket, bitbucket-server, gitea)");
}

static void
test_duplicate_workspace(void **state)
{
    (void)state;
    expect_error(WS_HEAD "  - name: w1\n    platform: {profile: p, url: http://x, token: t}\n"
                 "    git: {url: u}\n",
                 "t.yaml:9:11: duplicate workspace name \"w1\" (first at line 2)");
    expect_error("workspaces:\n  - name: a/b\n    platform: {profile: p, url: http://x, token: t}\n"
                 "    git: {url: u}\n",
                 "t.yaml:2:11: workspaces[0].name: \"a/b\" is not a valid name (letters, digits, '_', '.', '-')");
    expect_error("workspaces:\n  - name: a\n    platform: {profile: p, url: ftp://x, token: t}\n"
                 "    git: {url: u}\n",
                 "t.yaml:3:33: workspaces[0].platform.url: \"ftp://x\" is not an http:// or https:// URL");
}

static void
test_yaml_errors(void **state)
{
    (void)state;
    expect_error("a: &x 1\nb: *x\n", "t.yaml:1:4: anchors are not allowed");
    expect_error("listen: a\nlisten: b\n" WS_HEAD,
                 "t.yaml:2:1: duplicate key \"listen\" (first at line 1)");
    expect_error("listen: !!str a\n", "t.yaml:1:9: tags are not allowed");
    expect_error("listen: [\n", "t.yaml:2:1: did not find expected node content while parsing a flow node");
}

static void
test_env_expansion(void **state)
{
    struct config *cfg;
    char *err;

    (void)state;
    setenv("GS_TEST_DIR", "/srv/gs", 1);
    unsetenv("GS_TEST_UNSET");
    assert_int_equal(parse("state_dir: ${GS_TEST_DIR}/state\n"
                           "listen: ${GS_TEST_UNSET:-127.0.0.1:7}\n"
                           "admin_listen: cost$$5\n" WS_HEAD, &cfg, &err), 0);
    assert_string_equal(cfg->state_dir, "/srv/gs/state");
    assert_string_equal(cfg->listen, "127.0.0.1:7");
    assert_string_equal(cfg->admin_listen, "cost$5");
    config_free(cfg);
    expect_error("state_dir: ${GS_TEST_UNSET}/x\n" WS_HEAD,
                 "t.yaml:1:12: environment variable GS_TEST_UNSET is not set (use ${GS_TEST_UNSET:-default} for a default)");
    expect_error("state_dir: ${GS_TEST_DIR\n" WS_HEAD,
                 "t.yaml:1:12: unterminated \"${\" in \"${GS_TEST_DIR\" (write $$ for a literal $)");
}

/* Write a secret file with mode; returns its path (static buffer). */
static const char *
secret_file(const char *name, const char *content, int mode)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    return path;
}

static void
test_secret_files(void **state)
{
    struct config *cfg;
    char *err, *text, *captured = NULL;
    size_t clen = 0;
    FILE *cap;

    (void)state;
    text = xasprintf("workspaces:\n  - name: w\n    platform:\n      profile: p\n"
                          "      url: http://x\n      token_file: %s\n    git: {url: u}\n",
                          secret_file("tok", "file-secret-9876\n", 0600));
    assert_int_equal(parse(text, &cfg, &err), 0);
    assert_string_equal(cfg->workspaces[0].platform.token, "file-secret-9876");
    config_free(cfg);
    free(text);

    /* A world-readable secret file loads, with a warning naming it. */
    cap = open_memstream(&captured, &clen);
    log_set_stream(cap);
    text = xasprintf("workspaces:\n  - name: w\n    platform:\n      profile: p\n"
                          "      url: http://x\n      token_file: %s\n    git: {url: u}\n",
                          secret_file("open", "open-secret-5555", 0644));
    assert_int_equal(parse(text, &cfg, &err), 0);
    fflush(cap);
    assert_non_null(strstr(captured, "secret file is readable by group or others"));
    assert_non_null(strstr(captured, "mode=0644"));
    assert_null(strstr(captured, "open-secret-5555"));
    log_set_stream(NULL);
    fclose(cap);
    free(captured);
    config_free(cfg);
    free(text);

    expect_error("workspaces:\n  - name: w\n    platform:\n      profile: p\n"
                 "      url: http://x\n      token_file: /nonexistent/tok\n    git: {url: u}\n",
                 "t.yaml:6:19: token_file: cannot read secret: /nonexistent/tok: No such file or directory");
    expect_error("workspaces:\n  - name: w\n    platform:\n      profile: p\n"
                 "      url: http://x\n      token: a\n      token_file: /x\n    git: {url: u}\n",
                 "t.yaml:6:7: give either token or token_file, not both");
}

static void
test_print_redacts(void **state)
{
    struct config *cfg;
    char *err, *out = NULL;
    size_t len = 0;
    FILE *f;

    (void)state;
    assert_int_equal(parse("workspaces:\n  - name: w\n    platform:\n      profile: p\n"
                           "      url: http://x\n      token: platform-tok-4242\n"
                           "      webhook_secret: whsec_c2VjcmV0LXNlY3JldA==\n"
                           "    git:\n      url: https://bob:gh-pass-777@github.com/a/b.git\n"
                           "      username: bob\n      password: gh-pass-777\n"
                           "      webhook_secret: hook-secret-31337\n", &cfg, &err), 0);
    f = open_memstream(&out, &len);
    config_print(f, cfg);
    fclose(f);
    assert_null(strstr(out, "platform-tok-4242"));
    assert_null(strstr(out, "c2VjcmV0LXNlY3JldA"));
    assert_null(strstr(out, "gh-pass-777"));
    assert_null(strstr(out, "hook-secret-31337"));
    assert_non_null(strstr(out, " https://github.com/a/b.git "));
    assert_non_null(strstr(out, "<redacted>"));
    free(out);
    config_free(cfg);
}

/* The cluster block: off by default, its values, errors, no password shown. */
static void
test_cluster(void **state)
{
    static const struct {
        const char *database;
        const char *shown;
    } conninfos[] = {
        { "postgres://gs:pg-pass-9911@db.example:5432/gitsyncd",
          "postgres://gs:***@db.example:5432/gitsyncd" },
        { "postgresql://gs@db/g?sslmode=require&password=pg-pass-9911&connect_timeout=3",
          "postgresql://gs@db/g?sslmode=require&password=***&connect_timeout=3" },
        { "host=db user=gs password=pg-pass-9911 dbname=g",
          "host=db user=gs password=*** dbname=g" },
        { "host=db password = 'pg pass 9911' dbname=g", "host=db password=*** dbname=g" },
        { "postgres://db/g", "postgres://db/g" },
    };
    struct config *cfg;
    char *err, *out, *text;
    size_t len, i;
    FILE *f;

    (void)state;
    assert_int_equal(parse(WS_HEAD, &cfg, &err), 0);
    assert_null(cfg->cluster.database);
    f = open_memstream(&out, &len);
    config_print(f, cfg);
    fclose(f);
    assert_non_null(strstr(out, "cluster         off (one process)"));
    free(out);
    config_free(cfg);

    assert_int_equal(parse("cluster:\n  database: postgres://db/g\n  replica: r1\n"
                           "  sweep: 2s\n  connect_timeout: 500ms\n" WS_HEAD, &cfg, &err), 0);
    assert_string_equal(cfg->cluster.database, "postgres://db/g");
    assert_string_equal(cfg->cluster.replica, "r1");
    assert_int_equal(cfg->cluster.sweep_ms, 2000);
    assert_int_equal(cfg->cluster.connect_timeout_ms, 500);
    assert_null(cfg->cluster.password);
    config_free(cfg);
    assert_int_equal(parse("cluster: { database: postgres://db/g }\n" WS_HEAD, &cfg, &err), 0);
    assert_int_equal(cfg->cluster.sweep_ms, 5000);
    assert_int_equal(cfg->cluster.connect_timeout_ms, 2000);
    config_free(cfg);

    expect_error("cluster: { replica: r1 }\n" WS_HEAD,
                 "t.yaml:1:10: missing required key \"cluster.database\"");
    expect_error("cluster: { database: x, sweep: 1ms }\n" WS_HEAD,
                 "t.yaml:1:32: cluster.sweep: 1ms is out of range (100ms to 3.6e+06ms)");
    expect_error("cluster: { database: x, databse: y }\n" WS_HEAD,
                 "t.yaml:1:25: unknown key \"cluster.databse\" (did you mean \"database\"?)");

    /* The worst values: nothing, what libpq cannot read, a replica name
     * with a newline, a slash, too long. */
    expect_error("cluster: { database: \"  \" }\n" WS_HEAD,
                 "t.yaml:1:22: cluster.database is empty: give a postgres:// URI or a conninfo such as \"host=db dbname=gitsyncd\"");
    expect_error("cluster: { database: \"host=db port\" }\n" WS_HEAD,
                 "t.yaml:1:22: cluster.database: libpq cannot read it: missing \"=\" after \"port\" in connection info string");
    expect_error("cluster: { database: \"postgres://db/g?nosuch=1\" }\n" WS_HEAD,
                 "t.yaml:1:22: cluster.database: libpq cannot read it: invalid URI query parameter: \"nosuch\"");
    expect_error("cluster: { database: postgres://db/g, replica: \"r\\n1\" }\n" WS_HEAD,
                 "t.yaml:1:48: cluster.replica: \"r\n1\" is not a valid replica name (letters, digits, '_', '.', '-'; 1 to 54 of them)");
    expect_error("cluster: { database: postgres://db/g, replica: a/b }\n" WS_HEAD,
                 "t.yaml:1:48: cluster.replica: \"a/b\" is not a valid replica name (letters, digits, '_', '.', '-'; 1 to 54 of them)");
    expect_error("cluster: { database: postgres://db/g, replica: \"\" }\n" WS_HEAD,
                 "t.yaml:1:48: cluster.replica: \"\" is not a valid replica name (letters, digits, '_', '.', '-'; 1 to 54 of them)");
    text = xasprintf("cluster: { database: postgres://db/g, replica: %0*d }\n" WS_HEAD, 55, 0);
    assert_int_equal(parse(text, &cfg, &err), -1);
    assert_non_null(strstr(err, "is not a valid replica name"));
    free(err);
    free(text);
    text = xasprintf("cluster: { database: postgres://db/g, replica: %0*d }\n" WS_HEAD, 54, 0);
    assert_int_equal(parse(text, &cfg, &err), 0);
    config_free(cfg);
    free(text);

    for (i = 0; i < sizeof conninfos / sizeof conninfos[0]; i++) {
        text = xasprintf("cluster:\n  database: \"%s\"\n  password: other-pw-5150\n" WS_HEAD,
                         conninfos[i].database);
        assert_int_equal(parse(text, &cfg, &err), 0);
        f = open_memstream(&out, &len);
        config_print(f, cfg);
        fclose(f);
        assert_non_null(strstr(out, conninfos[i].shown));
        assert_null(strstr(out, "pg-pass-9911"));
        assert_null(strstr(out, "9911"));
        assert_null(strstr(out, "other-pw-5150"));
        assert_non_null(strstr(out, "password <redacted> (cluster.password or password_file)"));
        assert_non_null(strstr(out, i < 3 ? "role gs," : "role (libpq's default"));
        free(out);
        config_free(cfg);
        free(text);
    }
    /* Without cluster.password, say where the password comes from. */
    assert_int_equal(parse("cluster: { database: \"postgres://gs:pg-pass-7373@db/g\" }\n" WS_HEAD,
                           &cfg, &err), 0);
    f = open_memstream(&out, &len);
    config_print(f, cfg);
    fclose(f);
    assert_non_null(strstr(out, "role gs, password <redacted> (in the database conninfo)"));
    free(out);
    config_free(cfg);
    assert_int_equal(parse("cluster: { database: \"host=db user='g s' dbname=g\" }\n" WS_HEAD,
                           &cfg, &err), 0);
    f = open_memstream(&out, &len);
    config_print(f, cfg);
    fclose(f);
    assert_non_null(strstr(out, "role g s, password none given"));
    free(out);
    config_free(cfg);
    /* The conninfo's password is a secret of the logs too. */
    assert_int_equal(parse("cluster: { database: \"postgres://gs:pg-pass-7373@db/g\" }\n" WS_HEAD,
                           &cfg, &err), 0);
    text = log_redact("connecting with pg-pass-7373");
    assert_null(strstr(text, "pg-pass-7373"));
    free(text);
    config_free(cfg);
}

static int
group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gs-config-test.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_unknown_key_suggests),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_duplicate_workspace),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_secret_files),
        cmocka_unit_test(test_print_redacts),
        cmocka_unit_test(test_cluster),
    };

    return cmocka_run_group_tests_name("config", tests, group_setup, group_teardown);
}
