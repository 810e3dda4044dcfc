#!/bin/bash
# test/sanitize.sh [ubsan|asan]: build payment_records with sanitizers and
# run the regress and isolation suites (`make installcheck`, no TAP) on a
# throwaway copy of the stock server.  Run as root.
#
#   ubsan (default): -fsanitize=undefined -fno-sanitize-recover=all, plus
#       -fno-wrapv (PostgreSQL's -fwrapv would make signed overflow defined,
#       so UBSan would not report it) and -DUSE_ASSERT_CHECKING (the
#       extension's own Assert()s; the stock server has them off).  libubsan
#       is a dependency of the .so, so the stock postgres loads it as is.
#   asan: -fsanitize=address,undefined as well; libasan must be the first
#       library of the process, so it is preloaded (LD_PRELOAD) into the
#       postmaster and inherited by every backend, together with a shim that
#       initializes ASan before any other constructor runs (without it the
#       stock server hangs at start: see test/fuzz/asan_first.c).  Only the extension is
#       instrumented: overflows of its stack and global buffers and of
#       malloc'd memory are caught, not those of palloc'd chunks (the
#       server's allocator is not instrumented).
#
# The build goes into a private relocated copy of /usr/lib/postgresql/15
# (test/fuzz/lib.sh), never into the system's, and the server runs with
# UBSAN_OPTIONS (and ASAN_OPTIONS) in its environment.  Fails when a suite
# fails, when the server log has a sanitizer report, a failed assertion or
# a crashed backend, or when the sanitizer is found not to be live: each
# run ends by calling a probe (test/fuzz/sanitizer_probe.c, compiled into
# this build only) that must kill its backend with a report in the log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
source "$here/fuzz/lib.sh"
[ -n "${SANITIZE_KEEP:-}" ] && PR_KEEP=1
trap pr_cleanup EXIT

mode=${1:-ubsan}
ubsan_env="UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1"
flags="-fno-sanitize-recover=all -fno-omit-frame-pointer -fno-wrapv -DUSE_ASSERT_CHECKING"
case $mode in
    ubsan) flags="-fsanitize=undefined $flags"; env=("$ubsan_env")
           probe=pr_probe_overflow; arg=2147483647; report='runtime error' ;;
    asan)  flags="-fsanitize=address,undefined $flags"
           env=("$ubsan_env" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:print_stacktrace=1")
           probe=pr_probe_stack; arg=8; report='ERROR: AddressSanitizer' ;;
    *) echo "usage: $0 [ubsan|asan]" >&2; exit 2 ;;
esac

bash "$here/deps.sh" || exit 2
echo "== sanitizer build ($mode): $flags"
pr_tree_new
if [ "$mode" = asan ]; then
    preload=$(pr_asan_preload) || exit 2
    env+=("$preload")
fi
pr_stage "$src"
cp "$here/fuzz/sanitizer_probe.c" "$PR_STAGE/src/zz_sanitizer_probe.c"
pr_build PG_CFLAGS="$flags"
so=$PR_TREE/lib/postgresql/$PR_PGVER/lib/payment_records.so
readelf -d "$so" | grep -q 'NEEDED.*libubsan' || { echo "!! $so does not link libubsan"; exit 1; }
pr_cluster_start "${env[@]}"

fail=0
echo "== regress and isolation suites"
if ! pr_as_postgres make -s -C "$PR_STAGE" installcheck TAP_TESTS= ; then
    fail=1
    for d in "$PR_STAGE"/output_regress/regression.diffs "$PR_STAGE"/output_iso/regression.diffs; do
        [ -s "$d" ] && { echo "===== $d"; cat "$d"; }
    done
fi

if grep -n -E 'runtime error|AddressSanitizer|LeakSanitizer|TRAP:|terminated by signal|exited with exit code|was terminated' \
        "$PR_LOG" >"$PR_TREE/findings"; then
    fail=1
    echo "!! the server log has sanitizer reports, failed assertions or crashes:"
    head -n 60 "$PR_TREE/findings"
    grep -n -A 30 -E 'runtime error|ERROR: AddressSanitizer|TRAP:' "$PR_LOG" | head -n 80
else
    echo "== server log: no sanitizer report, no failed assertion, no crash"
fi

# prove the sanitizer is live in the server: the probe must die, reported
echo "== probe: $probe($arg) must be reported"
lines=$(wc -l <"$PR_LOG")
pr_as_postgres psql -X -q -c "CREATE FUNCTION pg_temp.probe(int) RETURNS int
        AS '\$libdir/payment_records', '$probe' LANGUAGE C STRICT" \
    -c "SELECT pg_temp.probe($arg)" >/dev/null 2>&1
sleep 1
if tail -n +"$((lines + 1))" "$PR_LOG" | grep -q "$report"; then
    echo "   reported: $(tail -n +"$((lines + 1))" "$PR_LOG" | grep -m1 "$report")"
else
    fail=1
    echo "!! the probe was not reported: the sanitizer is not live in the server"
    tail -n 20 "$PR_LOG"
fi

if [ $fail -eq 0 ]; then
    echo "== sanitize ($mode): passed"
else
    echo "== sanitize ($mode): FAILED"
fi
exit $fail
