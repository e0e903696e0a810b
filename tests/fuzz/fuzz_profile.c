/*
 * libFuzzer target: the profile loader.  Every refusal must say where:
 * "fuzz.yaml:line:col: ...".
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct profile *p = NULL;
    char *err = NULL;

    if (profile_parse("fuzz.yaml", (const char *)data, size, &p, &err) != 0) {
        if (err == NULL || strncmp(err, "fuzz.yaml", 9) != 0)
            abort();
        free(err);
        return 0;
    }
    profile_free(p);
    return 0;
}
