/*
 * A Git host's push payload parser, reached without a signature (the
 * workspace says insecure_no_signature) so that every input is parsed.
 * Define FUZZ_HOST, FUZZ_EVENT_HEADER, FUZZ_EVENT and FUZZ_URL (and
 * FUZZ_CONTENT_TYPE for another body than JSON), then include this file.
 */
#include "fuzz.h"

#ifndef FUZZ_CONTENT_TYPE
#define FUZZ_CONTENT_TYPE "application/json"
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdrs h = { .n = 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct config_workspace ws;
    struct hook_push push;
    char *reason = NULL;
    enum hook_verdict v;

    memset(&ws, 0, sizeof ws);
    ws.name = "fuzz";
    ws.git.host = FUZZ_HOST;
    ws.git.url = FUZZ_URL;
    ws.git.branch = "master";
    ws.git.path = size > 0 && data[0] % 2 ? "models/" : "";
    ws.git.insecure_no_signature = true;
    hdr_add(&h, FUZZ_EVENT_HEADER, FUZZ_EVENT);
    hdr_add(&h, "Content-Type", FUZZ_CONTENT_TYPE);
    v = hooks_git(&ws, &hh, (const char *)data, size, &push, &reason);
    if (reason == NULL)
        abort(); /* every verdict carries its reason */
    if (v == HOOK_QUEUE && (push.ref == NULL || push.after == NULL || push.repository == NULL))
        abort();
    free(reason);
    hook_push_free(&push);
    return 0;
}
