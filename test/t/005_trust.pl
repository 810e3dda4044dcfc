# test/t/005_trust.pl: the trust boundaries that need a server of their
# own (issue 11).
#
# 1. Two-phase commit: every API write works inside a prepared
#    transaction with the default settings, commits with COMMIT PREPARED
#    and vanishes with ROLLBACK PREPARED; with NOTIFY turned on, PREPARE
#    is refused with PostgreSQL's own error (documented).
# 2. Parallel restore: a dump of 20,000 records (attempts, refunds with
#    references, idempotency keys) restored with pg_restore -j must either
#    give back exactly the dumped data or fail so that nothing is left that
#    the API would trust: no record, attempt, refund or replayable key,
#    and a refund of a dumped record answers "no such record" (1.0 left
#    records without their refunds, and the API then refunded a fully
#    refunded payment a second time).  Tried several times, and serially
#    without --single-transaction too; the documented way (one
#    transaction) restores everything.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $node = pr_new_node('trust', conf => ['max_prepared_transactions = 10']);

# ---------------------------------------------------------------------
# 1. Prepared transactions.
# ---------------------------------------------------------------------

my $pay = payment_json(amount => 1000, outcome => 'guaranteed');
my $pending = payment_json(amount => 1000, outcome => 'pending');
my $ids = $node->safe_psql('postgres', qq{
	SELECT string_agg(payment_records.report_payment('$pending')->>'id', ' ' ORDER BY g)
	FROM generate_series(1, 4) g});
my ($p1, $p2, $p3, $p4) = split / /, $ids;
my $g1 = $node->safe_psql('postgres',
	"SELECT payment_records.report_payment('$pay')->>'id'");

# each write kind, prepared then committed
my %calls = (
	report_payment => "SELECT payment_records.report_payment('$pay', 'tp-key-1')",
	guaranteed => "SELECT payment_records.report_payment_attempt_guaranteed('$p1', '{\"guaranteed_at\": 1730253460}', 'tp-key-2')",
	failed => "SELECT payment_records.report_payment_attempt_failed('$p2', '{\"failed_at\": 1730253460}')",
	canceled => "SELECT payment_records.report_payment_attempt_canceled('$p3', '{\"canceled_at\": 1730253460}')",
	informational => "SELECT payment_records.report_payment_attempt_informational('$p4', '{\"description\": \"2pc\"}')",
	refund => "SELECT payment_records.report_refund('$g1', '"
	  . refund_json(amount => 100, currency => 'usd', reference => 'tp-ref-1') . "', 'tp-key-3')",
	request => "SELECT status FROM payment_records.request('POST', '/v1/payment_records/$g1/report_refund', '"
	  . refund_json(amount => 100, currency => 'usd', reference => 'tp-ref-2') . "')",
);
my $n = 0;
for my $kind (sort keys %calls)
{
	$n++;
	my ($rc, $out, $err) = $node->psql('postgres',
		"BEGIN; $calls{$kind}; PREPARE TRANSACTION 'tp_$n';");
	is($rc, 0, "$kind can be prepared") or diag($err);
	is($node->safe_psql('postgres', "COMMIT PREPARED 'tp_$n'"), '', "$kind: COMMIT PREPARED");
}
is($node->safe_psql('postgres', qq{
	SELECT string_agg(payment_records.retrieve_payment_record(id)->'amount_guaranteed'->>'value', ',' ORDER BY id)
	FROM unnest(ARRAY['$p1', '$p2', '$p3'])  id}),
	join(',', map { $_ eq $p1 ? 1000 : 0 } sort ($p1, $p2, $p3)),
	'the prepared state calls took effect');
is($node->safe_psql('postgres',
	"SELECT payment_records.retrieve_payment_record('$g1')->'amount_refunded'->>'value'"),
	'200', 'both prepared refunds took effect');
is($node->safe_psql('postgres', qq{
	SELECT payment_records.report_refund('$g1', '} . refund_json(amount => 100, currency => 'usd', reference => 'tp-ref-1') . qq{', 'tp-key-3')->'amount_refunded'->>'value'}),
	'100', 'a key stored by a prepared transaction replays its answer (from before the second refund)');

# prepared, then rolled back: nothing stays
my $totals_sql = q{SELECT concat_ws(' ', (SELECT count(*) FROM payment_records.payment_record), (SELECT count(*) FROM payment_records.refund), (SELECT count(*) FROM payment_records.idempotency_key), (SELECT count(*) FROM payment_records.event))};
my $before = $node->safe_psql('postgres',
	$totals_sql);
$node->safe_psql('postgres', "BEGIN; SELECT payment_records.report_payment('$pay', 'tp-key-9'); SELECT payment_records.report_refund('$g1', '" . refund_json(amount => 1, currency => 'usd', reference => 'tp-ref-9') . "'); PREPARE TRANSACTION 'tp_rb';");
$node->safe_psql('postgres', "ROLLBACK PREPARED 'tp_rb'");
is($node->safe_psql('postgres',
	$totals_sql),
	$before, 'ROLLBACK PREPARED leaves nothing behind');

# NOTIFY turned on: PostgreSQL refuses to prepare, and says why
my ($rc, $out, $err) = $node->psql('postgres',
	"SET payment_records.notify_events = on; BEGIN; SELECT payment_records.report_payment('$pay'); PREPARE TRANSACTION 'tp_notify';");
like($err, qr/cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
	'with notify_events on, PREPARE is refused with a clear error');

# ---------------------------------------------------------------------
# 2. Parallel restore.
# ---------------------------------------------------------------------

my $records = env_int('PR_RESTORE_RECORDS', 20000);
$node->safe_psql('postgres', 'CREATE DATABASE dumped');
$node->safe_psql('dumped', 'CREATE EXTENSION payment_records');
# (in transactions of 500 calls: each idempotency key holds a lock to the
# end of its transaction)
$node->safe_psql('dumped', qq{
	DO \$\$
	DECLARE
		r record;
	BEGIN
		FOR g IN 1 .. $records LOOP
			PERFORM payment_records.report_payment(jsonb_build_object(
				'amount_requested', jsonb_build_object('currency', 'usd', 'value', 1000),
				'initiated_at', 1730253453,
				'payment_method_details', jsonb_build_object('payment_method', 'pm_r'))
				|| CASE WHEN g % 10 = 0 THEN '{}'::jsonb
				   ELSE '{"outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}}'::jsonb END,
				CASE WHEN g % 7 = 0 THEN 'restore-key-' || g END);
			IF g % 500 = 0 THEN COMMIT; END IF;
		END LOOP;
		COMMIT;
		-- every guaranteed record refunded in full, in two refunds, one with
		-- a reference, the other under a key
		FOR r IN SELECT p.id, row_number() OVER (ORDER BY p.seq) AS n
				 FROM payment_records.payment_record p
				 JOIN payment_records.payment_attempt_record a
				   ON a.record_seq = p.seq AND a.status = 'guaranteed' LOOP
			PERFORM payment_records.report_refund(r.id, jsonb_build_object('outcome', 'refunded',
				'amount', jsonb_build_object('currency', 'usd', 'value', 400),
				'processor_details', jsonb_build_object('type', 'custom', 'custom',
					jsonb_build_object('refund_reference', 'ref-' || r.id))));
			PERFORM payment_records.report_refund(r.id,
				'{"outcome": "refunded", "processor_details": {"type": "custom"}}', 'full-' || r.id);
			IF r.n % 500 = 0 THEN COMMIT; END IF;
		END LOOP;
	END
	\$\$});
my $counts_sql = q{SELECT (SELECT count(*) FROM payment_records.payment_record) || ' '
	|| (SELECT count(*) FROM payment_records.payment_attempt_record) || ' '
	|| (SELECT count(*) FROM payment_records.refund) || ' '
	|| (SELECT count(*) FROM payment_records.idempotency_key)};
my $dumped = $node->safe_psql('dumped', $counts_sql);
my $guaranteed = $records - int($records / 10);
is($dumped, join(' ', $records, $records, 2 * $guaranteed, int($records / 7) + $guaranteed),
	"dumped database: $records records, their attempts, two refunds per guaranteed record, the keys");
my $victim = $node->safe_psql('dumped', q{
	SELECT r.id FROM payment_records.payment_record r
	JOIN payment_records.payment_attempt_record a ON a.record_seq = r.seq AND a.status = 'guaranteed'
	ORDER BY r.seq LIMIT 1});

my $dir = PostgreSQL::Test::Utils::tempdir;
$node->command_ok(['pg_dump', '-Fc', '-f', "$dir/pr.dump", '-d', $node->connstr('dumped')],
	'custom-format dump');
$node->command_ok(['pg_dump', '-Fd', '-j', '2', '-f', "$dir/pr.dir", '-d', $node->connstr('dumped')],
	'directory-format dump for parallel restore');

# What a restore left: either exactly the dump or nothing the API trusts
# (no extension at all, or empty tables).
sub check_restore
{
	my ($db, $label, $ok) = @_;
	my $installed = $node->safe_psql($db,
		"SELECT count(*) FROM pg_extension WHERE extname = 'payment_records'");
	if (!$ok && $installed eq '0')
	{
		pass("$label: the extension was not installed, so nothing can be trusted");
		return;
	}
	my $counts = $node->safe_psql($db, $counts_sql);
	my $answer = $node->safe_psql($db,
		"SELECT status || ' ' || coalesce(body->'error'->>'code', body->'error'->>'param', body->'amount_refunded'->>'value') FROM payment_records.request('POST', '/v1/payment_records/$victim/report_refund', '{\"outcome\": \"refunded\", \"processor_details\": {\"type\": \"custom\"}}')");
	my $replay = $node->safe_psql($db,
		"SELECT count(*) FROM payment_records.idempotency_key WHERE response IS NOT NULL");
	if ($ok)
	{
		is($counts, $dumped, "$label: every row restored");
		is($answer, '400 charge_already_refunded', "$label: the fully refunded record refuses another refund")
		  or diag($answer);
	}
	else
	{
		is($counts, '0 0 0 0', "$label: nothing the API would trust was left (records, attempts, refunds, keys)");
		like($answer, qr/^404 resource_missing$/, "$label: the dumped record does not exist");
		is($replay, '0', "$label: no stored answer can be replayed");
	}
}

my $tries = env_int('PR_RESTORE_TRIES', 3);
for my $try (1 .. $tries)
{
	my $db = "restored_j$try";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(['pg_restore', '-j', '4', '-d', $node->connstr($db), "$dir/pr.dir"],
		'>', \$stdout, '2>', \$stderr);
	ok(!$ok, "pg_restore -j 4, try $try: fails") or diag($stderr);
	like($stderr, qr/has no payment attempt|violates foreign key|must name an existing payment record|schema "payment_records" already exists/,
		"pg_restore -j 4, try $try: says why");
	check_restore($db, "pg_restore -j 4, try $try", 0);
}

# data only, in parallel, into a database where the extension exists: the
# deferred checks refuse every table that depends on another
for my $try (1 .. $tries)
{
	my $db = "restored_data_j$try";
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION payment_records');
	my ($stdout, $stderr);
	ok(!IPC::Run::run(['pg_restore', '--data-only', '-j', '4', '-d', $node->connstr($db), "$dir/pr.dir"],
		'>', \$stdout, '2>', \$stderr), "pg_restore --data-only -j 4, try $try: fails");
	like($stderr, qr/has no payment attempt/, "pg_restore --data-only -j 4, try $try: a record without its attempt is refused");
	check_restore($db, "pg_restore --data-only -j 4, try $try", 0);
}

# serial, but one transaction per table: fails the same way
$node->safe_psql('postgres', 'CREATE DATABASE restored_serial');
my ($so, $se);
ok(!IPC::Run::run(['pg_restore', '-d', $node->connstr('restored_serial'), "$dir/pr.dump"],
	'>', \$so, '2>', \$se), 'pg_restore without --single-transaction: fails');
check_restore('restored_serial', 'pg_restore without --single-transaction', 0);

# the documented way: one transaction
$node->safe_psql('postgres', 'CREATE DATABASE restored_one');
$node->command_ok(['pg_restore', '--single-transaction', '--exit-on-error',
	'-d', $node->connstr('restored_one'), "$dir/pr.dump"],
	'pg_restore --single-transaction succeeds');
check_restore('restored_one', 'pg_restore --single-transaction', 1);

done_testing();
