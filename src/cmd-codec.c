/* cmd-codec: `gitsyncd validate` and `gitsyncd fmt` over resource files. */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitsyncd/cmd.h"
#include "gitsyncd/profile.h"
#include "gitsyncd/resource.h"
#include "gitsyncd/util.h"

/* One resource file found in a tree. */
struct codec_file {
    char *path;
    char *slug;
    const struct profile_kind *kind;
};

struct codec_files {
    struct codec_file *v;
    size_t n;
};

static int
codec_file_cmp(const void *a, const void *b)
{
    return strcmp(((const struct codec_file *)a)->path,
                  ((const struct codec_file *)b)->path);
}

static void
codec_files_free(struct codec_files *fs)
{
    size_t i;

    for (i = 0; i < fs->n; i++) {
        free(fs->v[i].path);
        free(fs->v[i].slug);
    }
    free(fs->v);
}

/* Add dir's *.yaml files as resources of kind k. */
static void
codec_scan_folder(struct codec_files *fs, const char *dir,
                  const struct profile_kind *k)
{
    struct dirent *de;
    struct stat st;
    DIR *d = opendir(dir);
    char *path;
    size_t len;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 5 || !str_endswith(de->d_name, ".yaml"))
            continue;
        path = strcmp(dir, ".") == 0 ? xstrdup(de->d_name)
                                     : xasprintf("%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        fs->v = xreallocarray(fs->v, fs->n + 1, sizeof *fs->v);
        fs->v[fs->n].path = path;
        fs->v[fs->n].slug = xstrndup(de->d_name, len - 5);
        fs->v[fs->n].kind = k;
        fs->n++;
    }
    closedir(d);
}

/* The resource files of a tree: <root>/<kind folder>/<slug>.yaml. */
static void
codec_scan_tree(struct codec_files *fs, const struct profile *p,
                const char *root)
{
    const char *base;
    char *dir;
    size_t i;

    for (i = 0; i < p->nkinds; i++) {
        dir = strcmp(root, ".") == 0 ? xstrdup(p->kinds[i].folder)
                                     : xasprintf("%s/%s", root, p->kinds[i].folder);
        codec_scan_folder(fs, dir, &p->kinds[i]);
        free(dir);
    }
    /* The root itself may be one kind's folder. */
    base = strrchr(root, '/');
    base = base != NULL ? base + 1 : root;
    if (profile_kind_by_folder(p, base) != NULL)
        codec_scan_folder(fs, root, profile_kind_by_folder(p, base));
}

/* The kind a file belongs to, from its parent directory's name. */
static const struct profile_kind *
codec_kind_of(const struct profile *p, const char *path)
{
    const struct profile_kind *k;
    const char *slash = strrchr(path, '/'), *start;
    char *folder;

    if (slash == NULL)
        return NULL;
    for (start = slash; start > path && start[-1] != '/'; start--)
        ;
    folder = xstrndup(start, (size_t)(slash - start));
    k = profile_kind_by_folder(p, folder);
    free(folder);
    return k;
}

/* Print a decode error ("name:line:col: msg") as a compiler-style line. */
static void
codec_print_decode_error(const char *path, const char *err)
{
    size_t n = strlen(path);
    int line = 1, col = 1, used = 0;

    if (strncmp(err, path, n) == 0 && err[n] == ':' &&
        sscanf(err + n + 1, "%d:%d: %n", &line, &col, &used) == 2 && used > 0)
        fprintf(stderr, "%s:%d:%d: error: %s\n", path, line, col, err + n + 1 + used);
    else
        fprintf(stderr, "%s:1:1: error: %s\n", path, err);
}

/* Load the profile named by --profile (default demo); print errors. */
static struct profile *
codec_profile(const char *name)
{
    struct profile *p = NULL;
    char *err = NULL;

    if (profile_load(name != NULL ? name : "demo", NULL, &p, &err) != 0) {
        fprintf(stderr, "gitsyncd: %s\n", err);
        free(err);
        return NULL;
    }
    return p;
}

/* Read a file (at most RESOURCE_MAX_FILE) or standard input ("-"). */
static int
codec_read(const char *path, char **data, size_t *len, char **err)
{
    struct buf b;
    char chunk[65536];
    size_t n;

    if (strcmp(path, "-") != 0)
        return read_file(path, RESOURCE_MAX_FILE, data, len, err);
    buf_init(&b);
    buf_adds(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (b.len + n > RESOURCE_MAX_FILE) {
            buf_free(&b);
            return set_error(err, "-: input larger than 8 MiB");
        }
        buf_add(&b, chunk, n);
    }
    *len = b.len;
    *data = buf_detach(&b);
    return 0;
}

static void
validate_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd validate [--profile NAME|FILE] [PATH]\n"
            "\n"
            "Check every resource file under PATH (default: the current directory),\n"
            "<kind folder>/<slug>.yaml as the profile (default: demo) names them, the\n"
            "way gitsyncd checks a push: canonical YAML that parses, the slug rule,\n"
            "required fields and their types, and references to resources that exist\n"
            "in the tree.  Other files are ignored.  Problems and the summary go to\n"
            "standard error, as PATH:LINE:COL: error: MESSAGE; standard output\n"
            "stays empty.  Exit 0 if all is well, 1 if not, 2 on a usage error.\n");
}

int
cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "profile", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    struct codec_files fs = { NULL, 0 };
    struct resource_marks *marks;
    struct profile *p;
    const struct resource_pos *pos;
    const char *profile = NULL, *root = ".", *key;
    json_t **docs;
    char *data, *err = NULL;
    size_t len, i, j, f, errors = 0;
    int c, r;

    while ((c = getopt_long(argc, argv, "p:h" CMD_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            profile = optarg;
            break;
        case 'h':
            validate_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                validate_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        validate_usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc)
        root = argv[optind];
    if (access(root, R_OK) != 0) {
        fprintf(stderr, "gitsyncd: %s: %s\n", root, strerror(errno));
        return EXIT_USAGE;
    }
    p = codec_profile(profile);
    if (p == NULL)
        return EXIT_USAGE;
    codec_scan_tree(&fs, p, root);
    if (fs.n > 1)
        qsort(fs.v, fs.n, sizeof *fs.v, codec_file_cmp);
    docs = xcalloc(fs.n + 1, sizeof *docs);
    marks = xcalloc(fs.n + 1, sizeof *marks);
    for (i = 0; i < fs.n; i++) {
        struct codec_file *cf = &fs.v[i];

        if (read_file(cf->path, RESOURCE_MAX_FILE, &data, &len, &err) != 0) {
            fprintf(stderr, "%s:1:1: error: %s\n", cf->path, err);
            errors++;
            free(err);
            err = NULL;
            continue;
        }
        if (resource_decode_marks(cf->path, data, len, &docs[i], &marks[i], &err) != 0) {
            codec_print_decode_error(cf->path, err);
            errors++;
        } else if (resource_validate_key(p, cf->kind, cf->slug, docs[i], &key, &err) != 0) {
            pos = key != NULL ? resource_marks_find(&marks[i], key) : NULL;
            fprintf(stderr, "%s:%d:%d: error: %s\n", cf->path, pos ? pos->line : 1,
                   pos ? pos->col : 1, err);
            errors++;
            json_decref(docs[i]);
            docs[i] = NULL;
        }
        free(err);
        err = NULL;
        free(data);
    }
    /* References must name a resource of the tree. */
    for (i = 0; i < fs.n; i++) {
        if (docs[i] == NULL)
            continue;
        for (j = 0; j < fs.v[i].kind->nrefs; j++) {
            const struct profile_ref *ref = &fs.v[i].kind->refs[j];
            const char *target = json_string_value(json_object_get(docs[i], ref->as));
            bool found = false;

            if (target == NULL)
                continue;
            for (f = 0; f < fs.n && !found; f++)
                found = strcmp(fs.v[f].kind->name, ref->kind) == 0 &&
                        strcmp(fs.v[f].slug, target) == 0;
            if (!found) {
                pos = resource_marks_find(&marks[i], ref->as);
                fprintf(stderr, "%s:%d:%d: error: %s: no %s \"%s\" in this tree\n",
                       fs.v[i].path, pos ? pos->vline : 1, pos ? pos->vcol : 1,
                       ref->as, ref->kind, target);
                errors++;
            }
        }
    }
    fprintf(stderr, "gitsyncd validate: %zu resource file%s, %zu error%s\n",
            fs.n, fs.n == 1 ? "" : "s", errors, errors == 1 ? "" : "s");
    for (i = 0; i < fs.n; i++) {
        json_decref(docs[i]);
        resource_marks_free(&marks[i]);
    }
    free(docs);
    free(marks);
    codec_files_free(&fs);
    profile_free(p);
    return errors == 0 ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

static void
fmt_usage(FILE *f)
{
    fprintf(f,
            "usage: gitsyncd fmt [--check] [--profile NAME|FILE] [--kind KIND] [PATH...]\n"
            "\n"
            "Rewrite resource files in canonical form, in place and atomically.  A\n"
            "PATH is a file, a directory (its <kind folder>/<slug>.yaml files), or -\n"
            "for standard input to standard output (--kind names its kind, for the\n"
            "field order).  The default PATH is the current directory.  Errors go\n"
            "to standard error; standard output carries only the formatted text\n"
            "of -, the files changed, or (--check) the files that would change.\n"
            "\n"
            "  --check           change nothing: list the files that would change\n"
            "                    and exit 1 if there are any\n"
            "  --profile NAME    the profile that gives field orders (default demo)\n"
            "  --kind KIND       the kind of standard input\n"
            "\n"
            "Exit 0 if all is well, 1 if a file does not parse (or, with --check,\n"
            "would change), 2 on a usage error.\n");
}

/* Format one file (or "-"); returns 0 unchanged, 1 changed, -1 error. */
static int
fmt_one(const char *path, const struct profile_kind *k, bool check)
{
    struct stat st;
    json_t *doc = NULL;
    char *data = NULL, *out = NULL, *err = NULL;
    size_t len, olen;
    int rc = -1;

    if (codec_read(path, &data, &len, &err) != 0) {
        fprintf(stderr, "%s:1:1: error: %s\n", path, err);
        goto done;
    }
    if (resource_decode(path, data, len, &doc, &err) != 0) {
        codec_print_decode_error(path, err);
        goto done;
    }
    out = resource_encode(doc, k != NULL ? (const char *const *)k->order : NULL,
                          k != NULL ? k->norder : 0, &olen);
    if (strcmp(path, "-") == 0) {
        fwrite(out, 1, olen, stdout);
        rc = 0;
        goto done;
    }
    if (olen == len && memcmp(out, data, len) == 0) {
        rc = 0;
        goto done;
    }
    if (check) {
        printf("%s\n", path);
        rc = 1;
        goto done;
    }
    if (stat(path, &st) != 0)
        st.st_mode = 0644;
    if (write_file_atomic(path, out, olen, (int)(st.st_mode & 07777), &err) != 0) {
        fprintf(stderr, "%s:1:1: error: %s\n", path, err);
        goto done;
    }
    printf("formatted %s\n", path);
    rc = 1;
done:
    json_decref(doc);
    free(data);
    free(out);
    free(err);
    return rc;
}

int
cmd_fmt(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "check", no_argument, NULL, 'c' },
        { "profile", required_argument, NULL, 'p' },
        { "kind", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        CMD_GLOBAL_LONGOPTS,
        { NULL, 0, NULL, 0 },
    };
    static char *dot[] = { ".", NULL };
    struct codec_files fs = { NULL, 0 };
    struct profile *p;
    const struct profile_kind *stdin_kind = NULL;
    const char *profile = NULL, *kind = NULL;
    struct stat st;
    char **paths;
    bool check = false;
    int c, r, status = EXIT_OK;
    size_t i, changed = 0;

    while ((c = getopt_long(argc, argv, "cp:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            check = true;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'h':
            fmt_usage(stdout);
            return EXIT_OK;
        default:
            r = cmd_global_option(c, optarg);
            if (r > 0)
                break;
            if (r == 0)
                fmt_usage(stderr);
            return EXIT_USAGE;
        }
    }
    p = codec_profile(profile);
    if (p == NULL)
        return EXIT_USAGE;
    if (kind != NULL) {
        stdin_kind = profile_kind_by_name(p, kind);
        if (stdin_kind == NULL) {
            fprintf(stderr, "gitsyncd fmt: profile %s has no kind \"%s\"\n", p->name, kind);
            profile_free(p);
            return EXIT_USAGE;
        }
    }
    paths = optind < argc ? argv + optind : dot;
    for (; *paths != NULL; paths++) {
        if (strcmp(*paths, "-") == 0) {
            if (fmt_one("-", stdin_kind, false) < 0)
                status = EXIT_FAILURE_RUNTIME;
            continue;
        }
        if (stat(*paths, &st) != 0) {
            fprintf(stderr, "gitsyncd fmt: %s: %s\n", *paths, strerror(errno));
            status = EXIT_FAILURE_RUNTIME;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            codec_scan_tree(&fs, p, *paths);
            continue;
        }
        fs.v = xreallocarray(fs.v, fs.n + 1, sizeof *fs.v);
        fs.v[fs.n].path = xstrdup(*paths);
        fs.v[fs.n].slug = xstrdup("");
        fs.v[fs.n].kind = codec_kind_of(p, *paths);
        fs.n++;
    }
    if (fs.n > 1)
        qsort(fs.v, fs.n, sizeof *fs.v, codec_file_cmp);
    for (i = 0; i < fs.n; i++) {
        r = fmt_one(fs.v[i].path, fs.v[i].kind, check);
        if (r < 0)
            status = EXIT_FAILURE_RUNTIME;
        else if (r > 0)
            changed++;
    }
    if (check && changed > 0)
        status = EXIT_FAILURE_RUNTIME;
    codec_files_free(&fs);
    profile_free(p);
    return status;
}
