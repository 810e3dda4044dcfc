#!/bin/bash
# test/pgroot.sh MAJOR...: build payment_records with -Werror and run every
# suite (`make installcheck`: regress, isolation, TAP) against PostgreSQL
# MAJOR (17 or 18) inside a Debian root made with debootstrap.  Run as root.
#
#   17: Debian 13 (trixie), postgresql-17
#   18: Debian unstable (sid), postgresql-18
#
# The roots are built once (debootstrap --variant=minbase, then the server,
# its headers and the build and test tools) and reused; they live outside
# the clone, in $PR_ROOTS (default /var/cache/payment_records/roots), as
# <suite>-pg<major>.  The Debian mirror is the one the host's apt uses,
# read from /etc/apt/sources.list.d/*.sources (deb822) or
# /etc/apt/sources.list (one-line format) at run time.
#
# A root is built in <name>.new and renamed to <name> only once complete,
# so a build that was interrupted is thrown away and started again by the
# next run; a lock (flock on <name>.lock) makes concurrent runs on the same
# root wait for each other.  Every mount (debootstrap's own, /proc, /dev,
# /dev/shm) is made inside a private mount and PID namespace (unshare), so
# it disappears with the last process of the run whatever way the run ends
# (failure, kill -9), and no server started in the root outlives it; a trap
# unmounts them explicitly as well.
#
# PR_ROOTS_REBUILD=1 throws the roots away and builds them again;
# PR_APT_ETC (default /etc/apt) is where the apt sources are read;
# PR_KEEP=1 keeps the build tree inside the root after a pass.
# PR_CROSS_DUMP=DIR (made by test/crossdump.sh on the host's 15): after
# installcheck, DIR's pr.dump is restored (pg_restore --single-transaction
# --exit-on-error) into a database of a pg_virtualenv cluster of MAJOR,
# snapshot.sql's output must equal expected.txt and after.sql's
# after_expected.txt; any difference is printed and fails the run.
# `test/pgroot.sh --mirror` prints the mirror it would use, and exits.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
roots=${PR_ROOTS:-/var/cache/payment_records/roots}

die() { echo "pgroot: $*" >&2; exit 2; }
[ $# -gt 0 ] || die "usage: $0 MAJOR... (17, 18) | --mirror"
[ "$(id -u)" = 0 ] || [ "$1" = --mirror ] || die "run as root"

# suite and apt options for a major version
suite_of() {
    case $1 in
        17) echo trixie ;;
        18) echo sid ;;
        *) return 1 ;;
    esac
}
# sid's Release file is past its Valid-Until on a machine whose clock is
# later than the mirror's last update (a frozen snapshot): apt refuses it
# unless told not to check; harmless for trixie.
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false
          -o Dpkg::Use-Pty=0 -q -y)

# mirror: the first deb URI of the host's apt sources that serves the main
# Debian archive (not debian-security, not a suite-updates-only entry)
host_mirror() {
    local f uri etc=${PR_APT_ETC:-/etc/apt}
    # deb822: stanzas of "Field: value" lines
    for f in "$etc"/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        uri=$(awk '
            function flush() {
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "" && suites !~ /-security/ && enabled != "no") {
                    split(uris, u, /[ \t]+/); print u[1]; found = 1; exit
                }
                types = uris = suites = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:"   { sub(/^[^:]*:[ \t]*/, ""); types = $0; next }
            tolower($1) == "uris:"    { sub(/^[^:]*:[ \t]*/, ""); uris = $0; next }
            tolower($1) == "suites:"  { sub(/^[^:]*:[ \t]*/, ""); suites = $0; next }
            tolower($1) == "enabled:" { sub(/^[^:]*:[ \t]*/, ""); enabled = tolower($0); next }
            END { if (!found) flush() }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    # one-line: deb [options] URI suite components...
    for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        uri=$(awk '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) !~ /-security/) { print $i; exit }
            }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    return 1
}

# what a root needs: the server and its headers, the build tools, the TAP
# tests' IPC::Run (PostgreSQL::Test::Cluster comes with the headers
# package), what test/deb.sh needs to build the package, and PL/Proxy and
# curl for the sharded deployment's test (test/t/008_sharded.pl)
root_packages() {
    echo "postgresql-$1 postgresql-server-dev-$1 postgresql-common make gcc libc6-dev" \
         "libipc-run-perl perl build-essential dpkg-dev debhelper postgresql-server-dev-all" \
         "libmicrohttpd-dev libpq-dev postgresql-$1-plproxy curl"
}

# root_apt ROOT MAJOR LOG: install root_packages into ROOT
root_apt() {
    local root=$1 major=$2 log=$3
    # and for any apt-get run inside (test/deps.sh): see APT_OPTS
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99payment-records"
    # shellcheck disable=SC2046
    in_ns "$root" chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        sh -c "apt-get $(printf '%q ' "${APT_OPTS[@]}") update &&
               apt-get $(printf '%q ' "${APT_OPTS[@]}") install $(root_packages "$major") &&
               apt-get clean" >"$log" 2>&1 || { tail -n 30 "$log"; return 1; }
    root_packages "$major" >"$root/.pr-root-packages"
}

# ns CMD...: CMD in a new, private mount and PID namespace: whatever it
# mounts, and every process it leaves, goes when it ends (or is killed)
# (a TERM, INT or HUP to this script kills unshare, and --kill-child then
# kills the namespace's first process, and so the whole namespace: unshare
# itself ignores TERM and INT).  NS_NET=1: a network namespace of its own
# as well, with only a loopback interface, so that the servers the tests
# start can neither collide with nor be mistaken for the host's on a port
# of localhost.
ns() {
    local pid rc net=()
    [ -n "${NS_NET:-}" ] && net=(--net)
    unshare --mount --pid --fork --kill-child --propagation private "${net[@]}" -- "$@" &
    pid=$!
    trap 'kill -KILL $pid 2>/dev/null; wait $pid; exit 143' TERM
    trap 'kill -KILL $pid 2>/dev/null; wait $pid; exit 130' INT
    trap 'kill -KILL $pid 2>/dev/null; wait $pid; exit 129' HUP
    wait $pid; rc=$?
    trap - TERM INT HUP
    return $rc
}

# in_ns ROOT CMD...: CMD in a new namespace (see ns) with ROOT's /proc, /dev
# and /dev/shm mounted there (and only there)
in_ns() {
    local root=$1; shift
    ns \
        bash -c '
            root=$1; shift
            cleanup() {
                for m in dev/shm dev/pts dev proc; do
                    mountpoint -q "$root/$m" && umount -l "$root/$m"
                done
                return 0
            }
            trap cleanup EXIT
            mkdir -p "$root/proc" "$root/dev"
            if [ -n "${NS_NET:-}" ]; then ip link set lo up || exit 2; fi
            mount -t proc proc "$root/proc" &&
            mount --bind /dev "$root/dev" &&
            mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" || exit 2
            "$@"
        ' in_ns "$root" "$@"
}

# build_root MAJOR: make $roots/<suite>-pg<major> if it is not there
build_root() {
    local major=$1 suite name root new mirror keyring t0
    suite=$(suite_of "$major") || die "no Debian suite known for PostgreSQL $major"
    name=$suite-pg$major root=$roots/$name new=$roots/$name.new
    if [ -n "${PR_ROOTS_REBUILD:-}" ]; then
        rm -rf --one-file-system "$root"
    fi
    if [ -f "$root/.pr-root-ready" ]; then
        # a root made when the list was shorter gets what is new
        if [ "$(cat "$root/.pr-root-packages" 2>/dev/null)" != "$(root_packages "$major")" ]; then
            echo "== adding packages to the $suite root: $(root_packages "$major")"
            root_apt "$root" "$major" "$roots/$name.apt.log" \
                || die "installing the packages into the $suite root failed"
        fi
        return 0
    fi
    mirror=$(host_mirror) || die "no Debian mirror found in the host's apt sources"
    echo "== building the $suite root for PostgreSQL $major from $mirror (once; kept in $root)"
    t0=$SECONDS
    command -v debootstrap >/dev/null || bash "$here/deps.sh" debootstrap || exit 2
    rm -rf --one-file-system "$new" "$root"
    mkdir -p "$new"
    # sid is signed by keys newer than the host's keyring may have: verify
    # with the keyring where it can, else fall back to no check (the root
    # is a test fixture, never a deployment)
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    if ! ns debootstrap --variant=minbase --keyring="$keyring" \
            "$suite" "$new" "$mirror" >"$roots/$name.debootstrap.log" 2>&1; then
        if grep -q -E 'signature|Release signed by unknown key|NO_PUBKEY|Valid-Until|invalid signature' \
                "$roots/$name.debootstrap.log"; then
            echo "   (signature not verifiable with the host keyring; retrying without it)"
            rm -rf --one-file-system "$new"; mkdir -p "$new"
            ns debootstrap --variant=minbase --no-check-gpg \
                "$suite" "$new" "$mirror" >"$roots/$name.debootstrap.log" 2>&1 \
                || { tail -n 30 "$roots/$name.debootstrap.log"; die "debootstrap $suite failed"; }
        else
            tail -n 30 "$roots/$name.debootstrap.log"; die "debootstrap $suite failed"
        fi
    fi
    # apt inside: same mirror; no daemons started by package scripts
    echo "deb $mirror $suite main" >"$new/etc/apt/sources.list"
    rm -f "$new"/etc/apt/sources.list.d/*
    printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
    chmod 755 "$new/usr/sbin/policy-rc.d"
    # no cluster is created when the server package is installed
    mkdir -p "$new/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$new/etc/postgresql-common/createcluster.d/no-main.conf"
    root_apt "$new" "$major" "$roots/$name.apt.log" \
        || die "installing the packages into the $suite root failed"
    chroot "$new" "/usr/lib/postgresql/$major/bin/postgres" --version >"$new/.pr-root-ready.tmp" \
        || die "no working PostgreSQL $major server in the $suite root"
    mv "$new/.pr-root-ready.tmp" "$new/.pr-root-ready"
    mv "$new" "$root" || die "cannot rename $new"
    echo "   root ready in $((SECONDS - t0)) s: $(cat "$root/.pr-root-ready")"
}

# cross_restore_script: the script that restores a 15 dump (PR_CROSS_DUMP)
# inside a root, run as postgres in pg_virtualenv: cross_restore.sh MAJOR DIR
cross_restore_script() {
    cat <<'EOF'
#!/bin/bash
# written by test/pgroot.sh: restore DIR/pr.dump (test/crossdump.sh, taken
# on PostgreSQL 15) into this cluster, compare snapshot.sql's output with
# expected.txt and after.sql's with after_expected.txt
set -u
major=$1 dir=$2
bin=/usr/lib/postgresql/$major/bin
fail=0
"$bin/createdb" pr_cross_dump || { echo "!! createdb failed"; exit 1; }
if ! "$bin/pg_restore" --single-transaction --exit-on-error -d pr_cross_dump "$dir/pr.dump"; then
    echo "!! pg_restore --single-transaction of the 15 dump into $major failed"
    exit 1
fi
for s in snapshot:expected after:after_expected; do
    sql=${s%%:*} exp=${s#*:}
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -d pr_cross_dump -f "$dir/$sql.sql" >"$dir/$sql.out" 2>&1
    if ! diff -u "$dir/$exp.txt" "$dir/$sql.out" >"$dir/$sql.diff"; then
        echo "!! $sql.sql on the restored database differs from $exp.txt:"
        cat "$dir/$sql.diff"
        fail=1
    else
        echo "   $sql.sql: as $exp.txt ($(wc -l <"$dir/$sql.out") lines)"
    fi
done
exit $fail
EOF
}

# test_in_root MAJOR: copy the tree in, build with -Werror, install, run
# installcheck as postgres on a pg_virtualenv cluster (and, with
# PR_CROSS_DUMP, restore a 15 dump on another one and check it)
test_in_root() {
    local major=$1 suite root build rc t0
    suite=$(suite_of "$major")
    root=$roots/$suite-pg$major
    # what an earlier run left in the root's /tmp (a failed run's build
    # tree, kept until now for a look; a killed run's clusters): the lock
    # says that no run is using it
    rm -rf --one-file-system "${root:?}"/tmp/* "$root"/tmp/.[!.]* 2>/dev/null
    build=$(mktemp -d "$root/tmp/payment_records.XXXXXX") || die "mktemp in $root failed"
    tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=output_regress --exclude=output_iso --exclude=tmp_check \
        --exclude=results --exclude=debian/.debhelper -cf - . | tar -C "$build" -xf -
    local inner=/tmp/${build##*/} xd=
    if [ -n "${PR_CROSS_DUMP:-}" ]; then
        local f
        for f in pr.dump snapshot.sql expected.txt after.sql after_expected.txt; do
            [ -s "$PR_CROSS_DUMP/$f" ] || { echo "!! PR_CROSS_DUMP=$PR_CROSS_DUMP has no $f"; rm -rf "$build"; return 1; }
        done
        mkdir "$build/.pr_cross_dump" && cp "$PR_CROSS_DUMP"/{pr.dump,snapshot.sql,expected.txt,after.sql,after_expected.txt} \
            "$build/.pr_cross_dump/" && cross_restore_script >"$build/.pr_cross_dump/cross_restore.sh" \
            || { echo "!! copying $PR_CROSS_DUMP into the root failed"; rm -rf "$build"; return 1; }
        xd=$inner/.pr_cross_dump
    fi
    echo "== PostgreSQL $major ($suite root, $(cat "$root/.pr-root-ready")): -Werror build; regress, isolation, TAP${xd:+; the 15 dump restored}; .deb"
    t0=$SECONDS
    NS_NET=1 in_ns "$root" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
        HOME=/root major="$major" dir="$inner" xd="$xd" bash -c '
            set -u
            chown -R postgres: "$dir"
            cd "$dir" || exit 2
            pgc=/usr/lib/postgresql/$major/bin/pg_config
            runuser -u postgres -- make -s PG_CONFIG=$pgc clean >/dev/null
            runuser -u postgres -- make -s PG_CONFIG=$pgc PG_CFLAGS=-Werror || { echo "!! build failed"; exit 1; }
            make -s PG_CONFIG=$pgc install || { echo "!! install failed"; exit 1; }
            # 16 added auto_explain.log_parameter_max_length (default: log
            # them all): the plans that sql/lists.sql prints through
            # auto_explain would show a line of query parameters, with a
            # timestamp in it, that 15 does not have.  0 logs none, as 15.
            opts=()
            [ "$major" -ge 16 ] && opts=(-o auto_explain.log_parameter_max_length=0)
            if ! runuser -u postgres -- env PG_CONFIG=$pgc pg_virtualenv "${opts[@]}" -v "$major" \
                    make -s PG_CONFIG=$pgc installcheck; then
                for d in output_regress/regression.diffs output_iso/regression.diffs; do
                    [ -s "$d" ] && { echo "===== $d"; cat "$d"; }
                done
                for l in tmp_check/log/regress_log_*; do
                    [ -s "$l" ] && { echo "===== $l (tail)"; tail -n 60 "$l"; }
                done
                exit 1
            fi
            # a dump taken on 15 (PR_CROSS_DUMP), restored here and checked,
            # on a cluster of its own, before test/deb.sh moves aside what
            # make install installed
            xd_rc=0
            if [ -n "$xd" ]; then
                echo "== the 15 dump restored into $major (pg_restore --single-transaction)"
                runuser -u postgres -- env PG_CONFIG=$pgc pg_virtualenv -v "$major" \
                    bash "$xd/cross_restore.sh" "$major" "$xd" || xd_rc=1
            fi
            # the Debian package for this version, as on the host
            PR_PG_MAJOR=$major bash test/deb.sh
            rc=$?
            [ $rc -ne 0 ] && exit $rc
            exit $xd_rc
        '
    rc=$?
    if [ $rc -eq 0 ] && [ -z "${PR_KEEP:-}" ]; then
        rm -rf "$build"
    elif [ $rc -ne 0 ]; then
        echo "   (build tree kept: $build)"
    fi
    echo "== PostgreSQL $major: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
    return $rc
}

if [ "$1" = --mirror ]; then
    host_mirror || die "no Debian mirror found in the apt sources"
    exit 0
fi
mkdir -p "$roots"
fail=0
for major in "$@"; do
    suite=$(suite_of "$major") || die "no Debian suite known for PostgreSQL $major"
    exec 9>"$roots/$suite-pg$major.lock"
    flock 9 || die "cannot lock $roots/$suite-pg$major.lock"
    build_root "$major" || { fail=1; exec 9>&-; continue; }
    test_in_root "$major" || fail=1
    exec 9>&-
done
exit $fail
