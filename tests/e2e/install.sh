#!/bin/sh
# make install puts in place what an operator needs: the binary, every man
# page, the example configuration, the profiles, the systemd unit pointed
# at the installed binary (and accepted by systemd-analyze verify), the
# alert rules, the dashboard and the post-receive hook; make uninstall
# takes them all away again.  Also: serve and sync refuse to run as root
# unless told --allow-root, and sync --once runs a full reconcile.
. "$top_srcdir/tests/e2e/lib.sh"
plan 12
root=$T/root
prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "$top_builddir/Makefile" | sed "s#\${prefix}#$prefix#")

out=$(make -s -C "$top_builddir" install DESTDIR="$root" 2>&1); rc=$?
is "make install DESTDIR=... exits 0" "$rc" 0 || diag "$out"
bin=$root$prefix/bin/gitsyncd
like "the installed binary runs" "$("$bin" --version 2>&1)" '^gitsyncd [0-9]'
missing=""
for f in share/man/man8/gitsyncd.8 share/man/man5/gitsyncd.yaml.5 share/man/man5/gitsyncd-resource.5 \
    share/man/man5/gitsyncd-profile.5 share/gitsyncd/profiles/demo.yaml share/gitsyncd/profiles/generic-rest.yaml \
    share/gitsyncd/profiles/hightouch.yaml share/doc/gitsyncd/examples/gitsyncd.yaml \
    share/gitsyncd/contrib/gitsyncd-rules.yml share/gitsyncd/contrib/gitsyncd-dashboard.json; do
    [ -f "$root$prefix/$f" ] || missing="$missing $f"
done
is "man pages, profiles, example config, rules and dashboard are installed" "$missing" ""
[ -x "$root$prefix/share/gitsyncd/contrib/post-receive" ]; is "the post-receive hook is installed executable" "$?" 0
unit=$root$unitdir/gitsyncd.service
like "the unit is installed, ExecStart at the installed binary" "$(grep '^ExecStart=' "$unit" 2>&1)" \
    "^ExecStart=$prefix/bin/gitsyncd -c /etc/gitsyncd/gitsyncd.yaml serve\$"
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s#^ExecStart=$prefix/bin/gitsyncd#ExecStart=$bin#" "$unit" > "$T/gitsyncd.service"
    out=$(systemd-analyze verify --man=no "$T/gitsyncd.service" 2>&1); rc=$?
    is "systemd-analyze verify accepts the installed unit" "$rc:$out" "0:"
else
    skip "systemd-analyze verify accepts the installed unit" "systemd-analyze not installed"
fi
# The installed profiles load (DESTDIR: the binary looks in $prefix, so it
# is shown the staged directory).
mkdir -p "$T/tree/models"
cp "$top_srcdir/tests/fixtures/resources/golden/model.yaml" "$T/tree/models/daily-users.yaml"
out=$(GITSYNCD_PROFILE_PATH=$root$prefix/share/gitsyncd/profiles "$bin" validate --profile demo "$T/tree" 2>&1); rc=$?
is "the installed binary validates with the installed demo profile" "$rc:$out" "0:gitsyncd validate: 1 resource file, 0 errors"
make -s -C "$top_builddir" uninstall DESTDIR="$root" >/dev/null 2>&1
left=$(find "$root" -type f | sed "s#^$root##")
is "make uninstall removes every installed file" "$left" ""

# Root refusal (only meaningful as root, which CI is).
if [ "$(id -u)" -eq 0 ]; then
    out=$("$GITSYNCD" -c /nonexistent.yaml serve 2>&1); rc=$?
    is "serve as root without --allow-root exits 2" "$rc" 2
    like "... and says why and what to do" "$out" 'serve: refusing to run as root.*--allow-root'
    out=$("$GITSYNCD" -c /nonexistent.yaml sync --once w 2>&1); rc=$?
    is "sync as root without --allow-root exits 2 too" "$rc:$(printf '%s' "$out" | grep -c 'refusing to run as root')" "2:1"
else
    skip "serve as root without --allow-root exits 2" "not root"
    skip "... and says why and what to do" "not root"
    skip "sync as root without --allow-root exits 2 too" "not root"
fi
out=$("$GITSYNCD" --allow-root -c /nonexistent.yaml serve 2>&1); rc=$?
like "with --allow-root it goes on (to the missing config)" "$rc:$out" '^2:.*nonexistent.yaml'
done_testing
