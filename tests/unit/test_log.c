/* Unit tests for log: formats, levels, quoting, redaction, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gitsyncd/log.h"

static char *captured;
static size_t captured_len;
static FILE *capture;

static int
setup(void **state)
{
    (void)state;
    capture = open_memstream(&captured, &captured_len);
    log_set_stream(capture);
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_LOGFMT);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    log_set_stream(NULL);
    fclose(capture);
    free(captured);
    captured = NULL;
    log_clear_secrets();
    return 0;
}

/* What was logged so far, with the "ts=... " prefix removed. */
static const char *
logged(void)
{
    const char *p;

    fflush(capture);
    p = strstr(captured, " level=");
    assert_non_null(p);
    return p + 1;
}

static void
test_logfmt_quoting(void **state)
{
    (void)state;
    log_info("commit pushed", "workspace", "analytics", "path",
             "models/a b.yaml", "q", "say \"hi\"", "empty", "");
    assert_string_equal(logged(),
        "level=info msg=\"commit pushed\" workspace=analytics "
        "path=\"models/a b.yaml\" q=\"say \\\"hi\\\"\" empty=\"\"\n");
    assert_memory_equal(captured, "ts=", 3);
}

static void
test_level_threshold(void **state)
{
    (void)state;
    log_debug("hidden");
    fflush(capture);
    assert_int_equal(captured_len, 0);
    log_set_level(LOG_DEBUG);
    log_debug("shown", "k", "v");
    assert_string_equal(logged(), "level=debug msg=shown k=v\n");
}

static void
test_json_format(void **state)
{
    json_t *obj;
    json_error_t jerr;

    (void)state;
    log_set_format(LOG_FORMAT_JSON);
    log_warn("line\nbreak", "workspace", "w1");
    fflush(capture);
    obj = json_loads(captured, 0, &jerr);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")), "line\nbreak");
    assert_string_equal(json_string_value(json_object_get(obj, "workspace")), "w1");
    assert_non_null(json_object_get(obj, "ts"));
    json_decref(obj);
}

static void
test_secret_redacted(void **state)
{
    (void)state;
    log_add_secret("s3cr3t-token-value");
    log_error("auth failed for https://user:s3cr3t-token-value@host/x",
              "detail", "token=s3cr3t-token-value");
    fflush(capture);
    assert_null(strstr(captured, "s3cr3t"));
    assert_non_null(strstr(captured, "<redacted>"));
}

/* The one redaction: secrets with quotes, URL userinfo, nothing else. */
static void
test_redact_text(void **state)
{
    struct { const char *in, *out; } cases[] = {
        { "Bearer ab\"c\\d-77", "Bearer <redacted>" },
        { "x http://u:p%40ss@h:1/a and https://only@h2/b y", "x http://h:1/a and https://h2/b y" },
        { "git@github.com:o/r.git ssh://h/p@x", "git@github.com:o/r.git ssh://h/p@x" },
        { "(http://me:ab\"c\\d-77@h)", "(http://h)" },
        { "", "" },
        { "no secret here", "no secret here" },
    };
    size_t i;
    char *r;

    (void)state;
    log_add_secret("ab\"c\\d-77");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = log_redact(cases[i].in);
        assert_string_equal(r, cases[i].out);
        free(r);
    }
    log_clear_secrets();
}

static void
test_parse_names(void **state)
{
    enum log_level l;
    enum log_format f;

    (void)state;
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_level_parse("verbose", &l), -1);
    assert_int_equal(log_format_parse("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("xml", &f), -1);
}

static void *
log_thread(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < 500; i++)
        log_info("from a thread", "i", "x");
    return NULL;
}

static void
test_threads_whole_lines(void **state)
{
    pthread_t t[4];
    const char *p;
    int i, lines = 0;

    (void)state;
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, log_thread, NULL);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fflush(capture);
    for (p = captured; (p = strstr(p, "level=info msg=\"from a thread\" i=x\n")) != NULL; p++)
        lines++;
    assert_int_equal(lines, 2000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logfmt_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redact_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_whole_lines, setup, teardown),
    };

    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
