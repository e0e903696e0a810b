/* libFuzzer target: the resource decoder, and encode of whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL, *w = NULL;
    char *err = NULL, *y, *y2;
    size_t len, len2;

    if (resource_decode("fuzz", (const char *)data, size, &v, &err) != 0) {
        free(err);
        return 0;
    }
    /* What decodes must encode, and decode back to the same value. */
    y = resource_encode(v, NULL, 0, &len);
    if (resource_decode("fuzz", y, len, &w, &err) != 0 || !json_equal(v, w))
        abort();
    y2 = resource_encode(w, NULL, 0, &len2);
    if (len != len2 || memcmp(y, y2, len) != 0)
        abort();
    free(y);
    free(y2);
    json_decref(v);
    json_decref(w);
    return 0;
}
