#!/bin/bash
# README command 2: install what is missing, build with -Werror, install,
# and run every suite (pg_regress, isolation, TAP) on a throwaway cluster;
# then regress and isolation again under UBSan and ASan builds, the HTTP
# gateway's suites, and a bounded fuzz run.  Exits non-zero on any
# failure and prints the diffs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/deps.sh" || exit 1
fail=0

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

echo "== build with -Werror; regress, isolation, TAP"
dir=$(bash "$here/stage.sh" -Werror) || exit 1
run_suites "$dir" installcheck || fail=1

echo "== sanitizer builds: regress and isolation under UBSan, then ASan"
bash "$here/sanitize.sh" ubsan || fail=1
bash "$here/sanitize.sh" asan || fail=1

echo "== HTTP gateway: the Stripe Node SDK, malformed HTTP, limits (test/gateway/run.sh)"
bash "$here/gateway/run.sh" || fail=1

echo "== fuzz: bounded run (bash test/fuzz/run.sh N SEED for millions)"
bash "$here/fuzz/run.sh" || fail=1

if [ $fail -eq 0 ]; then
    echo "== all suites passed"
else
    echo "== FAILED"
fi
exit $fail
