/*
 * libFuzzer target: GitHub's form-encoded bodies (payload=<urlencoded
 * JSON>), through libevent's query parser and then the push parser.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdrs h = { .n = 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct config_workspace ws;
    struct hook_push push;
    char *reason = NULL;

    memset(&ws, 0, sizeof ws);
    ws.name = "fuzz";
    ws.git.host = GIT_HOST_AUTO;
    ws.git.url = "https://github.com/binkkatal/sample_app.git";
    ws.git.branch = "master";
    ws.git.path = "";
    ws.git.insecure_no_signature = true;
    hdr_add(&h, "X-GitHub-Event", "push");
    hdr_add(&h, "Content-Type", "application/x-www-form-urlencoded");
    (void)hooks_git(&ws, &hh, (const char *)data, size, &push, &reason);
    if (reason == NULL)
        abort();
    free(reason);
    hook_push_free(&push);
    return 0;
}
