/*
 * codec-bench DIR...: decode then encode every *.yaml under DIR/<folder>/
 * with gitsyncd's codec, files read into memory first; prints
 * "files N bytes B decode_s D encode_s E".
 */
#include "autoconfig.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

struct file {
    char *data;
    size_t len;
    json_t *doc;
};

int
main(int argc, char **argv)
{
    static const char *const order[] = { "slug", "name", "sourceId", "queryType", "primaryKey", "tags", "raw" };
    struct file *f = NULL;
    size_t n = 0, bytes = 0, i, olen, outbytes = 0;
    double t0, t1, t2;
    char *err = NULL, *out, *path, *sub;
    int a;

    for (a = 1; a < argc; a++) {
        const char *folders[] = { "models", "syncs" };
        size_t k;

        for (k = 0; k < 2; k++) {
            struct dirent *de;
            DIR *d;

            sub = xasprintf("%s/%s", argv[a], folders[k]);
            d = opendir(sub);
            if (d == NULL) {
                free(sub);
                continue;
            }
            while ((de = readdir(d)) != NULL) {
                if (!str_endswith(de->d_name, ".yaml"))
                    continue;
                path = xasprintf("%s/%s", sub, de->d_name);
                f = xreallocarray(f, n + 1, sizeof *f);
                if (read_file(path, 1 << 24, &f[n].data, &f[n].len, &err) != 0) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                bytes += f[n].len;
                n++;
                free(path);
            }
            closedir(d);
            free(sub);
        }
    }
    t0 = now_mono();
    for (i = 0; i < n; i++) {
        if (resource_decode("bench", f[i].data, f[i].len, &f[i].doc, &err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    }
    t1 = now_mono();
    for (i = 0; i < n; i++) {
        out = resource_encode(f[i].doc, order, 7, &olen);
        outbytes += olen;
        free(out);
    }
    t2 = now_mono();
    printf("files %zu bytes %zu decode_s %.6f encode_s %.6f out_bytes %zu\n", n, bytes, t1 - t0,
           t2 - t1, outbytes);
    for (i = 0; i < n; i++) {
        json_decref(f[i].doc);
        free(f[i].data);
    }
    free(f);
    return 0;
}
