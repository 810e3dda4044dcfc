# test/gateway/lifecycle.sh: sourced by inner.sh (its helpers and keys).
# The per-request statement_timeout, the database going away and coming
# back, and SIGTERM finishing an in-flight request before the exit.

url() { echo "http://127.0.0.1:$GW_PORT$1"; }
# post PATH BODY OUTFILE: prints the status, the body goes to OUTFILE
post() { curl -s -o "$3" -w '%{http_code}' -u "$SK_TEST:" "$(url "$1")" -d "$2"; }
get() { curl -s -o "$2" -w '%{http_code}' -u "$SK_TEST:" "$(url "$1")"; }
payment='amount_requested[currency]=usd&amount_requested[value]=5000&initiated_at=1730253453&payment_method_details[payment_method]=pm_1&outcome=guaranteed&guaranteed[guaranteed_at]=1730253460'
refund='outcome=refunded&processor_details[type]=custom&amount[currency]=usd&amount[value]=100'
# hold RECORD: a transaction holding the record's row lock for SECONDS
hold() {
    psql -X -q -c "BEGIN" -c "SELECT 1 FROM payment_records.payment_record WHERE id = '$1' FOR UPDATE" \
        -c "SELECT pg_sleep($2)" -c "COMMIT" >/dev/null &
    holder=$!
    sleep 0.5
}

note "statement timeout: a request stuck behind a lock is canceled"
start_gateway --statement-timeout 700
[ "$(post /v1/payment_records/report_payment "$payment" "$work/p.json")" = 200 ] || bad "report_payment"
id=$(sed -n 's/.*"id": "\(pr_[0-9A-Za-z]*\)".*/\1/p' "$work/p.json")
hold "$id" 3
t0=$(date +%s%N)
st=$(post "/v1/payment_records/$id/report_refund" "$refund" "$work/r.json")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "   $st in $ms ms: $(tr -d '\n' <"$work/r.json")"
[ "$st" = 500 ] && grep -q '"code": "request_timeout"' "$work/r.json" && grep -q '"type": "api_error"' "$work/r.json" \
    || bad "a timed-out request is not Stripe's 500 api_error with code request_timeout"
[ "$ms" -lt 2500 ] || bad "the statement timeout did not bound the request ($ms ms)"
wait "$holder"
[ "$(post "/v1/payment_records/$id/report_refund" "$refund" "$work/r.json")" = 200 ] || bad "the refund after the lock"
grep -q '"amount_refunded": {"value": 100,' "$work/r.json" || bad "the timed-out refund was written: $(cat "$work/r.json")"

note "a request that waited too long for a database worker: 429"
stop_gateway || bad "the gateway did not exit 0 on SIGTERM"
start_gateway --pool 1 --queue-timeout 300
hold "$id" 1.5
post "/v1/payment_records/$id/report_refund" "$refund" "$work/busy.json" >"$work/busy.status" &
client=$!
sleep 0.2
st=$(curl -s -D "$work/h.txt" -o "$work/r.json" -w '%{http_code}' -u "$SK_TEST:" "$(url '/v1/payment_records?limit=1')")
echo "   $st: $(tr -d '\n' <"$work/r.json")"
[ "$st" = 429 ] && grep -q '"code": "rate_limit"' "$work/r.json" || bad "the queued request: $st"
grep -qi '^Stripe-Should-Retry: true' "$work/h.txt" || bad "no Stripe-Should-Retry on a 429"
wait "$client"; wait "$holder"
[ "$(cat "$work/busy.status")" = 200 ] || bad "the request that held the worker: $(cat "$work/busy.status")"
[ "$(get '/v1/payment_records?limit=1' "$work/r.json")" = 200 ] || bad "the gateway after a 429"

note "the database goes away: 503, then the gateway reconnects"
"$PR_BIN/pg_ctl" -D "$PR_DATA" -m fast -w stop >/dev/null || bad "cannot stop the server"
for i in 1 2 3; do
    st=$(curl -s -D "$work/h.txt" -o "$work/r.json" -w '%{http_code}' -u "$SK_TEST:" "$(url /v1/payment_records)")
    [ "$st" = 503 ] && grep -q '"type": "api_error"' "$work/r.json" || bad "request $i while the database is down: $st $(cat "$work/r.json")"
done
grep -qi '^Stripe-Should-Retry: true' "$work/h.txt" || bad "no Stripe-Should-Retry on a 503"
grep -qi '^Request-Id: req_' "$work/h.txt" || bad "no Request-Id on a 503"
echo "   503: $(tr -d '\n' <"$work/r.json")"
kill -0 "$gw_pid" || bad "the gateway died with the database"
"$PR_BIN/pg_ctl" -D "$PR_DATA" -l "$PR_LOG" -w start >/dev/null || bad "cannot restart the server"
ok=
for i in $(seq 20); do
    [ "$(get '/v1/payment_records?limit=1' "$work/r.json")" = 200 ] && { ok=1; break; }
    sleep 0.5
done
[ -n "$ok" ] && echo "   200 again after $i attempt(s)" || bad "the gateway did not reconnect"
# its connections terminated under it: one 503 at most, then 200
psql -X -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'gw_login'" >/dev/null
ok=
for i in $(seq 20); do
    st=$(get '/v1/payment_records?limit=1' "$work/r.json")
    [ "$st" = 200 ] && { ok=1; break; }
    [ "$st" = 503 ] || bad "after pg_terminate_backend: $st"
    sleep 0.3
done
[ -n "$ok" ] || bad "the gateway did not reconnect after pg_terminate_backend"

note "SIGTERM: the in-flight request finishes, then the gateway exits 0"
stop_gateway || bad "the gateway did not exit 0 on SIGTERM"
start_gateway
hold "$id" 2
post "/v1/payment_records/$id/report_refund" "$refund" "$work/inflight.json" >"$work/inflight.status" &
client=$!
sleep 0.3
kill -TERM "$gw_pid"
sleep 0.3
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u "$SK_TEST:" "$(url /v1/payment_records)")
[ "$st" = 000 ] || bad "a new connection was accepted while draining ($st)"
wait "$client"
[ "$(cat "$work/inflight.status")" = 200 ] || bad "the in-flight request: $(cat "$work/inflight.status") $(cat "$work/inflight.json")"
grep -q '"amount_refunded": {"value": 300,' "$work/inflight.json" || bad "the in-flight refund: $(cat "$work/inflight.json")"
wait "$gw_pid"; rc=$?; gw_pid=
[ $rc = 0 ] || bad "the gateway exited $rc after SIGTERM"
wait "$holder"
grep -q "finishing 1 in-flight request" "$work/gateway.log" && grep -q "stopped" "$work/gateway.log" \
    || bad "no drain in the gateway log"
echo "   $(grep -c 'report_refund 200' "$work/gateway.log") refund(s) answered 200; exit status $rc"

note "SIGTERM, and the drain time runs out with a request in the database: 503, exit 0"
# (libmicrohttpd aborts when stopped with a suspended connection)
start_gateway --drain 1 --statement-timeout 8000
psql -X -q -c "BEGIN" -c "UPDATE payment_records.payment_record SET amount = amount WHERE id = '$id'" \
    -c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null &
holder=$!
sleep 0.5
t0=$(date +%s%N)
curl -s -D "$work/h.txt" -o "$work/late.json" -w '%{http_code}' -u "$SK_TEST:" -H 'Idempotency-Key: late-refund-1' \
    "$(url "/v1/payment_records/$id/report_refund")" -d "$refund" >"$work/late.status" &
client=$!
sleep 0.5
kill -TERM "$gw_pid"
wait "$gw_pid"; rc=$?; gw_pid=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$client"
echo "   exit status $rc after $ms ms; the request: $(cat "$work/late.status") $(tr -d '\n' <"$work/late.json")"
[ $rc = 0 ] || bad "the gateway exited $rc (not 0) when the drain time ran out"
grep -q "MHD_stop_daemon\|suspended connections" "$work/gateway.log" && bad "libmicrohttpd complained: $(grep -m1 suspended "$work/gateway.log")"
[ "$(cat "$work/late.status")" = 503 ] && grep -q '"type": "api_error"' "$work/late.json" \
    && grep -q '"message": "The service is shutting down' "$work/late.json" \
    || bad "the request in the database at the end of the drain: not a Stripe-shaped 503"
grep -qi '^Request-Id: req_' "$work/h.txt" || bad "no Request-Id on the 503 at shutdown"
grep -q "drain time is up: canceling 1 request" "$work/gateway.log" || bad "no log line for the canceled request"
[ "$ms" -lt 4500 ] || bad "the gateway took $ms ms to stop (--drain 1)"
wait "$holder"
start_gateway
[ "$(get "/v1/payment_records/$id" "$work/r.json")" = 200 ] || bad "the record after the canceled refund"
grep -q '"amount_refunded": {"value": 300,' "$work/r.json" || bad "the canceled refund was written: $(cat "$work/r.json")"
stop_gateway || bad "the gateway did not exit 0 on SIGTERM"

note "SIGTERM while the database does not answer at all: 503 (outcome unknown), exit 0"
# a "server" that accepts the connection and never says a word
node -e "const s = require('net').createServer(() => {}).listen(0, '127.0.0.1', () => console.log(s.address().port)); setTimeout(() => process.exit(0), 20000)" >"$work/mute.port" &
mute=$!
for _ in $(seq 50); do [ -s "$work/mute.port" ] && break; sleep 0.1; done
start_gateway --drain 1 --conninfo "host=127.0.0.1 port=$(cat "$work/mute.port") dbname=x user=gw_login password=x connect_timeout=10"
curl -s -o "$work/mute.json" -w '%{http_code}' -u "$SK_TEST:" "$(url /v1/payment_records)" >"$work/mute.status" &
client=$!
sleep 0.5
kill -TERM "$gw_pid"
wait "$gw_pid"; rc=$?; gw_pid=
wait "$client"
echo "   exit status $rc; the request: $(cat "$work/mute.status") $(tr -d '\n' <"$work/mute.json")"
[ $rc = 0 ] || bad "the gateway exited $rc (not 0) with a database that does not answer"
[ "$(cat "$work/mute.status")" = 503 ] && grep -q '"type": "api_error"' "$work/mute.json" \
    && grep -q 'outcome is unknown' "$work/mute.json" || bad "the request at the end of the drain: not a Stripe-shaped 503"
grep -q "1 request(s) still in the database answered 503" "$work/gateway.log" || bad "no log line for the abandoned request"
kill "$mute" 2>/dev/null; wait "$mute" 2>/dev/null
