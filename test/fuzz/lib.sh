# test/fuzz/lib.sh: helpers shared by test/fuzz/run.sh and test/sanitize.sh.
# Source it (as root); every helper exits the script on failure.
#
# Why a private PostgreSQL tree instead of `make install` + pg_virtualenv:
# these scripts load special builds of the extension (UBSan/ASan, assertions,
# a probe function).  Installing those into /usr/lib/postgresql/15/lib would
# replace the extension under every other cluster on the machine (and a
# concurrent `make install` would replace ours in the middle of a run).
# PostgreSQL is relocatable: a copy of the stock Debian binaries placed at
# $tree/lib/postgresql/15/bin finds its share and lib directories at
# $tree/share/postgresql/15 and $tree/lib/postgresql/15/lib, so the build
# is installed there and nowhere else, and the server is the stock one.
#
#   pr_tree_new            -> sets PR_TREE (a private copy of the stock server)
#   pr_stage SRC           -> sets PR_STAGE (postgres-owned copy of SRC)
#   pr_build FLAGS...      -> make in PR_STAGE with FLAGS, install into PR_TREE
#   pr_cluster_start [ENV=VAL...] -> initdb + start; sets PR_DATA, PR_LOG,
#                             PGHOST, PGPORT, PGUSER (exported)
#   pr_cluster_stop        -> stop (immediate) the cluster
#   pr_cleanup             -> stop and remove everything made above
#   pr_as_postgres CMD...  -> CMD as postgres with PG* exported
#   pr_asan_preload        -> prints LD_PRELOAD=... for a server that loads
#                             an ASan build (see asan_first.c)

PR_FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PR_PGVER=15
PR_SYS_BIN=/usr/lib/postgresql/$PR_PGVER/bin
PR_TREE= PR_STAGE= PR_DATA= PR_LOG= PR_SOCK=

pr_die() { echo "ERROR: $*" >&2; exit 2; }

pr_tree_new() {
    PR_TREE=$(mktemp -d /tmp/pr_pgtree.XXXXXX)
    mkdir -p "$PR_TREE/lib/postgresql" "$PR_TREE/share/postgresql"
    # real copies: postgres resolves symlinks to find its own location
    cp -a /usr/lib/postgresql/$PR_PGVER "$PR_TREE/lib/postgresql/" || pr_die "copy of the server failed"
    rm -rf "$PR_TREE/lib/postgresql/$PR_PGVER/lib/bitcode"	# JIT bitcode: not needed
    cp -a /usr/share/postgresql/$PR_PGVER "$PR_TREE/share/postgresql/" || pr_die "copy of share failed"
    rm -f "$PR_TREE"/share/postgresql/$PR_PGVER/extension/payment_records*
    rm -f "$PR_TREE"/lib/postgresql/$PR_PGVER/lib/payment_records.so
    chmod 755 "$PR_TREE"
    local share
    share=$("$PR_TREE/lib/postgresql/$PR_PGVER/bin/pg_config" --sharedir)
    [ "$share" = "$PR_TREE/share/postgresql/$PR_PGVER" ] \
        || pr_die "the server copy does not relocate (sharedir=$share)"
}

# pr_stage SRC: copy the source tree (without build products) to a fresh
# postgres-owned directory
pr_stage() {
    local src=$1
    PR_STAGE=$(mktemp -d /tmp/payment_records_fuzz.XXXXXX)
    tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=output_regress --exclude=output_iso --exclude=tmp_check \
        --exclude=results -cf - . | tar -C "$PR_STAGE" -xf -
    chmod 755 "$PR_STAGE"
}

# pr_build MAKEVAR=VALUE...: build PR_STAGE with the stock pg_config (same
# headers), then copy what `make install` would install into PR_TREE.
pr_build() {
    local dest=$PR_STAGE/.destdir
    make -s -C "$PR_STAGE" clean >/dev/null 2>&1
    make -s -C "$PR_STAGE" "$@" >&2 || pr_die "build failed ($*)"
    rm -rf "$dest"
    make -s -C "$PR_STAGE" "$@" install DESTDIR="$dest" >&2 || pr_die "install into $dest failed"
    cp "$dest"/usr/lib/postgresql/$PR_PGVER/lib/*.so "$PR_TREE/lib/postgresql/$PR_PGVER/lib/" \
        || pr_die "no shared library was built"
    cp "$dest"/usr/share/postgresql/$PR_PGVER/extension/* "$PR_TREE/share/postgresql/$PR_PGVER/extension/" \
        || pr_die "no extension files were built"
    chown -R postgres: "$PR_STAGE"
}

pr_asan_preload() {
    local asan
    asan=$(gcc -print-file-name=libasan.so)
    gcc -shared -fPIC -Wl,-z,initfirst -o "$PR_TREE/asan_first.so" "$PR_FUZZ_DIR/asan_first.c" \
        -Wl,--no-as-needed "$asan" || pr_die "cannot build asan_first.so"
    echo "LD_PRELOAD=$asan $PR_TREE/asan_first.so"
}

pr_as_postgres() {
    runuser -u postgres -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
        PGDATABASE="${PGDATABASE:-postgres}" PATH="$PR_SYS_BIN:$PATH" "$@"
}

# pr_cluster_start [VAR=VALUE...]: a throwaway cluster on a Unix socket only;
# the VAR=VALUE pairs are put in the server's environment (and only there).
pr_cluster_start() {
    local bin=$PR_TREE/lib/postgresql/$PR_PGVER/bin
    PR_DATA=$PR_TREE/data PR_LOG=$PR_TREE/server.log PR_SOCK=$PR_TREE/sock
    mkdir -p "$PR_SOCK" && chown postgres: "$PR_SOCK" "$PR_TREE"
    export PGHOST=$PR_SOCK PGPORT=5432 PGUSER=postgres
    runuser -u postgres -- "$bin/initdb" -D "$PR_DATA" -E UTF8 --locale=C -A trust \
        -U postgres >"$PR_TREE/initdb.log" 2>&1 || { cat "$PR_TREE/initdb.log"; pr_die "initdb failed"; }
    cat >>"$PR_DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PR_SOCK'
port = $PGPORT
fsync = off
synchronous_commit = on	# a backend crash must not lose what was committed
full_page_writes = off
max_connections = 30
max_prepared_transactions = 10
shared_buffers = 64MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
restart_after_crash = on
EOF
    runuser -u postgres -- env "$@" "$bin/pg_ctl" -D "$PR_DATA" -l "$PR_LOG" -w -t 60 start \
        >/dev/null || { tail -n 30 "$PR_LOG"; pr_die "server did not start"; }
}

pr_cluster_stop() {
    [ -n "$PR_DATA" ] && [ -f "$PR_DATA/postmaster.pid" ] &&
        runuser -u postgres -- "$PR_TREE/lib/postgresql/$PR_PGVER/bin/pg_ctl" -D "$PR_DATA" \
            -m immediate -w stop >/dev/null 2>&1
    return 0
}

pr_cleanup() {
    pr_cluster_stop
    [ -n "${PR_KEEP:-}" ] && { echo "kept: $PR_TREE $PR_STAGE" >&2; return 0; }
    [ -n "$PR_TREE" ] && rm -rf "$PR_TREE"
    [ -n "$PR_STAGE" ] && rm -rf "$PR_STAGE"
    return 0
}
