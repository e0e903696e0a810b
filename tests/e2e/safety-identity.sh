#!/bin/sh
# Issue 14, item 3: actors Git cannot hold as an identity (an empty
# email, no email, a blank name, '<' or '>', a newline) must not stop the
# workspace or write an invalid commit.  The identity is cleaned, or the
# commit falls back to the configured author and keeps the actor readable
# in its Gitsyncd-Actor trailer.  The fake platform's audit log names the
# actors, as a platform may.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/e2e/synclib.sh"
. "$top_srcdir/tests/e2e/fakelib.sh"
plan 9

fake_write 'd["models"] = [{"id": 1, "slug": "first", "name": "first", "sourceId": 1, "queryType": "raw_sql"}]'
fake_setup
wait_syncs 1 || bail "no sync: $(tail -n 20 "$T/gitsyncd.log")"

# Six changes, each by an actor Git cannot hold as is, and one by Ada.
fake_write '
actors = {"empty-email": {"name": "Mallory", "email": ""},
          "no-email": {"name": "Nomail"},
          "blank-name": {"name": "   ", "email": "blank@example.com"},
          "angles": {"name": "Eve <evil>", "email": "eve@example.com>"},
          "newline": {"name": "Nl\nGitsyncd-Event: forged", "email": "nl@example.com"},
          "nothing": {"name": "\n", "email": "<>"},
          "normal": {"name": "Ada Lovelace", "email": "ada@example.com"}}
for i, (slug, actor) in enumerate(actors.items()):
    d["models"].append({"id": 10 + i, "slug": slug, "name": slug, "sourceId": 1, "queryType": "raw_sql"})
    d["audit"].append({"seq": 1 + i, "kind": "model", "id": 10 + i, "slug": slug,
                       "action": "created", "actor": actor})
'
clone_pull
echo notes > "$T/clone/README.md"
clone_push "a README" || bail "push failed: $(cat "$T/push.err")"
wait_syncs 2 || bail "no second sync: $(tail -n 20 "$T/gitsyncd.log")"

files=$(git --git-dir="$T/remote.git" ls-tree --name-only main models/ | tr '\n' ' ')
is "every change is committed" "$files" \
    "models/angles.yaml models/blank-name.yaml models/empty-email.yaml models/first.yaml models/newline.yaml models/no-email.yaml models/normal.yaml models/nothing.yaml "
ok "git fsck --strict finds nothing wrong" git --git-dir="$T/remote.git" fsck --strict
author() { git --git-dir="$T/remote.git" log -1 --format='%an <%ae>' main -- "models/$1.yaml"; }
trailer() { git --git-dir="$T/remote.git" log -1 --format=%B main -- "models/$1.yaml" | grep '^Gitsyncd-Actor:'; }
is "an actor Git can hold is the author" "$(author normal)" "Ada Lovelace <ada@example.com>"
is "an empty email: the configured author, the actor in the trailer" \
    "$(author empty-email)|$(trailer empty-email)" "gitsyncd <gitsyncd@example.com>|Gitsyncd-Actor: Mallory"
is "no email: the same" "$(author no-email)|$(trailer no-email)" \
    "gitsyncd <gitsyncd@example.com>|Gitsyncd-Actor: Nomail"
is "a blank name: the same" "$(author blank-name)|$(trailer blank-name)" \
    "gitsyncd <gitsyncd@example.com>|Gitsyncd-Actor: <blank@example.com>"
is "angle brackets are dropped" "$(author angles)" "Eve evil <eve@example.com>"
is "a newline is a space, and forges no trailer" \
    "$(author newline)|$(git --git-dir="$T/remote.git" log --format=%B main | grep -c '^Gitsyncd-Event: forged')" \
    "Nl Gitsyncd-Event: forged <nl@example.com>|0"
is "nothing readable: the configured author, no trailer" "$(author nothing)|$(trailer nothing)" \
    "gitsyncd <gitsyncd@example.com>|"
done_testing
