#!/bin/bash
# test/bench/gateway.sh: report_payment through payment_records_gateway
# (HTTP keep-alive, 16 connections, wrk) against pgbench calling request()
# directly (16 clients), in one run on one throwaway cluster (fsync on).
# Not part of CI.  As root on Debian 12:
#
#   bash test/bench/gateway.sh [-T SECONDS] [-c CONNECTIONS (16)] [--pool N (16)]
#
# Rows, per synchronous_commit on/off:
#   request() direct    pgbench -c 16: SELECT status FROM payment_records.request(
#                       'POST', '/v1/payment_records/report_payment', :pay::jsonb)
#   http_request() direct  pgbench -c 16: the gateway's second statement,
#                       payment_records.http_request('POST', path, :form), as
#                       the key's role (form_to_jsonb + request())
#   gateway (HTTP)      wrk -t 2 -c 16, keep-alive, POST of the same form body
#                       with a Bearer sk_test_ key: authenticate_api_key + SET
#                       LOCAL ROLE + http_request(), one pipeline per request
# pgbench runs as a login role that is a member of the key's role, so both
# paths write as the same role.  Each run starts after a CHECKPOINT; the
# rows written are counted and must equal the requests answered 200.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/test/fuzz/lib.sh"
trap pr_cleanup EXIT
duration=20
pool=16
conns=16
while [ $# -gt 0 ]; do
    case $1 in
        -T) duration=$2; shift ;;
        -c) conns=$2; shift ;;
        --pool) pool=$2; shift ;;
        *) echo "usage: $0 [-T SECONDS] [-c CONNECTIONS] [--pool N]" >&2; exit 2 ;;
    esac
    shift
done

bash "$src/test/deps.sh" wrk >&2 || exit 1
echo "== build ($(git -C "$src" describe --always --dirty 2>/dev/null))" >&2
pr_tree_new
pr_stage "$src"
rm -rf "$PR_STAGE/test/gateway/node_modules"
pr_build >/dev/null
gw=$PR_STAGE/src/gateway/payment_records_gateway
pr_cluster_start
bin=$PR_TREE/lib/postgresql/$PR_PGVER/bin
cat >>"$PR_DATA/postgresql.conf" <<CONF
fsync = on
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
jit = off
max_connections = 100
CONF
runuser -u postgres -- "$bin/pg_ctl" -D "$PR_DATA" -l "$PR_LOG" -w restart >/dev/null || pr_die "restart failed"

q() { pr_as_postgres psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
q <<'SQL' || pr_die "set-up failed"
CREATE EXTENSION payment_records;
CREATE ROLE bench_shop NOLOGIN IN ROLE payment_records_writer;
GRANT bench_shop TO payment_records_gateway;
CREATE ROLE bench_gateway LOGIN IN ROLE payment_records_gateway;
CREATE ROLE bench_direct LOGIN IN ROLE bench_shop;
SQL
key=$(q -c "SELECT secret FROM payment_records.create_api_key('bench_shop', false)")
pay=$(tr -d '\n' < "$here/payment.json")
form='amount_requested[currency]=usd&amount_requested[value]=99999999&initiated_at=1730253453&outcome=guaranteed&guaranteed[guaranteed_at]=1730253460&payment_method_details[custom][display_name]=newpay&payment_method_details[custom][type]=cpmt_125kjj3hn3sdf&payment_method_details[payment_method]=pm_5j23kjksibjlks&payment_method_details[type]=custom&customer_presence=on_session&description=computer+software'
work=$PR_TREE/work
mkdir -p "$work" && chown postgres: "$work"
echo "SELECT status FROM payment_records.request('POST', '/v1/payment_records/report_payment', :pay::jsonb);" >"$work/request.sql"
echo "SELECT status FROM payment_records.http_request('POST', '/v1/payment_records/report_payment', :form);" >"$work/http_request.sql"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$form"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Bearer $key"
LUA
chown -R postgres: "$work"

"$gw" --port 0 --pool "$pool" --conninfo "host=$PGHOST port=$PGPORT dbname=postgres user=bench_gateway" \
    2>"$work/gateway.log" &
gw_pid=$!
trap 'kill $gw_pid 2>/dev/null; pr_cleanup' EXIT
sleep 0.5
port=$(sed -n 's/.*listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/gateway.log")
[ -n "$port" ] || pr_die "the gateway did not start: $(cat "$work/gateway.log")"
# warm up: every worker connects and prepares
wrk -t 2 -c 16 -d 2s -s "$work/post.lua" "http://127.0.0.1:$port/v1/payment_records/report_payment" >/dev/null

records() { q -c "SELECT count(*) FROM payment_records.payment_record"; }
pgb() {  # pgbench SCRIPT [USER]: prints tps
    local before after out
    before=$(records)
    q -c CHECKPOINT
    out=$(pr_as_postgres env PGUSER="${2:-bench_direct}" "$bin/pgbench" -n -M prepared -c "$conns" -j "$(( conns < 2 ? 1 : 2 ))" -T "$duration" \
        -D pay="$pay" -D form="$form" -D key="$key" -f "$work/$1" postgres 2>&1)
    after=$(records)
    local tps n
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    [ "$((after - before))" = "$n" ] || echo "!! $1: $n transactions, $((after - before)) records" >&2
    printf '%.0f' "$tps"
}
http() {  # wrk: prints requests/s
    local before after out
    before=$(records)
    q -c CHECKPOINT
    local cpu0 cpu1
    cpu0=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
    out=$(wrk -t "$(( conns < 2 ? 1 : 2 ))" -c "$conns" -d "${duration}s" --latency -s "$work/post.lua" \
        "http://127.0.0.1:$port/v1/payment_records/report_payment" 2>&1)
    cpu1=$(awk '{print $14 + $15}' "/proc/$gw_pid/stat")
    echo "   gateway CPU: $(( (cpu1 - cpu0) * 10 )) ms over ${duration} s" >&2
    after=$(records)
    echo "$out" >"$work/wrk.$sync.out"
    grep -q "Non-2xx" <<<"$out" && echo "!! gateway: $(grep Non-2xx <<<"$out")" >&2
    local total rps
    total=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$out")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
    [ "$((after - before))" -ge "$total" ] || echo "!! gateway: $total requests, $((after - before)) records" >&2
    printf '%.0f' "$rps"
}

echo "| path ($conns connections, keep-alive) | synchronous_commit | TPS | vs request() direct |"
echo "|---|---|---:|---:|"
for sync in on off; do
    q -c "ALTER SYSTEM SET synchronous_commit = $sync" -c "SELECT pg_reload_conf()" >/dev/null
    echo "== synchronous_commit=$sync: request() direct" >&2
    direct=$(pgb request.sql)
    echo "== synchronous_commit=$sync: http_request() direct" >&2
    viahttp=$(pgb http_request.sql)
    echo "== synchronous_commit=$sync: gateway" >&2
    gwtps=$(http)
    echo "| request() direct, pgbench -M prepared | $sync | $direct | 1.00x |"
    echo "| http_request() direct (form body), pgbench | $sync | $viahttp | $(awk -v a="$viahttp" -v b="$direct" 'BEGIN{printf "%.2fx", a/b}') |"
    echo "| gateway over HTTP, wrk, pool $pool | $sync | $gwtps | $(awk -v a="$gwtps" -v b="$direct" 'BEGIN{printf "%.2fx", a/b}') |"
    sed -n '/Latency Distribution/,/99%/p' "$work/wrk.$sync.out" | tr -s ' ' | tr '\n' ' ' | sed 's/^/   gateway latency: /' >&2; echo >&2
done
kill -TERM "$gw_pid"; wait "$gw_pid"
