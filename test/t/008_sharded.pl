# test/t/008_sharded.pl: a sharded deployment on one machine (issue 15): a
# router (payment_records_router, PL/Proxy), three shards and a reporting
# database, as separate clusters, set up with the same SQL as
# test/sharded/start.sh (test/sharded/*.sql).
#
#   - routing: ids carry their shard, payments spread over every shard, an
#     idempotency key replays through the router;
#   - concurrent clients through the router (pgbench): refunds racing on
#     records of every shard with a small pool of references, so that the
#     same reference is raced on records of different shards; then every
#     record's refunds stay within its guaranteed amount, every reference
#     is used once across all shards, every acknowledged refund is there;
#   - the reference protocol stopped after each step (a test-only router
#     setting), with the router, the claiming shard or the record's shard
#     killed (stop 'immediate') while a call waits between two steps: no
#     reference used twice, nothing acknowledged lost, a retry completes,
#     reconcile_reference_claims() settles what is left, and a call that
#     resumes after its claim was released is refused;
#   - lists through the router against the reporting database (one node
#     holding every shard's rows), page by page in both directions;
#   - the reporting database converges to the shards' totals; its lag.
#
# PR_SHARDED_CLIENTS and PR_SHARDED_TX size the pgbench run (default 6
# clients x 60 calls); larger values make the long version.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $clients = env_int('PR_SHARDED_CLIENTS', 6);
my $txs     = env_int('PR_SHARDED_TX',      60);
my $setup   = "$FindBin::RealBin/../sharded";
my $small   = "shared_buffers = 16MB\nmax_connections = 30\nlog_statement = none\n";

# a small cluster of the deployment
sub new_node
{
	my ($name, $conf) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init(allows_streaming => 'logical');
	$n->append_conf('postgresql.conf', $small . ($conf // ''));
	$n->start;
	return $n;
}

# psql -f one of test/sharded/*.sql with variables, as the superuser
sub run_setup
{
	my ($node, $file, %vars) = @_;
	my @v = map { ('-v', "$_=$vars{$_}") } sort keys %vars;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', @v, '-d', $node->connstr('postgres'),
		  '-f', "$setup/$file" ],
		'>', \$out, '2>', \$err);
	die "$file on " . $node->name . " failed: $err" unless $ok;
}

my @shards = map { new_node("shard$_") } 0 .. 2;
run_setup($shards[$_], 'shard.sql', shard => $_) for 0 .. 2;
my $router = new_node('router');
my $partitions = join(', ',
	map { "p$_ '" . $shards[$_]->connstr('postgres') =~ s/'//gr . "'" } 0 .. 2);
run_setup($router, 'router.sql', partitions => $partitions);
my $reporting = new_node('reporting');
run_setup($reporting, 'reporting.sql');
run_setup($reporting, 'subscribe.sql', shard => $_,
	conn => $shards[$_]->connstr('postgres') =~ s/'//gr)
  for 0 .. 2;

# SQL through the router as the test-mode application role
sub r
{
	my ($sql, %o) = @_;
	return $router->safe_psql('postgres', "SET ROLE app;\n$sql", %o);
}
# the same, expecting an error: returns stderr
sub r_err
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $router->psql('postgres', "SET ROLE app;\n$sql");
	return $ret == 0 ? '' : $err;
}
sub on_all_shards
{
	my ($sql) = @_;
	return join("\n", grep { $_ ne '' } map { $_->safe_psql('postgres', $sql) } @shards);
}

my $pay = q('{"amount_requested": {"currency": "usd", "value": 1000}, "initiated_at": 1730253453,
  "payment_method_details": {"payment_method": "pm_1"}, "outcome": "guaranteed",
  "guaranteed": {"guaranteed_at": 1730253460}}');
sub refund_params
{
	my ($ref, $amount) = @_;
	return qq('{"outcome": "refunded", "processor_details": {"type": "custom",
	  "custom": {"refund_reference": "$ref"}}, "amount": {"currency": "usd", "value": $amount}}');
}
sub shard_of { r("SELECT payment_records_router.shard_of_id('$_[0]')") }
sub claim_shard_of { r("SELECT payment_records_router.claim_shard_of('$_[0]')") }

# --- routing -------------------------------------------------------------
my @ids;
for my $i (1 .. 24)
{
	push @ids, r("SELECT payment_records.report_payment($pay) ->> 'id'");
}
my %per_shard;
$per_shard{ shard_of($_) }++ for @ids;
is(scalar(keys %per_shard), 3, 'payments without a key spread over the three shards');
for my $k (0 .. 2)
{
	my $n = $shards[$k]->safe_psql('postgres',
		"SELECT count(*) FROM payment_records.payment_record
		 WHERE substr(id, 13, 2) = '0$k' AND seq % 4096 = $k");
	is($n, $per_shard{$k}, "shard $k holds exactly the ids and serials stamped with its number");
}
my $k1 = r("SELECT payment_records.report_payment($pay, 'order-1') ->> 'id'");
is(r("SELECT payment_records.report_payment($pay, 'order-1') ->> 'id'"), $k1,
	'a retry with the same idempotency key replays through the router');
like(r_err("SELECT payment_records.report_payment(jsonb_set($pay, '{amount_requested,value}', '999'), 'order-1')"),
	qr/idempotency key was already used/, 'and the key keeps its parameters');

# records by shard, for the races: at least six on each shard
my @by_shard = map { my $k = $_; [ grep { shard_of($_) == $k } @ids ] } 0 .. 2;
for (1 .. 200)
{
	last unless grep { @$_ < 6 } @by_shard;
	my $id = r("SELECT payment_records.report_payment($pay) ->> 'id'");
	push @ids, $id;
	push @{ $by_shard[ shard_of($id) ] }, $id;
}

# --- errors through the router are the node's -----------------------------
# SQLSTATE, message, detail (Stripe code), hint and column (Stripe param) of
# the error a call raises, as the application sees them
sub err_fields
{
	my ($node, $call) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{SET ROLE app;
DO \$d\$ DECLARE a text; b text; c text; d text; e text;
BEGIN
    PERFORM $call;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS a = RETURNED_SQLSTATE, b = MESSAGE_TEXT, c = PG_EXCEPTION_DETAIL,
                            d = PG_EXCEPTION_HINT, e = COLUMN_NAME;
    RAISE NOTICE 'fields %|%|%|%|%', a, b, c, d, e;
END \$d\$;});
	return $err =~ /fields (.*)/ ? $1 : "no error ($err)";
}
my $R0 = $by_shard[0][0];
for my $call (
	q{payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": -5}}')},
	q{payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 100}, "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}, "outcome": "bogus"}')},
	qq{payment_records.retrieve_payment_record('pr_000000000000000000000000')},
	qq{payment_records.report_refund('$R0', ${\ refund_params('err-ref', 100000)})},
	qq{payment_records.report_refund('$R0', '{"outcome": "refunded", "amount": {"currency": "usd", "value": 100000}}')},
	qq{payment_records.report_payment_attempt_failed('$R0', '{"failed_at": 1730253460}')},
	q{payment_records.to_major(100, 'xyz')})
{
	my $direct = err_fields($shards[0], $call);
	is(err_fields($router, $call), $direct, "the node's error through the router: $direct");
}
unlike(r_err(qq{SELECT payment_records.report_refund('$R0', ${\ refund_params('err-ref', 100000)})}),
	qr/REMOTE ERROR|plproxy/i, 'no PL/Proxy prefix in the message');

# request(): a refund with a reference refused with a key: the refused
# answer is stored under the key (a retry replays it), and the reference
# stays free
my $req_refund = qq{SELECT status || ' ' || body::text FROM payment_records.request('POST',
	'/v1/payment_records/$R0/report_refund', ${\ refund_params('req-refused', 100000)}, 'req-refused-key')};
my $refused = r($req_refund);
like($refused, qr/^400 /, 'request(): a refund over the limit is refused');
is(r($req_refund), $refused, 'request(): its retry replays the same answer');
is($shards[0]->safe_psql('postgres',
	q{SELECT count(*) FROM payment_records.idempotency_key WHERE key = 'req-refused-key'}), '1',
	'request(): the refused answer is stored under the key on the record\'s shard');
is(r(q{SELECT count(*) FROM payment_records.reconcile_reference_claims('0')}), '0',
	'request(): no claim left by the refused refund');
like(r(qq{SELECT payment_records.report_refund('$by_shard[1][0]', ${\ refund_params('req-refused', 10)}) ->> 'id'}),
	qr/^pr_/, 'request(): the reference of the refused refund is free for another record');

# --- concurrent clients ------------------------------------------------------
$router->safe_psql('postgres', q{
CREATE TABLE public.target (n int PRIMARY KEY, id text NOT NULL);
CREATE TABLE public.ack (n int, ref text, amount int, at timestamptz DEFAULT clock_timestamp());
GRANT SELECT ON public.target TO app;
GRANT INSERT ON public.ack TO app;
-- one refund through the router; an acknowledged one is remembered
CREATE FUNCTION public.try_refund(n int, ref int, amount int) RETURNS text
    LANGUAGE plpgsql AS $$
DECLARE
    rid text := (SELECT t.id FROM public.target t WHERE t.n = try_refund.n);
BEGIN
    PERFORM payment_records.report_refund(rid, jsonb_build_object(
        'outcome', 'refunded',
        'processor_details', jsonb_build_object('type', 'custom',
            'custom', jsonb_build_object('refund_reference', 'race-' || ref)),
        'amount', jsonb_build_object('currency', 'usd', 'value', amount)));
    INSERT INTO public.ack VALUES (n, 'race-' || ref, amount);
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
GRANT EXECUTE ON FUNCTION public.try_refund(int, int, int) TO app;
});
# six records, two per shard
my @targets = map { @{$_}[0 .. 1] } @by_shard;
$router->safe_psql('postgres',
	join("\n", map { "INSERT INTO public.target VALUES ($_, '$targets[$_ - 1]');" } 1 .. 6));
my $script = PostgreSQL::Test::Utils::tempdir() . '/race.sql';
PostgreSQL::Test::Utils::append_to_file($script, <<'SQL');
\set n random(1, 6)
\set ref random(1, 40)
\set amount random(50, 300)
SELECT public.try_refund(:n, :ref, :amount);
SQL
my ($pout, $perr);
IPC::Run::run(
	[ 'pgbench', '-n', '-c', $clients, '-j', 2, '-t', $txs, '-f', $script,
	  '-U', 'app', '-h', $router->host, '-p', $router->port, 'postgres' ],
	'>', \$pout, '2>', \$perr) or die "pgbench failed: $perr";
note "pgbench through the router: " . ($pout =~ /(tps = [0-9.]+)/ ? $1 : '?');

my $refunds = on_all_shards(q{
SELECT r.id || ' ' || f.refund_reference || ' ' || f.amount
FROM payment_records.refund f JOIN payment_records.payment_record r ON r.seq = f.record_seq});
my (%ref_uses, %present);
for (split /\n/, $refunds)
{
	my ($id, $ref, $amount) = split / /;
	$ref_uses{$ref}++;
	$present{"$id $ref $amount"} = 1;
}
is(scalar(grep { $ref_uses{$_} > 1 } keys %ref_uses), 0,
	'every reference used once across all shards under races (' . scalar(keys %ref_uses) . ' used)');
my @acks = split /\n/, $router->safe_psql('postgres',
	'SELECT t.id || \' \' || a.ref || \' \' || a.amount FROM public.ack a JOIN public.target t USING (n)');
ok(@acks > 0, scalar(@acks) . ' refunds acknowledged');
is(scalar(grep { !$present{$_} } @acks), 0, 'every acknowledged refund is on its record\'s shard');
is(on_all_shards(q{
SELECT count(*) FROM payment_records.payment_record r
WHERE (SELECT coalesce(max(refunded_total), 0) FROM payment_records.refund f WHERE f.record_seq = r.seq)
      > r.amount OR (SELECT coalesce(sum(amount), 0) FROM payment_records.refund f WHERE f.record_seq = r.seq)
      > r.amount}), "0\n0\n0", 'no record refunded beyond its guaranteed amount');

# --- the reference protocol, stopped between its steps -------------------
# a reference whose claiming shard is not the record's shard (nor, with
# $other, another given shard)
my $refno = 0;
sub pick_ref
{
	my ($record_shard, $avoid) = @_;
	while (1)
	{
		my $ref = 'fault-' . $refno++;
		my $c = claim_shard_of($ref);
		return $ref if $c != $record_shard && (!defined $avoid || $c != $avoid);
	}
}
my ($A, $B) = ($by_shard[0][2], $by_shard[1][2]);     # records on shards 0 and 1

# stopped after step 1 (claimed): the claim holds the reference for A; a
# retry completes it
my $ref = pick_ref(0, 1);
like(r_err("SET payment_records_router.debug_fail_after_step = 1;
	SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)})"),
	qr/stopped after step 1/, 'step 1: the router stops after the claim');
like(r_err("SELECT payment_records.report_refund('$B', ${\ refund_params($ref, 10)})"),
	qr/already been used/, 'step 1: the claimed reference is refused on a record of another shard');
like(r("SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)}) ->> 'id'"),
	qr/^pr_/, 'step 1: a retry of the same refund completes the claim');

# stopped after step 2 (refund written, claim not confirmed), with a key:
# the retry replays the same answer
$ref = pick_ref(0, 1);
like(r_err("SET payment_records_router.debug_fail_after_step = 2;
	SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)}, 'refund-key-2')"),
	qr/stopped after step 2/, 'step 2: the router stops after the refund');
my $first = $shards[0]->safe_psql('postgres',
	"SELECT response FROM payment_records.idempotency_key WHERE key = 'refund-key-2'");
is(r("SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)}, 'refund-key-2')"),
	$first, 'step 2: the retry with the key gives the first answer');
is(on_all_shards("SELECT count(*) FROM payment_records.refund WHERE refund_reference = '$ref'"),
	"1\n0\n0", 'step 2: one refund');

# stopped after step 1, then reconciled: released, fenced; the reference
# is then free for another record, and the first call, resumed late, is refused
$ref = pick_ref(0, 1);
my ($out, $err) = ('', '');
my $late = IPC::Run::start(
	[ 'psql', '-X', '-d', $router->connstr('postgres'), '-c',
	  "SET ROLE app; SET payment_records_router.debug_pause_after_step = 1;
	   SET payment_records_router.debug_pause_seconds = 4;
	   SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)}) ->> 'id'" ],
	'>', \$out, '2>', \$err);
sleep 1.5;
like(r("SELECT outcome FROM payment_records.reconcile_reference_claims('0') WHERE reference = '$ref'"),
	qr/^released$/, 'reconcile releases a claim whose refund does not exist (and fences it)');
like(r("SELECT payment_records.report_refund('$B', ${\ refund_params($ref, 10)}) ->> 'id'"),
	qr/^pr_/, 'the released reference is used on a record of another shard');
$late->finish;
like($err, qr/was released/, 'the paused call resumes and is refused: its claim was released');
is(on_all_shards("SELECT count(*) FROM payment_records.refund WHERE refund_reference = '$ref'"),
	"0\n1\n0", 'the reference is used once');

# kill -9 (immediate stop) of each party while a call waits after a step
sub paused_call
{
	my ($step, $record, $ref, $o, $e) = @_;
	return IPC::Run::start(
		[ 'psql', '-X', '-d', $router->connstr('postgres'), '-c',
		  "SET ROLE app; SET payment_records_router.debug_pause_after_step = $step;
		   SET payment_records_router.debug_pause_seconds = 3;
		   SELECT payment_records.report_refund('$record', ${\ refund_params($ref, 10)}) ->> 'id'" ],
		'>', $o, '2>', $e);
}
for my $case (
	[ 'router',          1 ], [ 'router',          2 ],
	[ "record's shard",  1 ], [ "record's shard",  2 ],
	[ 'claiming shard',  1 ], [ 'claiming shard',  2 ])
{
	my ($who, $step) = @$case;
	my $ref = pick_ref(0, 1);
	my $victim = $who eq 'router' ? $router
	  : $who eq "record's shard" ? $shards[0] : $shards[ claim_shard_of($ref) ];
	my ($o, $e) = ('', '');
	my $h = paused_call($step, $A, $ref, \$o, \$e);
	sleep 1.2;
	$victim->stop('immediate');
	$h->finish;
	$victim->start;
	my $acked = $o =~ /^pr_/m;
	# the reference must not be usable on another record while A may hold it
	my $b_err = r_err("SELECT payment_records.report_refund('$B', ${\ refund_params($ref, 10)})");
	my $uses_a = $shards[0]->safe_psql('postgres',
		"SELECT count(*) FROM payment_records.refund WHERE refund_reference = '$ref'");
	ok(!$acked || $uses_a == 1, "$who killed after step $step: an acknowledged refund is there");
	if ($uses_a == 1)
	{
		like($b_err, qr/already been used/, "$who killed after step $step: reference kept by the refund");
	}
	# settle, then retry on A: exactly one use in all
	r("SELECT count(*) FROM payment_records.reconcile_reference_claims('0')");
	r_err("SELECT payment_records.report_refund('$A', ${\ refund_params($ref, 10)})");
	my $total = on_all_shards("SELECT count(*) FROM payment_records.refund WHERE refund_reference = '$ref'");
	my $sum = 0;
	$sum += $_ for split /\n/, $total;
	is($sum, 1, "$who killed after step $step: the reference is used exactly once");
	is(r("SELECT count(*) FROM payment_records.reconcile_reference_claims('0')"), '0',
		"$who killed after step $step: no claim left pending");
}

# --- kill -9 under load -------------------------------------------------------
# Clients (separate psql connections through the router, one per call)
# report refunds with references from a pool, on six records (two per
# shard), each call pausing after a random step of the reference protocol
# (none, 1 or 2; its application_name says which, and the record's and the
# claim's shards), and keyed payments, retried with the same key until
# answered.  Meanwhile the router, then a record's shard, then a claiming
# shard are killed with SIGKILL (postmaster and every backend) while a
# call waits after step 1, and again after step 2, and restarted.  Then:
# every acknowledged refund and payment is on its shard, no reference is
# used twice, no record is refunded past its amount, one stored answer per
# key, and reconcile_reference_claims settles every claim left behind.
# PR_SHARDED_FAULT_ROUNDS repeats the six kills (the long version).
my $fault_rounds  = env_int('PR_SHARDED_FAULT_ROUNDS',  1);
my $fault_clients = env_int('PR_SHARDED_FAULT_CLIENTS', 4);
# the pool of references and the records' amounts grow with the rounds, so
# that refunds keep passing every step until the end
my $big = q('{"amount_requested": {"currency": "usd", "value": ) . (3000 * $fault_rounds) . q(}, "initiated_at": 1730253453,
  "payment_method_details": {"payment_method": "pm_1"}, "outcome": "guaranteed",
  "guaranteed": {"guaranteed_at": 1730253460}}');
my @load_by_shard = ([], [], []);
for (1 .. 200)
{
	last unless grep { @$_ < 2 } @load_by_shard;
	my $id = r("SELECT payment_records.report_payment($big) ->> 'id'");
	push @{ $load_by_shard[ shard_of($id) ] }, $id;
}
my @load_ids = map { @{$_}[0 .. 1] } @load_by_shard;
my $nrefs = 200 * $fault_rounds;
my @ref_claim = split / /, r("SELECT string_agg(payment_records_router.claim_shard_of('load-' || g)::text,
	' ' ORDER BY g) FROM generate_series(0, $nrefs) g");
my $ldir = PostgreSQL::Test::Utils::tempdir();
PostgreSQL::Test::Utils::append_to_file("$ldir/maps.sh",
	'ids=(' . join(' ', @load_ids) . ")\n"
	  . 'rshard=(' . join(' ', map { shard_of($_) } @load_ids) . ")\n"
	  . 'cshard=(' . join(' ', @ref_claim) . ")\n" . "nrefs=$nrefs\nmaxcalls=" . (3000 * $fault_rounds) . "\n");
PostgreSQL::Test::Utils::append_to_file("$ldir/load.sh", <<'SH');
# load.sh CONNSTR CLIENT OUT DIR: calls through the router until DIR/stop
conn=$1; c=$2; out=$3; dir=$4
source "$dir/maps.sh"
pay='{"amount_requested": {"currency": "usd", "value": 500}, "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}}'
i=0
while [ ! -e "$dir/stop" ] && [ $i -lt $maxcalls ]; do
    i=$((i + 1))
    if [ $((RANDOM % 4)) = 0 ]; then
        key="load-$c-$i"; tries=0; r=
        while [ $tries -lt 40 ]; do
            tries=$((tries + 1))
            r=$(psql -X -At -d "$conn application_name=load-pay" \
                -c "SET ROLE app" -c "SELECT payment_records.report_payment('$pay', '$key') ->> 'id'" 2>/dev/null | tail -1)
            case $r in pr_*) break ;; esac
            r=none; sleep 0.25
        done
        echo "pay $key $r $tries" >>"$out"
    else
        n=$((RANDOM % 6)); ref=$((RANDOM % nrefs + 1)); amt=$((RANDOM % 100 + 20)); step=$((RANDOM % 3))
        r=$(psql -X -At -d "$conn application_name=s${step}r${rshard[$n]}c${cshard[$ref]}" \
            -c "SET ROLE app" -c "SET payment_records_router.debug_pause_after_step = $step" \
            -c "SET payment_records_router.debug_pause_seconds = 0.2" \
            -c "SELECT payment_records.report_refund('${ids[$n]}', '{\"outcome\": \"refunded\", \"processor_details\": {\"type\": \"custom\", \"custom\": {\"refund_reference\": \"load-$ref\"}}, \"amount\": {\"currency\": \"usd\", \"value\": $amt}}') ->> 'id'" 2>&1 | tr '\n\t' '  ')
        echo "refund ${ids[$n]} load-$ref $amt | $r" >>"$out"
    fi
done
SH

# SIGKILL a node's postmaster and all its processes, as a crash would
sub kill9
{
	my ($node) = @_;
	open my $fh, '<', $node->data_dir . '/postmaster.pid' or die 'no postmaster.pid';
	chomp(my $pm = <$fh>);
	close $fh;
	my @kids;
	for my $p (glob '/proc/[0-9]*')
	{
		open my $st, '<', "$p/stat" or next;
		my $line = <$st>;
		close $st;
		push @kids, $1 if defined $line && $line =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $pm;
	}
	kill 'KILL', $pm, @kids;
	for (1 .. 100)
	{
		last unless grep { kill 0, $_ } $pm, @kids;
		sleep 0.05;
	}
	$node->_update_pid(-1);
}

my $conn = $router->connstr('postgres');
my @clients = map {
	IPC::Run::start([ 'bash', "$ldir/load.sh", $conn, $_, "$ldir/out.$_", $ldir ],
		'>', '/dev/null', '2>', "$ldir/err.$_")
} 1 .. $fault_clients;
my %hit;
for my $round (1 .. $fault_rounds)
{
	for my $case (
		[ 'router', 1 ], [ 'router', 2 ],
		[ "record's shard", 1 ], [ "record's shard", 2 ],
		[ 'claiming shard', 1 ], [ 'claiming shard', 2 ])
	{
		my ($who, $step) = @$case;
		# a call waiting after this step, whose record and claim are on
		# different shards
		my ($app, $rs, $cs);
		for (1 .. 200)
		{
			my ($ret, $o) = $router->psql('postgres', qq{
SELECT application_name FROM pg_stat_activity
WHERE application_name ~ '^s${step}r[0-9]c[0-9]\$' AND wait_event = 'PgSleep'
  AND substr(application_name, 4, 1) <> substr(application_name, 6, 1) LIMIT 1});
			if ($ret == 0 && $o =~ /^s\dr(\d)c(\d)$/) { ($app, $rs, $cs) = ($o, $1, $2); last; }
			sleep 0.05;
		}
		next unless defined $app;
		my $victim = $who eq 'router' ? $router : $who eq "record's shard" ? $shards[$rs] : $shards[$cs];
		kill9($victim);
		sleep 0.3;
		$victim->start;
		$hit{"$who $step"}++;
		note "round $round: $who killed (SIGKILL) while a call waited after step $step ($app)";
		sleep 0.7;
	}
}
sleep 1;
PostgreSQL::Test::Utils::append_to_file("$ldir/stop", '');
$_->finish for @clients;
is(scalar(keys %hit), 6, 'under load: each of the three parties killed after step 1 and after step 2 ('
	  . join(', ', map { "$_: $hit{$_}" } sort keys %hit) . ')');

my @lines = map { split /\n/, slurp_file("$ldir/out.$_") } grep { -e "$ldir/out.$_" } 1 .. $fault_clients;
# acknowledged: the call printed its refund's id and no error
my @acked_refunds = grep { /^refund \S+ \S+ \d+ \|.*\bpr_[0-9A-Za-z]{24}\s*$/ && !/ERROR|FATAL|error:/ } @lines;
my %is_acked = map { $_ => 1 } @acked_refunds;
my @acked_pays = grep { /^pay \S+ pr_/ } @lines;
my %why;
for (grep { /^refund / && !$is_acked{$_} } @lines)
{
	my $r = (split / \| /, $_, 2)[1] // '';
	$why{ $r =~ /already been used/ ? 'reference already used'
		: $r =~ /exceeds|amount_too_large/ ? 'over the limit'
		: $r =~ /connection to server was lost|server closed the connection|terminating connection|REMOTE ERROR|Is the server running|connection refused|could not connect|No such file|PQconnect|stale conn/i ? 'failed by a kill'
		: 'other: ' . substr($r, 0, 100) }++;
}
note scalar(@lines) . ' calls under load: ' . scalar(@acked_refunds) . ' refunds and '
  . scalar(@acked_pays) . ' keyed payments acknowledged; refunds refused or failed: '
  . join(', ', map { "$_ $why{$_}" } sort keys %why)
  . '; keyed payment attempts: ' . eval { my $t = 0; $t += (split / /)[3] for @acked_pays; $t };
ok(@acked_refunds > 0 && @acked_pays > 0, 'under load: refunds and keyed payments acknowledged');
ok(!grep({ /^pay \S+ none/ } @lines), 'under load: every keyed payment answered in the end (retried with its key)');
# every claim left behind settles
r("SELECT count(*) FROM payment_records.reconcile_reference_claims('0')");
is(r("SELECT count(*) FROM payment_records.reconcile_reference_claims('0')"), '0',
	'under load: reconcile_reference_claims settled every claim left behind');
my %load_refunds;
my %load_ref_uses;
for (split /\n/, on_all_shards(q{
SELECT r.id || ' ' || f.refund_reference || ' ' || f.amount
FROM payment_records.refund f JOIN payment_records.payment_record r ON r.seq = f.record_seq
WHERE f.refund_reference LIKE 'load-%'}))
{
	my ($id, $ref, $amount) = split / /;
	$load_refunds{"$id $ref $amount"}++;
	$load_ref_uses{$ref}++;
}
is(scalar(grep { $load_ref_uses{$_} > 1 } keys %load_ref_uses), 0,
	'under load: no reference used twice (' . scalar(keys %load_ref_uses) . ' used)');
is(scalar(grep { my ($x, $id, $ref, $amt) = split / /; !$load_refunds{"$id $ref $amt"} } @acked_refunds), 0,
	'under load: every acknowledged refund is on its record\'s shard');
my %pay_ids = map { (split / /)[1] => (split / /)[2] } @acked_pays;
my %stored;
for (split /\n/, on_all_shards(q{
SELECT k.key || ' ' || count(*) FROM payment_records.idempotency_key k WHERE k.key LIKE 'load-%' GROUP BY k.key}))
{
	my ($k, $n) = split / /;
	$stored{$k} += $n;
}
is(scalar(grep { ($stored{$_} // 0) != 1 } keys %pay_ids), 0,
	'under load: one stored answer per acknowledged key, on one shard');
is(scalar(grep { $_ > 1 } values %stored), 0, 'under load: no key ran on two shards');
is(scalar(grep { r("SELECT payment_records.report_payment('{\"amount_requested\": {\"currency\": \"usd\", \"value\": 500}, \"initiated_at\": 1730253453, \"payment_method_details\": {\"payment_method\": \"pm_1\"}}', '$_') ->> 'id'") ne $pay_ids{$_} } grep { defined } (sort keys %pay_ids)[0 .. 4]),
	0, 'under load: a retry of an acknowledged keyed payment replays it');
is(on_all_shards(q{
SELECT count(*) FROM payment_records.payment_record r
WHERE (SELECT coalesce(sum(amount), 0) FROM payment_records.refund f WHERE f.record_seq = r.seq) > r.amount}),
	"0\n0\n0", 'under load: no record refunded beyond its amount');

# every claim left confirmed matches a refund on its record's shard
is(r("SELECT count(*) FROM payment_records.reconcile_reference_claims('0')"), '0',
	'nothing left to reconcile');

# --- lists through the router against one node with all the rows ---------
my $expect_records = 0;
$expect_records += $_ for split /\n/, on_all_shards('SELECT count(*) FROM payment_records.payment_record');
my $t0 = time;
$reporting->poll_query_until('postgres',
	"SELECT count(*) = $expect_records FROM payment_records.payment_record")
  or die 'the reporting database did not catch up';

# every page (limit 7) from a first page, following has_more: one line per
# page, its ids and has_more; forwards with starting_after from the top,
# backwards with ending_before from the oldest record
sub pages
{
	my ($node, $dir, $first) = @_;
	my $next = $dir eq 'starting_after' ? "page -> 'data' -> -1 ->> 'id'" : "page -> 'data' -> 0 ->> 'id'";
	return $node->safe_psql('postgres', "SET ROLE app;" . qq{
WITH RECURSIVE p(n, page) AS (
    SELECT 1, payment_records.list_payment_records('$first'::jsonb)
    UNION ALL
    SELECT n + 1, payment_records.list_payment_records(jsonb_build_object('limit', 7, '$dir', $next))
    FROM p WHERE (page ->> 'has_more')::boolean)
SELECT string_agg((SELECT string_agg(e ->> 'id', ',') FROM jsonb_array_elements(page -> 'data') e)
                  || ' ' || (page ->> 'has_more'), E'\\n' ORDER BY n) FROM p});
}
my $fwd = pages($router, 'starting_after', '{"limit": 7}');
is($fwd, pages($reporting, 'starting_after', '{"limit": 7}'),
	'starting_after: every page through the router equals the single node\'s');
my $oldest = $reporting->safe_psql('postgres',
	"SELECT id FROM payment_records.payment_record WHERE NOT livemode ORDER BY created, seq LIMIT 1");
my $bwd = pages($router, 'ending_before', qq({"limit": 7, "ending_before": "$oldest"}));
is($bwd, pages($reporting, 'ending_before', qq({"limit": 7, "ending_before": "$oldest"})),
	'ending_before: every page through the router equals the single node\'s');
my $n_back = () = $bwd =~ /pr_/g;
is($n_back, $expect_records - 1, 'backwards from the oldest: every other record once');
my $n_ids = () = $fwd =~ /pr_/g;
is($n_ids, $expect_records, 'the pages hold every record once');

# a reader lists and retrieves through the router, and writes nothing
is($router->safe_psql('postgres', "SET ROLE app_reader;
	SELECT payment_records.list_payment_records('{\"limit\": 1}') ->> 'object'"), 'list',
	'a reader lists through the router');
my ($rret, $rout, $rerr) = $router->psql('postgres',
	"SET ROLE app_reader; SELECT payment_records.report_payment($pay)");
like($rerr, qr/permission denied/, 'a reader cannot report a payment through the router');

# --- reporting -----------------------------------------------------------
my $totals = q{SELECT currency || ' ' || sum(payments) || ' ' || sum(gross_guaranteed) || ' ' || sum(refunded)
  FROM payment_records.daily_summary GROUP BY currency ORDER BY currency};
my $n_refunds = 0;
$n_refunds += $_ for split /\n/, on_all_shards('SELECT count(*) FROM payment_records.refund');
$reporting->poll_query_until('postgres',
	"SELECT count(*) = $n_refunds FROM payment_records.refund")
  or die 'refunds did not arrive';
my %sum;
for my $line (split /\n/, on_all_shards($totals))
{
	my ($cur, @v) = split / /, $line;
	$sum{$cur}[$_] += $v[$_] for 0 .. 2;
}
is($reporting->safe_psql('postgres', $totals),
	join("\n", map { join(' ', $_, @{ $sum{$_} }) } sort keys %sum),
	'the reporting database\'s daily_summary is the sum of the shards\'');

# --- adding a shard: new records only; keys and claims stay where they are
my $used_ref = (sort keys %ref_uses)[0];
is($router->safe_psql('postgres',
	'SELECT key_shards || \' \' || claim_shards FROM payment_records_router.settings'),
	'3 3', 'router.sql fixed key_shards and claim_shards at the shard count');
# keyed payments made before the shard is added, retried after it
my %keyed;
for my $i (1 .. 12)
{
	$keyed{"grow-$i"} = r("SELECT payment_records.report_payment($pay, 'grow-$i')");
}
my $moved = 0;
for my $k (keys %keyed)
{
	$moved++ if r("SELECT abs(hashtextextended('$k', 0) % 4) <> payment_records_router.key_shard_of('$k')") eq 't';
}
ok($moved > 0, "$moved of the 12 keys would move if keys hashed over 4 shards");
my $shard3 = new_node('shard3');
run_setup($shard3, 'shard.sql', shard => 3);
push @shards, $shard3;
run_setup($reporting, 'subscribe.sql', shard => 3, conn => $shard3->connstr('postgres') =~ s/'//gr);
$router->safe_psql('postgres', "ALTER SERVER payment_records_shards OPTIONS (ADD p3 '"
	  . ($shard3->connstr('postgres') =~ s/'//gr) . "')");
is(r('SELECT payment_records_router.shard_count()'), '4', 'a fourth shard added');
is(scalar(grep { r("SELECT payment_records.report_payment($pay, '$_')") ne $keyed{$_} } sort keys %keyed),
	0, 'a retry of a keyed payment made before the shard was added gives the same answer');
is(scalar(grep { r("(SELECT status || ' ' || (body ->> 'id') FROM payment_records.request('POST',
	'/v1/payment_records/report_payment', $pay, '$_'))") ne '200 ' . ($keyed{$_} =~ s/.*"id": "([^"]+)".*/$1/sr) }
	sort keys %keyed), 0, 'the same through request()');
my $stored = 0;
$stored += $_ for split /
/, on_all_shards(
	q{SELECT count(*) FROM payment_records.idempotency_key WHERE key LIKE 'grow-%'});
is($stored, 12, 'one stored answer per key across the four shards: no call ran twice');
is($shard3->safe_psql('postgres', q{SELECT count(*) FROM payment_records.idempotency_key}), '0',
	'the new shard takes no keyed payment');
my %spread;
$spread{ shard_of(r("SELECT payment_records.report_payment($pay) ->> 'id'")) }++ for 1 .. 24;
ok($spread{3}, 'new payments land on the new shard too');
is(r("SELECT payment_records.retrieve_payment_record('$ids[0]') ->> 'id'"), $ids[0],
	'records made before are found where they are');
like(r_err("SELECT payment_records.report_refund('$by_shard[2][3]', ${\ refund_params($used_ref, 10)})"),
	qr/already been used/, 'a reference used before the shard was added is still refused');
my $new_rec = $shard3->safe_psql('postgres', 'SELECT id FROM payment_records.payment_record LIMIT 1');
my $new_ref = 'after-growth';
like(r("SELECT payment_records.report_refund('$new_rec', ${\ refund_params($new_ref, 10)}) ->> 'id'"),
	qr/^pr_/, 'a refund on the new shard, with a new reference');
like(r_err("SELECT payment_records.report_refund('$ids[0]', ${\ refund_params($new_ref, 10)})"),
	qr/already been used/, 'whose reference is then refused on an old shard');

# --- the HTTP gateway against the router -----------------------------------
my $gw_bin = "$FindBin::RealBin/../../src/gateway/payment_records_gateway";
SKIP:
{
	skip 'the gateway was not built', 9 unless -x $gw_bin;
	my $sk = $router->safe_psql('postgres',
		q{SELECT secret FROM payment_records.create_api_key('app', false)});
	like($sk, qr/^sk_test_/, 'an API key made through the router');
	is($shards[0]->safe_psql('postgres', 'SELECT count(*) FROM payment_records.api_key'), '1',
		'it lives on shard 0, the key shard');
	my $gw_log = PostgreSQL::Test::Utils::tempdir() . '/gateway.log';
	my $gw = IPC::Run::start(
		[ $gw_bin, '--listen', '127.0.0.1', '--port', '0', '--pool', '2',
		  '--conninfo', $router->connstr('postgres') . ' user=app_gateway' ],
		'>', '/dev/null', '2>', $gw_log);
	my $gw_port;
	for (1 .. 100)
	{
		last if ($gw_port) = slurp_file($gw_log) =~ /listening on 127\.0\.0\.1 port (\d+)/;
		sleep 0.1;
	}
	die 'the gateway did not start: ' . slurp_file($gw_log) unless $gw_port;
	# curl METHOD PATH [FORM] [KEY]: "status body"
	my $http = sub {
		my ($method, $path, $form, $key) = @_;
		my ($out, $err);
		IPC::Run::run(
			[ 'curl', '-s', '-X', $method, '-u', ($key // $sk) . ':',
			  '-w', '\n%{http_code}', (defined $form ? ('-d', $form) : ()),
			  "http://127.0.0.1:$gw_port$path" ],
			'>', \$out, '2>', \$err);
		my ($body, $status) = $out =~ /^(.*)\n(\d+)$/s;
		return ($status // 'none', $body // $err);
	};
	my $form = 'amount_requested[currency]=usd&amount_requested[value]=5000&initiated_at=1730253453'
	  . '&payment_method_details[payment_method]=pm_1&outcome=guaranteed&guaranteed[guaranteed_at]=1730253460';
	my ($st, $body) = $http->('POST', '/v1/payment_records/report_payment', $form);
	is($st, 200, 'HTTP through the router: report_payment');
	my ($gid) = $body =~ /"id": "(pr_[0-9A-Za-z]+)"/;
	my $gshard = shard_of($gid);
	is($shards[$gshard]->safe_psql('postgres',
		"SELECT count(*) FROM payment_records.payment_record WHERE id = '$gid'"), '1',
		'the payment is on the shard its id names');
	my $refund_form = 'outcome=refunded&processor_details[type]=custom'
	  . '&processor_details[custom][refund_reference]=http-ref-1&amount[currency]=usd&amount[value]=700';
	($st, $body) = $http->('POST', "/v1/payment_records/$gid/report_refund", $refund_form);
	is($st, 200, 'HTTP through the router: a refund with a reference');
	is($shards[$gshard]->safe_psql('postgres',
		"SELECT count(*) FROM payment_records.refund WHERE refund_reference = 'http-ref-1'"), '1',
		'the refund is on the record\'s shard');
	($st, $body) = $http->('POST', "/v1/payment_records/$gid/report_refund",
		$refund_form =~ s/http-ref-1/http-ref-2/r =~ s/=700/=9000/r);
	like("$st $body", qr/^400 .*"param": "amount\[value\]"/s,
		'HTTP through the router: a refund over the limit is the node\'s 400 with its param');
	($st, $body) = $http->('GET', "/v1/payment_records/$gid");
	like("$st $body", qr/^200 .*"value": 700/s, 'HTTP through the router: retrieve');
	($st, $body) = $http->('GET', '/v1/payment_records?limit=1', undef, 'sk_test_nosuchkey0000');
	is($st, 401, 'HTTP through the router: an unknown key is refused');
	$gw->signal('TERM');
	$gw->finish;
}

# lag: a write through the router until it is visible on the reporting node
my @lags;
for (1 .. 5)
{
	my $id = r("SELECT payment_records.report_payment($pay) ->> 'id'");
	my $start = time;
	$reporting->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM payment_records.payment_record WHERE id = '$id'")
	  or die 'no replication';
	push @lags, time - $start;
}
@lags = sort { $a <=> $b } @lags;
note sprintf('reporting lag (write acknowledged -> visible on reporting): median %.0f ms, max %.0f ms',
	1000 * $lags[2], 1000 * $lags[-1]);
ok(1, 'lag measured');

$_->stop for $router, $reporting, @shards;
done_testing();
