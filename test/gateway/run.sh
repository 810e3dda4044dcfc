#!/bin/bash
# test/gateway/run.sh: the HTTP gateway (src/gateway/) end to end, as root
# on Debian 12.  Installs what is missing (libmicrohttpd-dev, libpq-dev,
# curl, and Debian's nodejs and npm when node or npm is missing), builds the
# extension and payment_records_gateway with -Werror into a private copy of
# the stock server (test/fuzz/lib.sh: a concurrent `make install` elsewhere
# cannot swap the extension under this run), installs the pinned Stripe SDK
# (package-lock.json, npm ci), starts a throwaway cluster, and runs
# inner.sh as postgres: roles and keys, the gateway on 127.0.0.1, the
# official Node SDK suite and the malformed-HTTP suite (node --test), then
# lifecycle.sh (statement timeout, database loss, SIGTERM).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$src/test/fuzz/lib.sh"
trap pr_cleanup EXIT

bash "$src/test/deps.sh" curl procps || exit 1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "== installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || exit 1
fi
echo "== node $(node --version), npm $(npm --version); building"

pr_tree_new
pr_stage "$src"
rm -rf "$PR_STAGE/test/gateway/node_modules"
pr_build PG_CFLAGS=-Werror
gw=$PR_STAGE/src/gateway/payment_records_gateway
if [ -n "${GW_SANITIZE:-}" ]; then
    # GW_SANITIZE=1: the gateway built with ASan and UBSan (not in CI)
    echo "== the gateway under -fsanitize=address,undefined"
    make -s -C "$PR_STAGE" clean-gateway
    make -s -C "$PR_STAGE" src/gateway/payment_records_gateway \
        PG_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >&2 \
        || pr_die "sanitizer build of the gateway failed"
    export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=16
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
[ -x "$gw" ] || pr_die "the gateway was not built"
(cd "$PR_STAGE/test/gateway" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || pr_die "npm ci failed"
chown -R postgres: "$PR_STAGE"
pr_cluster_start
pr_as_postgres env GW_SKIP_NODE="${GW_SKIP_NODE:-}" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" GW_BIN="$gw" PR_BIN="$PR_TREE/lib/postgresql/$PR_PGVER/bin" PR_DATA="$PR_DATA" \
    PR_LOG="$PR_LOG" bash "$PR_STAGE/test/gateway/inner.sh"
