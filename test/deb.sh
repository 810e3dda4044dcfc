#!/bin/bash
# test/deb.sh: build the Debian package (debian/, pg_buildext) from a
# temporary copy of the tree, install it, run its installcheck (the
# pg_regress suite against the installed files, debian/tests/installcheck,
# on a pg_virtualenv cluster), then purge it and check that its files are
# gone and that no other package was installed, removed or changed by the
# round trip.  Run as root on Debian 12 (builds postgresql-15-payment-records);
# test/pgroot.sh runs it in its roots too, with PR_PG_MAJOR=17 or 18.
#
# Files of the extension that a `make install` left in the system
# directories (they belong to no package) are moved aside first, so that
# what is tested is the package's, and put back at the end, on every exit
# path; a package left installed by an aborted earlier run is purged first.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)

bash "$here/deps.sh" build-essential dpkg-dev debhelper postgresql-server-dev-all || exit 2

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || exit 2
upstream=${version%-*}
tmp=$(mktemp -d /tmp/payment_records_deb.XXXXXX)
chmod 755 "$tmp"
aside=$tmp/aside
pkgs=()
fail=0

pkg_state() { dpkg-query -W -f='${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n' | sort; }

purge_ours() {
    local p
    for p in $(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' 'postgresql-*-payment-records' 2>/dev/null |
               awk '$2 !~ /^un/ { print $1 }'); do
        echo "== purging $p" >&2
        dpkg --purge "$p" >/dev/null
    done
}

# put back what was moved aside, remove the temporary tree
cleanup() {
    purge_ours
    if [ -d "$aside" ]; then
        (cd "$aside" && find . -type f -print0) | while IFS= read -r -d '' f; do
            mkdir -p "/$(dirname "$f")" && mv -f "$aside/$f" "/$f"
        done
    fi
    [ -n "${PR_KEEP:-}" ] && { echo "kept: $tmp" >&2; return 0; }
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one run at a time on this machine (they install and purge one package)
lock=/var/lock/payment_records-deb.lock
[ -d /var/lock/. ] || lock=/tmp/payment_records-deb.lock
exec 8>"$lock"
flock 8 || { echo "!! cannot lock $lock"; exit 2; }
purge_ours

echo "== debian package: dpkg-buildpackage -us -uc -b ($version)"
t0=$SECONDS
build=$tmp/payment-records-$upstream
mkdir -p "$build"
tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=output_regress --exclude=output_iso --exclude=tmp_check \
    --exclude=results -cf - . | tar -C "$build" -xf -
make -s -C "$build" clean >/dev/null 2>&1
if ! (cd "$build" && pg_buildext updatecontrol >/dev/null &&
      dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
    tail -n 40 "$tmp/build.log"
    echo "!! dpkg-buildpackage failed"
    exit 1
fi
mapfile -t debs < <(ls "$tmp"/postgresql-*-payment-records_"$version"_*.deb 2>/dev/null)
[ ${#debs[@]} -gt 0 ] || { echo "!! no package was built"; exit 1; }
for d in "${debs[@]}"; do
    echo "   built $(basename "$d") ($(du -k "$d" | cut -f1) kB)"
    pkgs+=("$(dpkg-deb -f "$d" Package)")
done
echo "   in $((SECONDS - t0)) s"

# the package's files must not be shadowed by (or mistaken for) files a
# `make install` put there: move those aside for the duration
for d in "${debs[@]}"; do
    dpkg-deb -c "$d" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }'
done | while read -r f; do
    if [ -e "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1; then
        mkdir -p "$aside$(dirname "$f")" && mv "$f" "$aside$f"
    fi
done

before=$(pkg_state)
echo "== installing ${pkgs[*]}"
if ! apt-get install -y -q --no-install-recommends "${debs[@]}" >"$tmp/install.log" 2>&1; then
    tail -n 30 "$tmp/install.log"; echo "!! installing the package failed"; exit 1
fi
added=$(comm -13 <(echo "$before") <(pkg_state) | grep -v -E '^postgresql-[0-9]+-payment-records:' || true)
if [ -n "$added" ]; then
    echo "!! installing the package changed other packages:"; echo "$added"; fail=1
fi
files=$(for p in "${pkgs[@]}"; do dpkg -L "$p"; done | sort -u)
for p in "${pkgs[@]}"; do
    v=${p#postgresql-}; v=${v%%-*}
    for f in /usr/lib/postgresql/$v/lib/payment_records.so \
             /usr/share/postgresql/$v/extension/payment_records.control; do
        grep -qx "$f" <<<"$files" || { echo "!! $p does not install $f"; fail=1; }
    done
done

echo "== installcheck of the installed package (debian/tests/installcheck)"
t0=$SECONDS
chown -R postgres: "$build"
if ! (cd "$build" && runuser -u postgres -- debian/tests/installcheck) >"$tmp/check.log" 2>&1; then
    cat "$tmp/check.log" | grep -v '^[0-9-]* [0-9:.]* UTC \[' | tail -n 80
    echo "!! installcheck of the package failed"
    fail=1
else
    grep -E '^(not ok|### )|tests (passed|failed)' "$tmp/check.log" | sed 's/^ */   /'
fi
echo "   in $((SECONDS - t0)) s"

echo "== purging ${pkgs[*]}"
dpkg --purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; echo "!! purge failed"; fail=1; }
left=$(while read -r f; do [ -n "$f" ] && [ ! -d "$f" ] && [ -e "$f" ] && echo "$f"; done <<<"$files")
if [ -n "$left" ]; then
    echo "!! files of the package are still there:"; echo "$left"; fail=1
else
    echo "   its $(grep -c . <<<"$files") paths: no file left"
fi
after=$(pkg_state)
if [ "$before" != "$after" ]; then
    echo "!! the packages installed differ from before the install:"
    diff <(echo "$before") <(echo "$after")
    fail=1
else
    echo "   every other package as before ($(grep -c . <<<"$after") packages)"
fi

if [ $fail -eq 0 ]; then
    echo "== debian package: passed"
else
    echo "== debian package: FAILED"
fi
exit $fail
