#!/bin/bash
# test/gateway/inner.sh: run by run.sh as postgres, with PGHOST, PGPORT
# and PGUSER pointing at a throwaway cluster (Unix socket, trust), GW_BIN
# the gateway, PR_BIN the server's bin directory, PR_DATA and PR_LOG its
# data directory and log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/gateway_test.XXXXXX)
gw_bin=$GW_BIN
fail=0
gw_pid=

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
note() { echo "== $*"; }
bad() { echo "!! $*"; fail=1; }

cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null
    if [ $fail -ne 0 ] && [ -s "$work/gateway.log" ]; then
        echo "===== gateway log (tail)"; tail -n 40 "$work/gateway.log"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

note "roles and keys"
psql_q <<'SQL' || exit 1
CREATE EXTENSION payment_records;
CREATE ROLE gw_shop_test NOLOGIN IN ROLE payment_records_writer;
CREATE ROLE gw_shop_live NOLOGIN IN ROLE payment_records_writer, payment_records_live;
CREATE ROLE gw_read_test NOLOGIN IN ROLE payment_records_reader;
CREATE ROLE gw_read_live NOLOGIN IN ROLE payment_records_reader, payment_records_live;
GRANT gw_shop_test, gw_shop_live, gw_read_test, gw_read_live TO payment_records_gateway;
CREATE ROLE gw_login LOGIN PASSWORD 'gw_login_pw' IN ROLE payment_records_gateway;
-- bind parameters (the API key among them) never reach the server log
ALTER ROLE gw_login SET log_parameter_max_length = 0;
ALTER ROLE gw_login SET log_parameter_max_length_on_error = 0;
SQL
key() { psql_q -c "SELECT secret FROM payment_records.create_api_key('$1', $2, $3)"; }
export SK_TEST=$(key gw_shop_test false false) SK_LIVE=$(key gw_shop_live true false) \
       RK_TEST=$(key gw_read_test false true) RK_LIVE=$(key gw_read_live true true)
revoked=$(psql_q -c "SELECT id || ' ' || secret FROM payment_records.create_api_key('gw_shop_test', false)")
psql_q -c "SELECT payment_records.revoke_api_key('${revoked%% *}')" >/dev/null
export SK_REVOKED=${revoked#* }
# the mode rule of this branch: when the payment_records.livemode setting
# still exists, the database does not yet take the mode from the role
export LIVEMODE_BY_ROLE=$(psql_q -c "LOAD 'payment_records'" -c "SELECT count(*) = 0 FROM pg_settings WHERE name = 'payment_records.livemode'")

# start_gateway [extra flags]: start it, wait for its port
start_gateway() {
    : >"$work/gateway.log"
    "$gw_bin" --listen 127.0.0.1 --port 0 --pool 4 --timeout 2 --max-connections 500 --max-body 65536 \
        --conninfo "host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=gw_login password=gw_login_pw" \
        "$@" 2>>"$work/gateway.log" &
    gw_pid=$!
    for _ in $(seq 50); do
        GW_PORT=$(sed -n 's/.*listening on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/gateway.log")
        [ -n "$GW_PORT" ] && break
        sleep 0.1
    done
    [ -n "$GW_PORT" ] || { bad "the gateway did not start"; cat "$work/gateway.log"; exit 1; }
    export GW_PORT GW_PID=$gw_pid GW_LOG="$work/gateway.log"
}
stop_gateway() { kill -TERM "$gw_pid"; wait "$gw_pid"; local rc=$?; gw_pid=; return $rc; }

start_gateway
note "gateway pid $gw_pid on 127.0.0.1:$GW_PORT"

note "the official Stripe Node SDK (node --test)"
# GW_RECORD: sdk.test.mjs appends every 2xx body it receives, for schema.test.mjs
export GW_RECORD=$work/responses.jsonl
[ -n "${GW_SKIP_NODE:-}" ] || (cd "$here" && node --test --test-reporter=spec sdk.test.mjs) || bad "SDK suite failed"

note "every object against Stripe's OpenAPI schema (node --test, ajv)"
[ -n "${GW_SKIP_NODE:-}" ] || (cd "$here" && node --test --test-reporter=spec schema.test.mjs) || bad "schema suite failed"

note "malformed HTTP"
[ -n "${GW_SKIP_NODE:-}" ] || (cd "$here" && node --test --test-reporter=spec malformed.test.mjs) || bad "malformed-HTTP suite failed"

note "no key, body or query string in the gateway's log"
for k in "$SK_TEST" "$SK_LIVE" "$RK_TEST" "$SK_REVOKED"; do
    grep -qF "$k" "$work/gateway.log" && bad "a key is in the gateway log"
done
grep -q "amount_requested\|starting_after\|limit=" "$work/gateway.log" && bad "a body or query string is in the gateway log"
n=$(grep -c ' req_[0-9A-Za-z]\{14\} ' "$work/gateway.log")
[ "$n" -gt 100 ] && echo "   $n request lines, e.g.: $(grep -m1 ' POST /v1/payment_records/report_payment 200 ' "$work/gateway.log")"
for k in "$SK_TEST" "$SK_LIVE" "$RK_TEST" "$SK_REVOKED"; do
    grep -qF "$k" "$PR_LOG" && bad "a key is in the server log"
done
stop_gateway || bad "the gateway did not exit 0 on SIGTERM"

source "$here/lifecycle.sh"

[ $fail -eq 0 ] && note "gateway tests passed" || note "gateway tests FAILED"
exit $fail
