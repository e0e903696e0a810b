/*
 * gitstore-tool: drive gitstore from shell tests and benchmarks.
 *
 *   GS_STATE=dir GS_URL=url [GS_BRANCH=main] [GS_PATH=sub/] [GS_USER=u
 *   GS_PASSWORD=p] [GS_SSH_KEY=key GS_KNOWN_HOSTS=file GS_FINGERPRINT=fp
 *   GS_INSECURE_HOSTKEY=1] gitstore-tool COMMAND ...
 *
 *   fetch                       print the remote head ("none" if no branch)
 *   commit-push N [PAUSEFILE]   N single-file commits models/r<i>.yaml on
 *                               the fetched head, then push (waiting for
 *                               PAUSEFILE to exist first, if given)
 *   delete-push SLUG...         one commit deleting models/SLUG.yaml each
 *   import N                    one commit with N files, pushed
 *   tree                        folder/slug of each resource at the head
 *   base-set                    record the head's resources as the base
 *   base-diff                   the changes from the base to the head
 *   bench N                     time N commits and their push
 *   maintain                    repack the mirror if it needs it
 *   floor N                     libgit2 alone: N writes of the head's
 *                               models/ tree, one entry changed each time,
 *                               into memory (the least a commit costs)
 *
 * Exit status: 0 ok, 10 non-fast-forward, 11 rejected, 12 auth,
 * 13 network, 1 other errors, 2 usage.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>

#include "gitsyncd/gitstore.h"
#include "gitsyncd/util.h"

static int
tool_exit(enum gitstore_result r)
{
    switch (r) {
    case GITSTORE_OK: return 0;
    case GITSTORE_NONFASTFORWARD: return 10;
    case GITSTORE_REJECTED: return 11;
    case GITSTORE_AUTH: return 12;
    case GITSTORE_NETWORK: return 13;
    default: return 1;
    }
}

static const char *
env(const char *name, const char *def)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : def;
}

/* Fetch; print and exit on failure. */
static void
tool_fetch(struct gitstore *gs, git_oid *head, bool *exists)
{
    char *err = NULL;
    enum gitstore_result r = gitstore_fetch(gs, head, exists, &err);

    if (r != GITSTORE_OK) {
        printf("%s: %s\n", gitstore_result_name(r), err);
        exit(tool_exit(r));
    }
}

/* Build n changes to models/r<i>.yaml (content unique to this run). */
static struct gitstore_change *
tool_changes(struct gitstore *gs, int n, const char *tag, char ***msgs)
{
    struct gitstore_change *ch = xcalloc((size_t)n + 1, sizeof *ch);
    git_oid *blobs = xcalloc((size_t)n + 1, sizeof *blobs);
    char *content, *err = NULL;
    int i;

    *msgs = xcalloc((size_t)n * 4 + 1, sizeof **msgs);
    for (i = 0; i < n; i++) {
        content = xasprintf("slug: r%d\nname: %s %d\n", i, tag, i);
        if (gitstore_write_blob(gs, content, strlen(content), &blobs[i], &err) != 0) {
            printf("error: %s\n", err);
            exit(1);
        }
        free(content);
        (*msgs)[4 * i] = xasprintf("r%d", i);
        (*msgs)[4 * i + 1] = xasprintf("Author %d", i);
        (*msgs)[4 * i + 2] = xasprintf("author%d@example.com", i);
        (*msgs)[4 * i + 3] = xasprintf("model r%d: updated in test\n\nGitsyncd-Event: evt-%d\n"
                                       "Gitsyncd-Actor: Author %d <author%d@example.com>\n", i, i, i, i);
        ch[i].folder = "models";
        ch[i].slug = (*msgs)[4 * i];
        ch[i].blob = &blobs[i];
        ch[i].author_name = (*msgs)[4 * i + 1];
        ch[i].author_email = (*msgs)[4 * i + 2];
        ch[i].message = (*msgs)[4 * i + 3];
    }
    return ch;
}

static void
tool_free_changes(struct gitstore_change *ch, char **msgs, int n)
{
    int i;

    if (n > 0)
        free((void *)ch[0].blob);
    for (i = 0; i < 4 * n; i++)
        free(msgs[i]);
    free(msgs);
    free(ch);
}

/* Push head over expected; print the result and return its exit code. */
static int
tool_push(struct gitstore *gs, const git_oid *head, const git_oid *expected)
{
    char *err = NULL, hex[GIT_OID_HEXSZ + 1];
    enum gitstore_result r = gitstore_push(gs, NULL, head, expected, &err);

    if (r == GITSTORE_OK)
        printf("pushed %s\n", git_oid_tostr(hex, sizeof hex, head));
    else
        printf("%s: %s\n", gitstore_result_name(r), err);
    free(err);
    return tool_exit(r);
}

int
main(int argc, char **argv)
{
    static const char *const folders[] = { "models", "syncs" };
    struct config_git git;
    struct gitstore_opts opts;
    struct gitstore *gs = NULL;
    struct gitstore_change *ch;
    struct gitstore_entry *e;
    git_oid head, next, zero;
    char *err = NULL, **msgs, hex[GIT_OID_HEXSZ + 1];
    bool exists;
    size_t n, i;
    int rc = 0, count;

    if (argc < 2) {
        fprintf(stderr, "usage: gitstore-tool COMMAND ... (see the source)\n");
        return 2;
    }
    memset(&git, 0, sizeof git);
    memset(&zero, 0, sizeof zero);
    git.url = (char *)env("GS_URL", "");
    git.branch = (char *)env("GS_BRANCH", "main");
    git.path = (char *)env("GS_PATH", "");
    git.username = (char *)env("GS_USER", NULL);
    git.password = (char *)env("GS_PASSWORD", NULL);
    git.ssh_key = (char *)env("GS_SSH_KEY", NULL);
    git.known_hosts = (char *)env("GS_KNOWN_HOSTS", NULL);
    git.host_key_fingerprint = (char *)env("GS_FINGERPRINT", NULL);
    git.insecure_skip_host_key_check = getenv("GS_INSECURE_HOSTKEY") != NULL;
    git.tls_verify = true;
    git.timeout_ms = 20000;
    git.author.name = "gitsyncd";
    git.author.email = "gitsyncd@example.com";
    git.committer = git.author;
    memset(&opts, 0, sizeof opts);
    opts.state_dir = env("GS_STATE", "/tmp/gitstore-tool");
    opts.workspace = "w";
    opts.git = &git;
    opts.folders = folders;
    opts.nfolders = 2;
    if (gitstore_open(&opts, &gs, &err) != 0) {
        printf("error: %s\n", err);
        return 1;
    }
    if (strcmp(argv[1], "maintain") == 0) {
        if (gitstore_maintain(gs, &err) != 0) {
            printf("error: %s\n", err);
            rc = 1;
        }
    } else if (strcmp(argv[1], "fetch") == 0) {
        tool_fetch(gs, &head, &exists);
        printf("%s\n", exists ? git_oid_tostr(hex, sizeof hex, &head) : "none");
    } else if (strcmp(argv[1], "commit-push") == 0 && argc >= 3) {
        count = atoi(argv[2]);
        tool_fetch(gs, &head, &exists);
        ch = tool_changes(gs, count, env("GS_TAG", "v"), &msgs);
        if (gitstore_commit_chain(gs, exists ? &head : NULL, ch, (size_t)count, &next, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        while (argc >= 4 && access(argv[3], F_OK) != 0)
            usleep(20000);
        rc = tool_push(gs, &next, exists ? &head : &zero);
        tool_free_changes(ch, msgs, count);
    } else if (strcmp(argv[1], "delete-push") == 0) {
        struct gitstore_change *d = xcalloc((size_t)argc, sizeof *d);

        tool_fetch(gs, &head, &exists);
        for (i = 2; i < (size_t)argc; i++) {
            d[i - 2].folder = "models";
            d[i - 2].slug = argv[i];
            d[i - 2].message = "model deleted in test\n";
        }
        if (gitstore_commit_chain(gs, exists ? &head : NULL, d, (size_t)argc - 2, &next, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        rc = tool_push(gs, &next, exists ? &head : &zero);
        free(d);
    } else if (strcmp(argv[1], "import") == 0 && argc >= 3) {
        count = atoi(argv[2]);
        tool_fetch(gs, &head, &exists);
        ch = tool_changes(gs, count, env("GS_TAG", "import"), &msgs);
        if (gitstore_commit_many(gs, exists ? &head : NULL, ch, (size_t)count,
                                 "Import resources from test\n\nGitsyncd-Event: import\n",
                                 &next, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        rc = tool_push(gs, &next, exists ? &head : &zero);
        tool_free_changes(ch, msgs, count);
    } else if (strcmp(argv[1], "tree") == 0) {
        tool_fetch(gs, &head, &exists);
        if (gitstore_read_tree(gs, exists ? &head : NULL, &e, &n, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        for (i = 0; i < n; i++)
            printf("%s/%s\n", e[i].folder, e[i].slug);
        gitstore_entries_free(e, n);
    } else if (strcmp(argv[1], "base-set") == 0) {
        bool bexists;
        git_oid base;

        tool_fetch(gs, &head, &exists);
        if (gitstore_base_get(gs, &base, &bexists, &err) != 0 ||
            gitstore_read_tree(gs, exists ? &head : NULL, &e, &n, &err) != 0 ||
            gitstore_base_set(gs, e, n, bexists ? &base : &zero, "test base\n", &next, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        printf("base %s (%zu resources)\n", git_oid_tostr(hex, sizeof hex, &next), n);
        gitstore_entries_free(e, n);
    } else if (strcmp(argv[1], "base-diff") == 0) {
        struct gitstore_delta *d;
        bool bexists;
        git_oid base;
        static const char *const type[] = { "added", "modified", "deleted" };

        tool_fetch(gs, &head, &exists);
        if (gitstore_base_get(gs, &base, &bexists, &err) != 0 ||
            gitstore_diff(gs, bexists ? &base : NULL, exists ? &head : NULL, &d, &n, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        for (i = 0; i < n; i++)
            printf("%s %s/%s\n", type[d[i].type], d[i].folder, d[i].slug);
        gitstore_deltas_free(d, n);
    } else if (strcmp(argv[1], "bench") == 0 && argc >= 3) {
        double t0, t1, t2;

        count = atoi(argv[2]);
        tool_fetch(gs, &head, &exists);
        ch = tool_changes(gs, count, env("GS_TAG", "bench"), &msgs);
        t0 = now_mono();
        if (gitstore_commit_chain(gs, exists ? &head : NULL, ch, (size_t)count, &next, &err) != 0) {
            printf("error: %s\n", err);
            return 1;
        }
        t1 = now_mono();
        rc = tool_push(gs, &next, exists ? &head : &zero);
        t2 = now_mono();
        printf("commits %d seconds %.6f push_seconds %.6f\n", count, t1 - t0, t2 - t1);
        tool_free_changes(ch, msgs, count);
    } else if (strcmp(argv[1], "floor") == 0 && argc >= 3) {
        git_repository *repo;
        git_treebuilder *tb = NULL;
        git_commit *c = NULL;
        git_tree *root = NULL, *sub = NULL;
        git_tree_entry *te = NULL;
        git_odb *odb = NULL;
        git_odb_backend *mem = NULL;
        git_oid blob, out;
        double t0;
        char name[64], text[64];
        int k;

        count = atoi(argv[2]);
        tool_fetch(gs, &head, &exists);
        repo = gitstore_repo(gs);
        if (!exists || git_commit_lookup(&c, repo, &head) != 0 || git_commit_tree(&root, c) != 0 ||
            git_tree_entry_bypath(&te, root, "models") != 0 ||
            git_tree_lookup(&sub, repo, git_tree_entry_id(te)) != 0 ||
            git_treebuilder_new(&tb, repo, sub) != 0 || git_repository_odb(&odb, repo) != 0 ||
            git_mempack_new(&mem) != 0 || git_odb_add_backend(odb, mem, 100) != 0) {
            printf("error: no models/ tree at the head\n");
            return 1;
        }
        t0 = now_mono();
        for (k = 0; k < count; k++) {
            snprintf(text, sizeof text, "floor %d\n", k);
            snprintf(name, sizeof name, "r%d.yaml", k);
            if (git_blob_create_from_buffer(&blob, repo, text, strlen(text)) != 0 ||
                git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB) != 0 ||
                git_treebuilder_write(&out, tb) != 0) {
                printf("error: write failed\n");
                return 1;
            }
        }
        printf("writes %d entries %zu seconds %.6f\n", count, git_treebuilder_entrycount(tb), now_mono() - t0);
        git_treebuilder_free(tb);
        git_tree_entry_free(te);
        git_tree_free(sub);
        git_tree_free(root);
        git_commit_free(c);
        git_odb_free(odb);
    } else {
        fprintf(stderr, "gitstore-tool: unknown command %s\n", argv[1]);
        rc = 2;
    }
    free(err);
    gitstore_free(gs);
    return rc;
}
