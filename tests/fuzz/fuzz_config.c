/*
 * libFuzzer target: the configuration loader (YAML tree, schema, env
 * expansion).  Every refusal must say where: "fuzz.yaml:line:col: ...".
 * What loads must print (check-config) without crashing.
 */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *cfg = NULL;
    char *err = NULL;
    FILE *null;

    if (config_parse("fuzz.yaml", (const char *)data, size, &cfg, &err) != 0) {
        if (err == NULL || strncmp(err, "fuzz.yaml:", 10) != 0)
            abort();
        free(err);
        return 0;
    }
    null = fopen("/dev/null", "w");
    if (null != NULL) {
        config_print(null, cfg);
        fclose(null);
    }
    config_free(cfg);
    return 0;
}
