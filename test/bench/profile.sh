#!/bin/bash
# Where a call's time goes (issue 12): a perf profile of one backend
# running report_payment (or report_refund) under pgbench, and the
# instructions per call counted by callgrind on a single-user backend.
#
# As root on Debian 12, from the top of the tree:
#
#   bash test/bench/profile.sh [SRC]
#
# SRC (default: this tree) is built into a private copy of the server
# (test/fuzz/lib.sh), so other builds on the machine cannot swap the
# library under it.  Prints:
#   - perf: the backend's samples by library, the hottest symbols, and the
#     extension's functions with everything they call (report_payment, 1
#     client, synchronous_commit=off, so the run is CPU-bound, 5 s);
#   - callgrind: instructions per call of report_payment, report_refund
#     (distinct records) and a one-row INSERT of the request jsonb, each
#     2,000 calls in one statement.  Instructions do not depend on what
#     else the machine runs; note that valgrind counts every iteration of
#     a "rep stos" (memset), so large memsets weigh more there than in
#     perf's samples.
# Needs perf and valgrind (installed if missing).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${1:-$here/../..}" && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
command -v perf >/dev/null && command -v valgrind >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq linux-perf valgrind >/dev/null; }

source "$src/test/fuzz/lib.sh"
trap pr_cleanup EXIT
pr_tree_new
pr_stage "$src"
pr_build
bin=$PR_TREE/lib/postgresql/15/bin
out=$PR_TREE/profile
mkdir -p "$out"
chown -R postgres: "$PR_TREE"
pay=$(tr -d '\n' < "$here/payment.json")
refund=$(tr -d '\n' < "$here/refund.json")

echo "== perf: report_payment, 1 client, synchronous_commit=off"
pr_cluster_start
pr_as_postgres psql -X -q -c "CREATE EXTENSION payment_records"
echo 'SELECT payment_records.report_payment(:pay::jsonb);' > "$out/pay.sql"
chmod 644 "$out/pay.sql"
pr_as_postgres env PGOPTIONS="-c synchronous_commit=off" \
    pgbench -n -M prepared -c 1 -T 8 -D pay="$pay" -f "$out/pay.sql" postgres > "$out/pgbench.out" 2>&1 &
bench=$!
sleep 1.5
pid=$(pr_as_postgres psql -X -At -c "SELECT pid FROM pg_stat_activity
        WHERE query LIKE '%report_payment%' AND pid <> pg_backend_pid() LIMIT 1")
perf record -q -F 2000 -g -p "$pid" -o "$out/perf.data" -- sleep 5 > /dev/null 2>&1
wait "$bench"
grep '^tps' "$out/pgbench.out"
echo "-- samples by library (self)"
perf report -i "$out/perf.data" --no-children -g none --sort dso -q 2>/dev/null | head -8 || true
echo "-- hottest symbols (self)"
perf report -i "$out/perf.data" --no-children -g none --sort symbol -q 2>/dev/null | head -15 || true
echo "-- with what they call (children)"
perf report -i "$out/perf.data" --children -g none --sort symbol -q 2>/dev/null \
    | grep -E 'payment_records_|pr_[a-z_]+ |RI_FKey_check_ins|AfterTrigger(EndQuery|FireDeferred)|CommitTransactionCommand|ExecSimpleRelationInsert|toast_compress_datum|__send|__libc_recv|__GI___kill' \
    | head -30 || true
pr_cluster_stop

echo "== callgrind: instructions per call (2,000 calls in one statement)"
data=$PR_TREE/cgdata
runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres > /dev/null \
    || { echo "initdb failed" >&2; exit 1; }
setup="CREATE EXTENSION payment_records;
CREATE TABLE fl (id bigserial PRIMARY KEY, body jsonb);
SELECT count(payment_records.report_payment('$pay')) FROM generate_series(1, 3000);
SELECT count(payment_records.report_refund(id, '$refund')) FROM (SELECT id FROM payment_records.payment_record ORDER BY seq LIMIT 200) x;
INSERT INTO fl(body) SELECT '$pay'::jsonb FROM generate_series(1, 200);"
# run NAME SQL: total instructions of a single-user backend running the
# set-up and then SQL, on a fresh copy of the data directory
run() {
    printf '%s\n%s\n' "$setup" "$2" > "$out/$1.sql"
    chmod 644 "$out/$1.sql"
    rm -rf "$data.run"; cp -a "$data" "$data.run"
    runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1" \
        "$bin/postgres" --single -D "$data.run" -c fsync=off -c jit=off postgres \
        < "$out/$1.sql" > /dev/null 2> "$out/$1.err" || { tail -n 5 "$out/$1.err" >&2; return 1; }
    callgrind_annotate "$out/cg.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
n=2000
base=$(run base "")
pay_i=$(run pay "SELECT count(payment_records.report_payment('$pay')) FROM generate_series(1, $n);")
ref_i=$(run ref "SELECT count(payment_records.report_refund(id, '$refund')) FROM (SELECT id FROM payment_records.payment_record ORDER BY seq OFFSET 200 LIMIT $n) x;")
fl_i=$(run floor "INSERT INTO fl(body) SELECT '$pay'::jsonb FROM generate_series(1, $n);")
echo "report_payment $(( (pay_i - base) / n ))"
echo "report_refund  $(( (ref_i - base) / n ))"
echo "floor INSERT   $(( (fl_i - base) / n ))"
