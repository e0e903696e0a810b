/*
 * libFuzzer target: the platform change event body, read through each
 * installed profile's event pointers (the workspace accepts unsigned
 * events, so every input reaches the parser).  The first byte picks the
 * profile.
 */
#include "fuzz.h"

static struct profile *profiles[3];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *names[] = { "demo", "generic-rest", "hightouch" };
    const char *dirs[] = { FUZZ_PROFILES_DIR, NULL };
    char *err = NULL;
    size_t i;

    (void)argc;
    (void)argv;
    for (i = 0; i < 3; i++) {
        if (profile_load(names[i], dirs, &profiles[i], &err) != 0) {
            fprintf(stderr, "%s\n", err);
            abort();
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hdrs h = { .n = 0 };
    struct hook_headers hh = { hdr_get, &h };
    struct config_workspace ws;
    struct job_resource res;
    char *reason = NULL, *delivery = NULL;
    enum hook_verdict v;

    if (size < 1)
        return 0;
    memset(&ws, 0, sizeof ws);
    ws.name = "fuzz";
    ws.platform.insecure_no_signature = true;
    hdr_add(&h, "webhook-id", "msg_fuzz");
    v = hooks_platform(&ws, profiles[data[0] % 3], &hh, (const char *)data + 1, size - 1,
                       1700000000.0, &res, &delivery, &reason);
    if (reason == NULL)
        abort();
    if (v == HOOK_QUEUE && (res.kind == NULL || (res.id == NULL && res.slug == NULL)))
        abort();
    if (v == HOOK_QUEUE || v == HOOK_IGNORE)
        hook_resource_free(&res);
    free(reason);
    free(delivery);
    return 0;
}
