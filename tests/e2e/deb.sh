#!/bin/sh
# The Debian package: built from a copy of the source tree with
# dpkg-buildpackage, installed with apt-get on this machine, checked (the
# binary, the conffile and its mode, man pages, profiles, the unit enabled
# but waiting for its configuration, lintian), then purged: nothing may be
# left but the system user Debian policy keeps.  Root only; the package is
# purged whatever happens.
. "$top_srcdir/tests/e2e/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "installs a package: root only"
command -v dpkg-buildpackage >/dev/null 2>&1 || skip_all "dpkg-buildpackage not installed (dpkg-dev)"
command -v apt-get >/dev/null 2>&1 || skip_all "apt-get not installed"
[ -f "$top_srcdir/debian/control" ] || skip_all "no debian/ directory in $top_srcdir"
if dpkg-query -W -f='${Status}' gitsyncd 2>/dev/null | grep -q 'installed'; then
    skip_all "a gitsyncd package is already installed here; not touching it"
fi
plan 28

# Whatever happens from here on, the package goes (then lib.sh cleans up).
installed=0
deb_purge() {
    if [ "$installed" = 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -q gitsyncd \
            >"$T/purge.log" 2>&1 || dpkg --purge gitsyncd >>"$T/purge.log" 2>&1
        installed=0
    fi
}
trap 'deb_purge; _cleanup' EXIT

# Files named after us before the package comes: the same set must remain.
leftovers() {
    find /etc /usr /lib /var -name '*gitsyncd*' -not -path '/var/log/*' 2>/dev/null | sort
}
leftovers > "$T/before.txt"

# A copy of the source tree (what git tracks plus new files; or all but the
# build trees), so that the build leaves nothing in the real one.
mkdir "$T/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
        tar -cf - --null -T -) | tar -xf - -C "$T/src"
else
    (cd "$top_srcdir" && tar -cf - --exclude='./build*' --exclude=./autom4te.cache --exclude=./.git .) |
        tar -xf - -C "$T/src"
fi
# Not from the make check that runs us: its jobserver, flags and paths.
unset MAKEFLAGS MFLAGS MAKELEVEL GITSYNCD_PROFILE_PATH CFLAGS LDFLAGS CPPFLAGS
if (cd "$T/src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" \
        dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
    pass "dpkg-buildpackage -us -uc -b builds the package"
else
    fail "dpkg-buildpackage -us -uc -b builds the package" "$(tail -n 30 "$T/build.log")"
    bail "no package to test"
fi
version=$(cd "$T/src" && dpkg-parsechangelog -SVersion)
deb=$T/gitsyncd_${version}_amd64.deb
ok "it is gitsyncd_${version}_amd64.deb" test -f "$deb"
is "the package version is the program's" "$version" "$("$GITSYNCD" --version | cut -d' ' -f2)"

if command -v lintian >/dev/null 2>&1; then
    lintian "$deb" >"$T/lintian.log" 2>&1
    is "lintian reports no error" "$(grep '^E:' "$T/lintian.log")" ""
else
    skip "lintian reports no error" "lintian not installed"
fi

installed=1
if (cd "$T" && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        install -y -q --no-install-recommends "./$(basename "$deb")") >"$T/install.log" 2>&1; then
    pass "apt-get install ./$(basename "$deb")"
else
    fail "apt-get install ./$(basename "$deb")" "$(tail -n 30 "$T/install.log")"
    bail "the package did not install"
fi

out=$(/usr/bin/gitsyncd --version 2>&1)
is "gitsyncd --version" "$out" "gitsyncd $version"
unset GITSYNCD_STATE_DIR DEMO_TOKEN DEMO_WEBHOOK_SECRET GITHUB_WEBHOOK_SECRET
out=$(/usr/bin/gitsyncd check-config /etc/gitsyncd/gitsyncd.yaml 2>&1); rc=$?
is "gitsyncd check-config /etc/gitsyncd/gitsyncd.yaml" "$rc:$(printf '%s\n' "$out" | tail -n 1)" "0:ok"
is "the default configuration is /etc/gitsyncd/gitsyncd.yaml" \
    "$(cd "$T" && /usr/bin/gitsyncd check-config 2>&1 | tail -n 1)" "ok"
is "man -w gitsyncd" "$(man -w gitsyncd 2>&1)" "/usr/share/man/man8/gitsyncd.8.gz"
is "man -w gitsyncd.yaml" "$(man -w 5 gitsyncd.yaml 2>&1)" "/usr/share/man/man5/gitsyncd.yaml.5.gz"

is "/etc/gitsyncd/gitsyncd.yaml is a conffile" \
    "$(dpkg-query -W -f='${Conffiles}\n' gitsyncd | awk '{print $1}' | grep -v '^$')" \
    "/etc/gitsyncd/gitsyncd.yaml"
is "it is readable by root and the daemon's group only" \
    "$(stat -c '%a %U:%G' /etc/gitsyncd/gitsyncd.yaml)" "640 root:_gitsyncd"
ok "the system user _gitsyncd exists" getent passwd _gitsyncd

# fmt and validate find the installed profiles (no GITSYNCD_PROFILE_PATH).
mkdir -p "$T/tree/models"
printf '{name: Daily users, slug: daily-users, sourceId: 1, queryType: raw_sql}\n' \
    > "$T/tree/models/daily-users.yaml"
out=$(cd "$T/tree" && /usr/bin/gitsyncd fmt 2>&1); rc=$?
is "gitsyncd fmt formats with the installed demo profile" "$rc:$out" "0:formatted models/daily-users.yaml"
is "in the profile's field order" "$(head -n 2 "$T/tree/models/daily-users.yaml")" "slug: daily-users
name: Daily users"
out=$(/usr/bin/gitsyncd validate --profile hightouch "$T/tree" 2>&1); rc=$?
like "validate finds the installed hightouch profile" "$out" 'resource files?, [0-9]+ errors?'
out=$(/usr/bin/gitsyncd validate --profile nosuch "$T/tree" 2>&1)
like "an unknown profile names /usr/share/gitsyncd/profiles" "$out" 'looked in: /usr/share/gitsyncd/profiles\); set GITSYNCD_PROFILE_PATH'

ok "alert rules, dashboard and post-receive hook are in /usr/share/gitsyncd" \
    test -f /usr/share/gitsyncd/contrib/gitsyncd-rules.yml -a \
    -f /usr/share/gitsyncd/contrib/gitsyncd-dashboard.json -a \
    -x /usr/share/gitsyncd/contrib/post-receive
unit=/lib/systemd/system/gitsyncd.service
like "the unit runs the installed binary on the conffile" "$(grep '^ExecStart=' "$unit")" \
    '^ExecStart=/usr/bin/gitsyncd -c /etc/gitsyncd/gitsyncd\.yaml serve$'
like "it waits for /etc/gitsyncd/secrets.env (configured) before it starts" \
    "$(cat "$unit.d/debian.conf")" '^ConditionPathExists=/etc/gitsyncd/secrets\.env$'
ok "the unit is enabled" test -L /etc/systemd/system/multi-user.target.wants/gitsyncd.service
if [ -d /run/systemd/system ]; then
    is "and not started: it is not configured yet" "$(systemctl is-active gitsyncd 2>&1)" "inactive"
else
    skip "and not started: it is not configured yet" "systemd is not running here"
fi

deb_purge
is "the package is purged" "$(dpkg-query -W -f='${Status}' gitsyncd 2>/dev/null)" ""
ok "/usr/bin/gitsyncd is gone" test ! -e /usr/bin/gitsyncd
ok "/etc/gitsyncd is gone" test ! -e /etc/gitsyncd
ok "the unit's enablement is gone" test ! -e /etc/systemd/system/multi-user.target.wants/gitsyncd.service
leftovers > "$T/after.txt"
is "no file named gitsyncd is left behind" "$(diff "$T/before.txt" "$T/after.txt")" ""
ok "the system user stays, as Debian policy keeps it" getent passwd _gitsyncd
done_testing
