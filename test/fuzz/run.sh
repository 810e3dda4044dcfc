#!/bin/bash
# test/fuzz/run.sh [ITERATIONS] [SEED]: fuzz payment_records inside a
# throwaway server with test/fuzz/fuzz.sql (see there for what is generated).
#
#   bash test/fuzz/run.sh                # CI: 60000 iterations, seed 1 (< 1 min)
#   bash test/fuzz/run.sh 2000000 7      # on demand: millions (~7 min a million; ASan ~12)
#   bash test/fuzz/run.sh 100000 random  # a seed from the clock (printed)
#
# Run as root.  The extension is built from a copy of this tree with UBSan
# and assertions (FUZZ_SANITIZE=ubsan, the default), with ASan as well
# (FUZZ_SANITIZE=asan: libasan is preloaded into the server) or plainly
# (FUZZ_SANITIZE=none), and installed only into a private copy of the stock
# server (test/fuzz/lib.sh says why).  80% of the iterations run in a UTF8
# database, 10% in a SQL_ASCII one (any byte but NUL is text there) and 10%
# in a LATIN1 one.
#
# Fails (exit 1) on: a backend crash, an SQLSTATE outside fuzz.allowed, a
# success with a malformed result, a sanitizer report or failed assertion
# in the server log.  Every crash is replayed (the batch again, printing
# each call) to name the call that crashed; reproducers go to $FUZZ_OUT
# (default: a fresh /tmp/payment_records_fuzz_out.*), and are printed.
#
# Environment: FUZZ_SANITIZE (ubsan|asan|none), FUZZ_BATCH (iterations per
# transaction, 250), FUZZ_CHUNK (iterations per CALL, 5000), FUZZ_OUT,
# FUZZ_KEEP=1 (keep the private server and staged tree), FUZZ_ALLOW (more
# allowed outcomes, "FN:SQLSTATE ...", FN * for all) and FUZZ_IGNORE (a
# regular expression: failures whose message matches are not counted):
# both to hunt past a known finding.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$here/lib.sh"

iters=${1:-60000}
seed=${2:-1}
[ "$seed" = random ] && seed=$(( $(date +%s%N) % 1000000000 ))
[[ "$iters" =~ ^[0-9]+$ && "$seed" =~ ^-?[0-9]+$ ]] || { echo "usage: $0 [ITERATIONS] [SEED|random]" >&2; exit 2; }
sanitize=${FUZZ_SANITIZE:-ubsan}
batch=${FUZZ_BATCH:-250}
chunk=${FUZZ_CHUNK:-5000}
out=${FUZZ_OUT:-$(mktemp -d /tmp/payment_records_fuzz_out.XXXXXX)}
mkdir -p "$out"
[ -n "${FUZZ_KEEP:-}" ] && PR_KEEP=1
trap pr_cleanup EXIT

bash "$src/test/deps.sh" || exit 2

ubsan_env="UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1"
base_flags="-fno-omit-frame-pointer -fno-wrapv -DUSE_ASSERT_CHECKING -fno-sanitize-recover=all"
server_env=()
case $sanitize in
    ubsan) cflags="-fsanitize=undefined $base_flags"; server_env=("$ubsan_env") ;;
    asan)  cflags="-fsanitize=address,undefined $base_flags"
           server_env=("$ubsan_env" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:print_stacktrace=1") ;;
    none)  cflags="-DUSE_ASSERT_CHECKING" ;;
    *) echo "FUZZ_SANITIZE must be ubsan, asan or none" >&2; exit 2 ;;
esac

echo "== fuzz: $iters iterations, seed $seed, build: $sanitize ($cflags)"
start=$(date +%s)
pr_tree_new
if [ "$sanitize" = asan ]; then
    preload=$(pr_asan_preload) || exit 2
    server_env+=("$preload")
fi
pr_stage "$src"
pr_build PG_CFLAGS="$cflags"
pr_cluster_start "${server_env[@]}"

psql_db() {	# psql_db DB ARGS...: quiet, no psqlrc, stop at the first error
    local db=$1; shift
    PGDATABASE=$db pr_as_postgres psql -X -q -v ON_ERROR_STOP=1 "$@"
}

wait_ready() {
    local i
    for i in $(seq 1 120); do
        pr_as_postgres pg_isready -q && return 0
        sleep 0.5
    done
    return 1
}

crashes=0 driver_errors=0 stop=0
# fuzz_range DB FROM TO: run iterations FROM..TO in DB, chunk by chunk,
# replaying any batch whose CALL did not come back
fuzz_range() {
    local db=$1 from=$2 to=$3 lo hi rc done bfrom bto log iter loglines
    [ $stop -eq 1 ] && return
    lo=$from
    while [ "$lo" -le "$to" ]; do
        hi=$(( lo + chunk - 1 )); [ "$hi" -gt "$to" ] && hi=$to
        psql_db "$db" -c "SET statement_timeout = '300s'" \
            -c "CALL fuzz.run($seed, $lo, $hi, $batch)" 2>"$out/call.err"
        rc=$?
        grep -a -o 'fuzz-progress.*' "$out/call.err" | tail -n 1 | sed "s/^/   $db: /"
        if [ $rc -eq 0 ]; then lo=$(( hi + 1 )); continue; fi

        # the CALL failed: a crash, a timeout or an error in the driver
        wait_ready || { echo "the server did not come back"; tail -n 50 "$PR_LOG"; exit 1; }
        done=$(psql_db "$db" -At -c "SELECT coalesce((SELECT done FROM fuzz.progress WHERE seed = $seed AND done BETWEEN $lo AND $hi), $lo - 1)")
        bfrom=$(( done + 1 ))
        bto=$(( bfrom + batch - 1 )); [ "$bto" -gt "$hi" ] && bto=$hi
        log=$out/replay-$db-$bfrom.log
        loglines=$(wc -l <"$PR_LOG")
        echo "!! CALL failed (psql exit $rc) in batch $bfrom..$bto of $db:"
        sed 's/^/   /' "$out/call.err" | grep -a -v -E 'fuzz-progress|fuzz-iter' | tail -n 5
        echo "   replaying the batch, printing every call ($log)"
        psql_db "$db" -c "SET statement_timeout = '300s'" \
            -c "CALL fuzz.run($seed, $bfrom, $bto, $batch, loud => true)" >"$log" 2>&1
        rc=$?
        wait_ready || { echo "the server did not come back"; exit 1; }
        # the iteration the failed CALL was in (it says each one)
        iter=$(grep -a -o 'fuzz-iter [0-9]*' "$out/call.err" | tail -n 1 | cut -d' ' -f2)
        if grep -a -q -E 'server closed the connection|connection to server was lost' "$out/call.err"; then
            crashes=$(( crashes + 1 ))
            if grep -a -q -E 'server closed the connection|connection to server was lost' "$log"; then
                echo "   the replay crashed too: reproduced"
                iter=$(grep -a -o 'fuzz-call [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
            else
                echo "   the replay did NOT crash: the crash depends on the backend's history"
                echo "   (the call below is the one that crashed, with the same database state)"
            fi
        else
            driver_errors=$(( driver_errors + 1 ))
        fi
        {
            echo "-- seed $seed, database $db, batch $bfrom..$bto, iteration $iter; replay exit $rc"
            grep -a -o "fuzz-call $iter .*" "$log" | sed 's/^fuzz-call [0-9]* //'
        } >"$out/failure-$db-$iter.sql"
        echo "   the call of iteration $iter ($out/failure-$db-$iter.sql):"
        grep -a -o "fuzz-call $iter .*" "$log" | cut -c1-2000 | sed 's/^/     /'
        grep -a -v 'fuzz-call' "$log" | tail -n 6 | sed 's/^/   | /'
        tail -n +"$((loglines + 1))" "$PR_LOG" | grep -a -A 3 -m 1 -E 'runtime error|ERROR: AddressSanitizer|TRAP:|terminated by signal' \
            | head -n 5 | sed 's/^/   log: /'
        if [ $(( crashes + driver_errors )) -ge 5 ]; then echo "!! 5 failures: stopping"; stop=1; return; fi
        lo=$(( bto + 1 ))
    done
}

# iterations 1..80%: UTF8, then 10% SQL_ASCII (any byte but NUL is text),
# then 10% LATIN1 (not every decoded character exists in the database)
n_ascii=$(( iters / 10 ))
n_latin1=$(( iters / 10 ))
n_utf8=$(( iters - n_ascii - n_latin1 ))
dbs="fuzz_utf8 fuzz_ascii fuzz_latin1"
for db in $dbs; do
    case $db in fuzz_utf8) enc=UTF8 ;; fuzz_ascii) enc=SQL_ASCII ;; fuzz_latin1) enc=LATIN1 ;; esac
    psql_db postgres -c "CREATE DATABASE $db TEMPLATE template0 ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C'" || exit 1
    psql_db "$db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION payment_records" \
        -f "$here/fuzz.sql" >/dev/null || exit 1
    for a in ${FUZZ_ALLOW:-}; do	# FN:SQLSTATE, e.g. known findings
        psql_db "$db" -c "INSERT INTO fuzz.allowed VALUES ('${a%%:*}', '${a#*:}') ON CONFLICT DO NOTHING" >/dev/null || exit 1
    done
done
fuzz_range fuzz_utf8 1 "$n_utf8"
fuzz_range fuzz_ascii $(( n_utf8 + 1 )) $(( n_utf8 + n_ascii ))
fuzz_range fuzz_latin1 $(( n_utf8 + n_ascii + 1 )) "$iters"

fail=0
echo "== calls by function and outcome (all databases)"
for db in $dbs; do
    psql_db "$db" -At -F'|' -c "SELECT fn, sqlstate, n FROM fuzz.counts"
done | awk -F'|' '{n[$1" "$2]+=$3; t+=$3} END {for (k in n) printf "   %-50s %8d\n", k, n[k]; printf "   %-50s %8d\n", "TOTAL", t}' | sort
echo "== SQLSTATE histogram (all functions)"
for db in $dbs; do
    psql_db "$db" -At -F'|' -c "SELECT sqlstate, n FROM fuzz.counts"
done | awk -F'|' '{n[$1]+=$2} END {for (k in n) printf "   %-10s %8d\n", k, n[k]}' | sort

ignore=${FUZZ_IGNORE:-}
where="true"
[ -n "$ignore" ] && where="message !~ \$re\$$ignore\$re\$"
for db in $dbs; do
    nf=$(psql_db "$db" -At -c "SELECT count(*) FROM fuzz.failure WHERE $where")
    if [ "${nf:-0}" -gt 0 ]; then
        fail=1
        echo "!! $nf unexpected outcomes in $db (first 20; all in $out/failures-$db.txt):"
        psql_db "$db" -c "SELECT iter, fn, sqlstate, left(message, 120) AS message FROM fuzz.failure WHERE $where ORDER BY iter LIMIT 20"
        psql_db "$db" -At -c "SELECT format(E'-- seed %s iteration %s: %s %s: %s\n%s\n', seed, iter, fn, sqlstate, message, call) FROM fuzz.failure WHERE $where ORDER BY iter" \
            >"$out/failures-$db.txt"
        cut -c1-400 "$out/failures-$db.txt" | head -n 30
    fi
done
for db in $dbs; do
    psql_db "$db" -At -c "SELECT format('   generator error (harness bug, not counted as a failure) at iteration %s: %s %s | %s', iter, sqlstate, message, left(replace(context, E'\n', ' / '), 300)) FROM fuzz.gen_error ORDER BY iter LIMIT 3"
done
[ $crashes -gt 0 ] && { fail=1; echo "!! $crashes backend crash(es)"; }
[ $driver_errors -gt 0 ] && { fail=1; echo "!! $driver_errors driver error(s) or timeouts"; }
if grep -a -n -E 'runtime error|AddressSanitizer|TRAP:|terminated by signal|exited with exit code|was terminated' "$PR_LOG" >"$out/log-findings.txt"; then
    fail=1
    echo "!! the server log has crashes or sanitizer reports:"
    head -n 40 "$out/log-findings.txt"
fi
cp "$PR_LOG" "$out/server.log"
echo "== seed $seed, $iters iterations, $(( $(date +%s) - start ))s; artifacts in $out"
if [ $fail -eq 0 ]; then
    echo "== fuzz: no crash, no unexpected SQLSTATE"
else
    echo "== fuzz: FAILED (replay: FUZZ_SANITIZE=$sanitize bash test/fuzz/run.sh $iters $seed)"
fi
exit $fail
