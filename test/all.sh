#!/bin/bash
# README command 2: install what is missing, build with -Werror, install,
# and run every suite (pg_regress, isolation, TAP) on a throwaway cluster;
# then regress and isolation again under UBSan and ASan builds, and a
# bounded fuzz run (all on the host's PostgreSQL 15); META.json against the
# PGXN spec; the Debian package built, installed, checked and removed
# (test/deb.sh); the HTTP gateway's suites (the Stripe Node SDK, malformed
# HTTP, limits); and every suite again, -Werror, on PostgreSQL 17 and 18 in
# Debian roots (test/pgroot.sh), where a dump taken on 15 (test/crossdump.sh)
# is restored and checked as well.  Exits non-zero on any failure and prints
# the diffs.  Each phase's time is printed, and a summary at the end.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/deps.sh" python3 || exit 1
fail=0
t_all=$SECONDS
summary=()

# phase NAME CMD...: run CMD, time it, remember how it went
phase() {
    local name=$1 t0=$SECONDS rc; shift
    "$@"; rc=$?
    summary+=("$(printf '%-28s %-6s %5d s' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - t0)))")
    [ $rc -eq 0 ] || fail=1
    return $rc
}

# run_suites DIR TARGET: make TARGET as postgres on a throwaway cluster
run_suites() {
    local dir=$1 target=$2
    if ! (cd "$dir" && runuser -u postgres -- pg_virtualenv -v 15 make -s $target); then
        for d in "$dir"/output_regress/regression.diffs "$dir"/output_iso/regression.diffs; do
            [ -s "$d" ] && { echo "===== $d"; cat "$d"; }
        done
        for l in "$dir"/tmp_check/log/regress_log_*; do
            [ -s "$l" ] && { echo "===== $l (tail)"; tail -n 60 "$l"; }
        done
        return 1
    fi
}

pg15() {
    local dir
    dir=$(bash "$here/stage.sh" -Werror) || return 1
    run_suites "$dir" installcheck
}

echo "== META.json: PGXN Meta Spec v1.0.0"
phase "META.json" python3 "$here/meta.py" "$here/../META.json"

echo "== PostgreSQL 15 (host): build with -Werror; regress, isolation, TAP"
phase "15: -Werror, all suites" pg15

echo "== sanitizer builds: regress and isolation under UBSan, then ASan"
phase "15: UBSan" bash "$here/sanitize.sh" ubsan
phase "15: ASan" bash "$here/sanitize.sh" asan

echo "== HTTP gateway: the Stripe Node SDK, malformed HTTP, limits (test/gateway/run.sh)"
phase "15: gateway" bash "$here/gateway/run.sh"

echo "== fuzz: bounded run (bash test/fuzz/run.sh N SEED for millions)"
phase "15: fuzz" bash "$here/fuzz/run.sh"

echo "== Debian package: build, install, installcheck, purge"
phase "15: .deb" bash "$here/deb.sh"

echo "== a dump taken on 15, for 17 and 18 to restore (test/crossdump.sh)"
xd=$(mktemp -d /tmp/payment_records_crossdump.XXXXXX)
trap '[ -n "$xd" ] && rm -rf "$xd"' EXIT
xd_env=()
if phase "15: dump for 17/18" bash "$here/crossdump.sh" "$xd"; then
    xd_env=(PR_CROSS_DUMP="$xd")
else
    echo "   (no dump: 17 and 18 run their suites without the restore)"
fi

echo "== PostgreSQL 17 and 18 in Debian roots (test/pgroot.sh)"
phase "17 (trixie root)" env -u PR_CROSS_DUMP "${xd_env[@]}" bash "$here/pgroot.sh" 17
phase "18 (sid root)" env -u PR_CROSS_DUMP "${xd_env[@]}" bash "$here/pgroot.sh" 18

echo "== summary"
printf '   %s\n' "${summary[@]}"
echo "   total $((SECONDS - t_all)) s"
if [ $fail -eq 0 ]; then
    echo "== all suites passed"
else
    echo "== FAILED"
fi
exit $fail
