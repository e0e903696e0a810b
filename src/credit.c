/* credit: clean identities for outbound commits; per-file authors inbound. */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gitsyncd/credit.h"
#include "gitsyncd/util.h"

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
credit_utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

char *
credit_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, len, i;
    struct buf b;
    bool space = false;

    if (s == NULL)
        return NULL;
    buf_init(&b);
    n = strlen(s);
    for (i = 0; i < n; i += len) {
        len = credit_utf8_len(p + i, n - i);
        if (len == 0) {
            len = 1;
            if (space && b.len > 0)
                buf_addc(&b, ' ');
            space = false;
            buf_addc(&b, '?');
            continue;
        }
        /* C0 and C1 controls, DEL and space: one space between words. */
        if ((len == 1 && (p[i] <= 0x20 || p[i] == 0x7f)) ||
            (len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
            space = true;
            continue;
        }
        if (len == 1 && (p[i] == '<' || p[i] == '>'))
            continue;
        if (space && b.len > 0)
            buf_addc(&b, ' ');
        space = false;
        buf_add(&b, p + i, len);
    }
    return buf_detach(&b);
}

void
credit_identity(const char *name, const char *email, char **cname,
                char **cemail, char **trailer)
{
    char *n = credit_clean(name), *e = credit_clean(email);
    bool hn = n != NULL && n[0] != '\0', he = e != NULL && e[0] != '\0';

    if (hn && he)
        *trailer = xasprintf("%s <%s>", n, e);
    else if (hn)
        *trailer = xstrdup(n);
    else if (he)
        *trailer = xasprintf("<%s>", e);
    else
        *trailer = NULL;
    if (hn && he) {
        *cname = n;
        *cemail = e;
        return;
    }
    free(n);
    free(e);
    *cname = *cemail = NULL;
}

/* "Name <email>" of a commit's author, cleaned. */
static char *
credit_author_of(const git_commit *c)
{
    const git_signature *sig = git_commit_author(c);
    char *n, *e, *s;

    if (sig == NULL)
        return NULL;
    n = credit_clean(sig->name);
    e = credit_clean(sig->email);
    s = xasprintf("%s <%s>", n != NULL ? n : "", e != NULL ? e : "");
    free(n);
    free(e);
    return s;
}

/* Is the entry at path the same in both trees (both absent counts)? */
static bool
credit_same(git_tree *a, git_tree *b, const char *path)
{
    git_tree_entry *x = NULL, *y = NULL;
    bool same;

    if (git_tree_entry_bypath(&x, a, path) != 0)
        x = NULL;
    if (git_tree_entry_bypath(&y, b, path) != 0)
        y = NULL;
    if (x == NULL || y == NULL)
        same = x == y;
    else
        same = git_oid_equal(git_tree_entry_id(x), git_tree_entry_id(y)) &&
               git_tree_entry_filemode(x) == git_tree_entry_filemode(y);
    git_tree_entry_free(x);
    git_tree_entry_free(y);
    return same;
}

/* A commit gitsyncd made itself (it carries the Gitsyncd-Event trailer). */
static bool
credit_is_ours(const git_commit *c)
{
    const char *msg = git_commit_message(c);

    return msg != NULL && strstr(msg, "\nGitsyncd-Event: ") != NULL;
}

/* A path to credit, and where its answer goes; sorted by path. */
struct credit_path {
    const char *path;
    size_t i;
};

static int
credit_path_cmp(const void *a, const void *b)
{
    return strcmp(((const struct credit_path *)a)->path,
                  ((const struct credit_path *)b)->path);
}

/*
 * Credit commit c (tree t, parents' trees pt[0..np)) with the paths it
 * changed that still wait for an author.  The paths changed since the
 * first parent come from a tree diff (identical subtrees cost nothing,
 * so a commit costs what it changed, not what it holds); a merge changed
 * a path only if it differs from every other parent too.  Returns how
 * many paths it credited.
 */
static size_t
credit_commit(git_repository *repo, git_commit *c, git_tree *t,
              git_tree **pt, size_t np, const struct credit_path *sorted,
              size_t n, char **actors)
{
    struct credit_path key, *hit;
    const git_diff_delta *d;
    git_diff *diff = NULL;
    char *author = NULL;
    size_t nd, k, j, got = 0;
    bool changed;

    if (np > 0 && pt[0] == NULL)
        return 0;
    if (git_diff_tree_to_tree(&diff, repo, np > 0 ? pt[0] : NULL, t, NULL) != 0)
        return 0;
    nd = git_diff_num_deltas(diff);
    for (k = 0; k < nd; k++) {
        d = git_diff_get_delta(diff, k);
        key.path = d->new_file.path != NULL ? d->new_file.path : d->old_file.path;
        hit = key.path != NULL ? bsearch(&key, sorted, n, sizeof *sorted, credit_path_cmp)
                               : NULL;
        if (hit == NULL || actors[hit->i] != NULL)
            continue;
        changed = true;
        for (j = 1; j < np && changed; j++)
            changed = pt[j] != NULL && !credit_same(t, pt[j], hit->path);
        if (!changed)
            continue;
        if (author == NULL)
            author = credit_author_of(c);
        actors[hit->i] = xstrdup(author != NULL ? author : "");
        got++;
    }
    free(author);
    git_diff_free(diff);
    return got;
}

int
credit_authors(git_repository *repo, const git_oid *head,
               const char *const *paths, size_t n, size_t max_commits,
               char **actors, char **err)
{
    struct credit_path *sorted = xcalloc(n + 1, sizeof *sorted);
    git_revwalk *walk = NULL;
    git_commit *c = NULL, *parent;
    git_tree *t = NULL, **pt = NULL;
    git_oid oid;
    char *author;
    size_t left = n, seen = 0, np, i;
    int rc = -1;

    for (i = 0; i < n; i++) {
        actors[i] = NULL;
        sorted[i].path = paths[i];
        sorted[i].i = i;
    }
    qsort(sorted, n, sizeof *sorted, credit_path_cmp);
    if (git_revwalk_new(&walk, repo) != 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) != 0 ||
        git_revwalk_push(walk, head) != 0) {
        const git_error *e = git_error_last();

        set_error(err, "cannot walk the branch's history: %s",
                  e != NULL ? e->message : "unknown error");
        goto out;
    }
    while (left > 0 && seen < max_commits && git_revwalk_next(&oid, walk) == 0) {
        seen++;
        if (git_commit_lookup(&c, repo, &oid) != 0)
            break;
        if (credit_is_ours(c) || git_commit_tree(&t, c) != 0) {
            git_commit_free(c);
            c = NULL;
            continue;
        }
        np = git_commit_parentcount(c);
        pt = xcalloc(np + 1, sizeof *pt);
        for (i = 0; i < np; i++) {
            parent = NULL;
            if (git_commit_parent(&parent, c, (unsigned int)i) == 0 &&
                git_commit_tree(&pt[i], parent) != 0)
                pt[i] = NULL;
            git_commit_free(parent);
        }
        left -= credit_commit(repo, c, t, pt, np, sorted, n, actors);
        for (i = 0; i < np; i++)
            git_tree_free(pt[i]);
        free(pt);
        pt = NULL;
        git_tree_free(t);
        t = NULL;
        git_commit_free(c);
        c = NULL;
    }
    rc = 0;
out:
    git_revwalk_free(walk);
    free(sorted);
    /* Not found within the walk: the author of head, as before. */
    if (left > 0 && git_commit_lookup(&c, repo, head) == 0) {
        author = credit_author_of(c);
        for (i = 0; i < n; i++) {
            if (actors[i] == NULL && author != NULL)
                actors[i] = xstrdup(author);
        }
        free(author);
        git_commit_free(c);
    }
    return rc;
}
