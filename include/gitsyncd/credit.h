/*
 * credit: who a change is credited to, in both directions (DESIGN §4.1).
 *
 * Outbound, the actor a platform names becomes a commit's author; the
 * platform may name anything (an empty email, '<' or '>' in a name, a
 * newline), and Git holds only "name <email>" with neither empty nor
 * holding those characters.  credit_identity cleans an actor, and says
 * when no clean identity is left, so that the caller falls back to the
 * configured author (the actor stays readable in the trailer).
 *
 * Inbound, a change applied from Git is credited to the author of the
 * last commit that changed that file, found by walking the branch's
 * history (credit_authors), not to the author of the branch head.
 */
#ifndef GITSYNCD_CREDIT_H
#define GITSYNCD_CREDIT_H

#include <stddef.h>

#include <git2.h>

/*
 * A copy of s that fits in a Git identity or a one-line trailer: control
 * characters (newlines among them) become spaces, '<' and '>' are dropped,
 * bytes that are not UTF-8 become '?', runs of white space become one
 * space and the ends are trimmed.  NULL gives NULL; the result may be "".
 */
char *credit_clean(const char *s);

/*
 * The author of an outbound commit for the actor name/email (either may
 * be NULL).  *cname and *cemail get the cleaned name and email (new
 * strings), or both NULL when either is empty once cleaned: the caller
 * then uses the configured author.  *trailer gets the cleaned actor as
 * "name <email>", "name" or "<email>" for the Gitsyncd-Actor trailer, or
 * NULL when nothing readable is left.  Never fails.
 */
void credit_identity(const char *name, const char *email, char **cname,
                     char **cemail, char **trailer);

/*
 * For each of paths[0..n) (repository paths), the author ("Name <email>",
 * cleaned) of the most recent commit in the history of head that changed
 * that path (added, modified or deleted it: a commit that differs there
 * from each of its parents, so a merge is credited to the commit that
 * made the change, not to whoever merged it).  At most max_commits
 * commits are read; a path not found by then gets the author of head.
 * actors[i] are new strings (or NULL if not even head could be read).
 * Returns 0, or -1 with *err set when head cannot be walked at all (the
 * caller falls back to head's author).
 */
int credit_authors(git_repository *repo, const git_oid *head,
                   const char *const *paths, size_t n, size_t max_commits,
                   char **actors, char **err);

#endif
