#!/bin/bash
# test/sharded/bench.sh DIR [PORT] [SECONDS] [ROUNDS]: the router's cost per
# call, on a deployment started by test/sharded/start.sh DIR PORT: pgbench
# (4 clients, SECONDS each, default 10) of report_payment without and with
# an idempotency key (a new one each call) and of retrieve_payment_record,
# through the router and directly on shard 0,
# alternated ROUNDS times (default 2) in the same run, so that the ratio
# holds on a shared machine.  Prints tps per run and the ratios.
set -euo pipefail
dir=$(cd "$1" && pwd)
port=${2:-5440}
secs=${3:-10}
rounds=${4:-2}
bin=${PG_BINDIR:-$(pg_config --bindir)}
sock=$dir/sock
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pay.sql" <<'SQL'
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000}, "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}}');
SQL
cat >"$work/paykey.sql" <<'SQL'
\set k random(1, 1000000000000)
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 1000}, "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}, "outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}}', 'bench-' || :client_id || '-' || :k);
SQL
id=$("$bin/psql" -X -At -h "$sock" -p $((port + 1)) -U app postgres -c \
    "SELECT payment_records.report_payment('{\"amount_requested\": {\"currency\": \"usd\", \"value\": 1000}, \"initiated_at\": 1730253453, \"payment_method_details\": {\"payment_method\": \"pm_1\"}}') ->> 'id'")
echo "SELECT payment_records.retrieve_payment_record('$id');" >"$work/get.sql"

tps() {
    "$bin/pgbench" -n -c 4 -j 2 -T "$secs" -f "$work/$2.sql" -h "$sock" -p "$1" -U app postgres 2>/dev/null \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
for call in ${BENCH_CALLS:-pay paykey get}; do
    for r in $(seq "$rounds"); do
        via=$(tps "$port" $call)
        direct=$(tps $((port + 1)) $call)
        echo "$call round $r: router $via tps, shard 0 directly $direct tps, ratio $(echo "scale=3; $via / $direct" | bc)"
    done
done
