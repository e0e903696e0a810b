/*
 * libFuzzer target: jload against json_loadb, the loader it stands in for.
 * Input: a flags byte (bit 0: JSON_REJECT_DUPLICATES, bit 1:
 * JSON_DECODE_ANY), then the JSON text.  Both must accept or both refuse,
 * and what they accept must be the same values in the same order (compared
 * as jansson's compact dump); anything else aborts.  A NUL byte is never
 * valid JSON and jload refuses it anywhere, while jansson takes some as the
 * end of the text ("[1\0]" loads): such inputs must only be refused.
 * At the end of each input no region may be left.
 */
#include "fuzz.h"

#include <jansson.h>

#include "gitsyncd/jload.h"

static char *
dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* jload's values in regions, as in the daemon (ASan sees released ones). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (jload_init() != 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e1, e2;
    json_t *a, *b;
    size_t flags = 0;
    char *da, *db;

    if (size < 1)
        return 0;
    if (data[0] & 1)
        flags |= JSON_REJECT_DUPLICATES;
    if (data[0] & 2)
        flags |= JSON_DECODE_ANY;
    a = jload((const char *)data + 1, size - 1, flags, &e1);
    if (memchr(data + 1, '\0', size - 1) != NULL) {
        if (a != NULL) {
            fprintf(stderr, "jload accepts a text with a NUL byte\n");
            abort();
        }
        return 0;
    }
    b = json_loadb((const char *)data + 1, size - 1, flags, &e2);
    if ((a == NULL) != (b == NULL)) {
        fprintf(stderr, "jload %s, json_loadb %s\n", a ? "accepts" : e1.text, b ? "accepts" : e2.text);
        abort();
    }
    if (a != NULL) {
        da = dump(a);
        db = dump(b);
        if (da == NULL || db == NULL || strcmp(da, db) != 0) {
            fprintf(stderr, "jload: %s\njson_loadb: %s\n", da ? da : "(null)", db ? db : "(null)");
            abort();
        }
        free(da);
        free(db);
    }
    json_decref(a);
    json_decref(b);
    if (jload_regions_live() != 0) {
        fprintf(stderr, "a region outlives its values\n");
        abort();
    }
    return 0;
}
