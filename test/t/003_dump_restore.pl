# test/t/003_dump_restore.pl: pg_dump / restore round trip (issue 5, part 3).
#
# Node A gets records in both modes (guaranteed, pending, failed; metadata,
# descriptions), refunds (with and without references, partial and full,
# with metadata), calls under idempotency keys, and a sequence advanced past
# the last row (a rolled-back batch).  Its database is dumped twice, in
# custom format (restored with pg_restore) and in plain format (restored with
# psql in one transaction), into fresh databases on node B, where the dump's
# own CREATE EXTENSION payment_records builds the schema and the extension's
# configuration tables get their rows back (pg_extension_config_dump).
#
# Compared between A and each restored database:
#   - every configuration table, row by row (count and md5 of the sorted
#     rows), and every configuration sequence (last_value, is_called);
#   - retrieve_payment_record of every id, in its mode;
#   - a second plain dump of the restored database against A's dump.
# Then the restored database must keep enforcing the invariants:
# over-refund via the API (23514) and by a direct INSERT (23514), a reused
# reference via the API and by a direct INSERT (23505), refunding a pending
# record (55000), an idempotency key replayed (same answer, nothing written),
# and a new report_payment numbered after every restored record.
#
# Serial restore only: see the note at the end about pg_restore -j.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
# test/perl, found from this file: PGXS resets PROVE_FLAGS after the
# Makefile sets it, so prove does not get -I test/perl from there
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $a = pr_new_node('dump_a');
my $b = pr_new_node('dump_b', no_extension => 1);
my $dir = PostgreSQL::Test::Utils::tempdir;

# ---------------------------------------------------------------------
# Data on A.
# ---------------------------------------------------------------------

# report_payment with the given fields; returns the new id.
sub pay
{
	my ($node, $db, %p) = @_;
	my $setup = delete $p{setup} // '';
	my $key   = delete $p{key};
	return $node->safe_psql($db,
		    $setup
		  . 'SELECT payment_records.report_payment('
		  . sql_quote(payment_json(%p))
		  . (defined $key ? ', ' . sql_quote($key) : '')
		  . ")->>'id'");
}

# report_refund; returns amount_refunded of the answer.
sub refund
{
	my ($node, $db, $id, %p) = @_;
	my $setup = delete $p{setup} // '';
	my $key   = delete $p{key};
	return $node->safe_psql($db,
		    $setup
		  . 'SELECT payment_records.report_refund('
		  . sql_quote($id) . ', '
		  . sql_quote(refund_json(%p))
		  . (defined $key ? ', ' . sql_quote($key) : '')
		  . ")->'amount_refunded'->>'value'");
}

# live mode is the caller's role (1.1): live_sql() switches to a member
# of payment_records_live
my $live = live_sql();
my (@test_ids, @live_ids, %pending);
for my $i (1 .. 24)
{
	my $outcome = $i % 6 == 0 ? 'pending' : $i % 7 == 0 ? 'failed' : 'guaranteed';
	my $id = pay(
		$a, 'postgres',
		amount   => 1000 * $i,
		currency => $i % 5 == 0 ? 'eur' : 'usd',
		outcome  => $outcome,
		metadata => { order => "o-$i", note => "it's #$i" },
		($i % 3 == 0 ? (description => "payment \"$i\"") : ()),
		($i % 4 == 0 ? (key => "pay-key-$i") : ()));
	push @test_ids, $id;
	$pending{$id} = 1 if $outcome eq 'pending';
	next unless $outcome eq 'guaranteed';
	my $cur = $i % 5 == 0 ? 'eur' : 'usd';
	refund($a, 'postgres', $id, amount => 100 * $i, currency => $cur,
		reference => "ref-$i", metadata => { reason => 'dup' });
	refund($a, 'postgres', $id, amount => 50, currency => $cur,
		($i % 4 == 0 ? (key => "refund-key-$i") : ()));
	# every third guaranteed record refunded in full
	refund($a, 'postgres', $id, reference => "full-$i") if $i % 3 == 1;
}
for my $i (1 .. 6)
{
	my $id = pay($a, 'postgres', setup => $live, amount => 777 * $i,
		metadata => { live => 'yes' });
	push @live_ids, $id;
	# the same reference as a test-mode refund: references are per mode
	refund($a, 'postgres', $id, setup => $live, amount => 7,
		reference => "ref-$i");
}

# Advance the sequence past the last row: numbers handed out by a
# rolled-back transaction are gone for good.
$a->safe_psql(
	'postgres', q{
BEGIN;
SELECT payment_records.report_payment(
	'{"amount_requested":{"currency":"usd","value":5},"initiated_at":1730253453,
	  "payment_method_details":{"payment_method":"pm_1"}}')
FROM generate_series(1, 7);
ROLLBACK;
});
# Gateway keys (issue 14): an active and a revoked one, hashes only.
$a->safe_psql(
	'postgres', q{
CREATE ROLE regress_dump_key IN ROLE payment_records_writer;
GRANT regress_dump_key TO payment_records_gateway;
SELECT payment_records.create_api_key('regress_dump_key', false, description => 'kept');
SELECT payment_records.revoke_api_key(id)
FROM payment_records.create_api_key('regress_dump_key', false, description => 'revoked');
});
# Reference claims of a sharded deployment (issue 15): a claim and a use
# (as on a claiming shard and a record's shard), kept by the dump.
$a->safe_psql(
	'postgres', q{
SET ROLE payment_records_router;
SELECT token FROM payment_records.claim_reference('dump-ref', 'pr_dump') \gset
SELECT payment_records.settle_reference_use('dump-ref', 'pr_dump', :'token');
});

my ($max_seq, $last_value) = split /\|/, $a->safe_psql('postgres',
	'SELECT (SELECT max(seq) FROM payment_records.payment_record),'
	  . ' (SELECT last_value FROM payment_records.payment_record_seq_seq)');
cmp_ok($last_value, '>', $max_seq, 'A: the sequence is ahead of the last record');

my $counts = $a->safe_psql(
	'postgres', q{
SELECT (SELECT count(*) FROM payment_records.payment_record) || ' records, '
	|| (SELECT count(*) FROM payment_records.refund) || ' refunds, '
	|| (SELECT count(*) FROM payment_records.refund WHERE refund_reference IS NOT NULL)
	|| ' with a reference'});
note "A: $counts";

# ---------------------------------------------------------------------
# What is compared.
# ---------------------------------------------------------------------

# The extension's configuration objects (pg_extension_config_dump), as
# "name|relkind" lines.
sub config_objects
{
	my ($node, $db) = @_;
	return $node->safe_psql(
		$db, q{
SELECT c.relname || '|' || c.relkind::text
FROM pg_extension e, unnest(e.extconfig) AS x(oid)
JOIN pg_class c ON c.oid = x.oid
WHERE e.extname = 'payment_records'
ORDER BY 1});
}

# Every configuration table's rows (count and md5 of the sorted text of
# the rows) and every configuration sequence's state, one line each.
sub config_contents
{
	my ($node, $db) = @_;
	my @lines;
	for my $obj (split /\n/, config_objects($node, $db))
	{
		my ($rel, $kind) = split /\|/, $obj;
		my $q = "payment_records.\"$rel\"";
		push @lines, "$rel: " . $node->safe_psql(
			$db,
			$kind eq 'S'
			? "SELECT 'last_value ' || last_value || ', is_called ' || is_called FROM $q"
			: "SELECT count(*) || ' rows, md5 '"
			  . " || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
			  . " FROM $q t");
	}
	return @lines;
}

# retrieve_payment_record of every record of one mode, in seq order.
sub retrieved
{
	my ($node, $db, $livemode) = @_;
	return $node->safe_psql(
		$db, ($livemode eq 'on' ? live_sql() : '') . qq{
SELECT string_agg(payment_records.retrieve_payment_record(id)::text, E'\\n' ORDER BY seq)
FROM payment_records.payment_record WHERE livemode = '$livemode'});
}

# A plain dump, without the lines that legitimately differ (the random
# \restrict key of recent pg_dump releases).
sub plain_dump
{
	my ($node, $db, $file) = @_;
	$node->command_ok([ 'pg_dump', '-Fp', '-f', $file, '-d', $node->connstr($db) ],
		"pg_dump (plain) of $db on " . $node->name);
	my $text = slurp_file($file);
	$text =~ s/^\\(?:un)?restrict .*\n//mg;
	return $text;
}

my @a_config = config_contents($a, 'postgres');
my $a_test   = retrieved($a, 'postgres', 'off');
my $a_live   = retrieved($a, 'postgres', 'on');
my $a_dump   = plain_dump($a, 'postgres', "$dir/a.sql");
note "A: $_" for @a_config;
unlike(join("\n", @a_config), qr/: 0 rows/, 'A: every configuration table has rows');
like(config_objects($a, 'postgres'), qr/^payment_record\|r$/m,
	'A: payment_record is a configuration table');
like(config_objects($a, 'postgres'), qr/^payment_record_seq_seq\|S$/m,
	'A: its sequence is a configuration sequence');

# ---------------------------------------------------------------------
# Dump and restore.
# ---------------------------------------------------------------------

$a->command_ok(
	[ 'pg_dump', '-Fc', '-f', "$dir/a.dump", '-d', $a->connstr('postgres') ],
	'pg_dump -Fc of A');
$b->safe_psql('postgres', 'CREATE DATABASE restored_custom');
$b->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$b->command_ok(
	[
		'pg_restore', '--exit-on-error', '--single-transaction',
		'-d', $b->connstr('restored_custom'), "$dir/a.dump"
	],
	'pg_restore of the custom dump into B');
$b->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction',
		'-f', "$dir/a.sql", '-d', $b->connstr('restored_plain')
	],
	'psql restore of the plain dump into B');

for my $db ('restored_custom', 'restored_plain')
{
	is( $b->safe_psql($db,
			"SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
		$a->safe_psql('postgres',
			"SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
		"$db: the dump created the extension, same version");
	is(config_objects($b, $db), config_objects($a, 'postgres'),
		"$db: the same configuration tables and sequences");

	my @b_config = config_contents($b, $db);
	for my $i (0 .. $#a_config)
	{
		my ($rel) = $a_config[$i] =~ /^([^:]+):/;
		is($b_config[$i], $a_config[$i], "$db: $rel is identical");
	}
	is(retrieved($b, $db, 'off'), $a_test,
		"$db: retrieve_payment_record of every test-mode id is identical");
	is(retrieved($b, $db, 'on'), $a_live,
		"$db: retrieve_payment_record of every live-mode id is identical");
	my $b_dump = plain_dump($b, $db, "$dir/$db.sql");
	ok($b_dump eq $a_dump, "$db: dumping it again gives A's dump")
	  or diag("the dumps differ: diff $dir/a.sql $dir/$db.sql");
	check_invariants($b, $db, $db);
}

# ---------------------------------------------------------------------
# The restored database still enforces the invariants (restored_custom).
# ---------------------------------------------------------------------

my $db = 'restored_custom';

# A guaranteed test-mode record with refunds and something left.
my ($gid, $gseq, $gamount, $gtotal, $gno, $gcur) = split /\|/, $b->safe_psql(
	$db, q{
SELECT p.id, p.seq, p.amount, h.refunded_total, h.refund_no, p.currency
FROM payment_records.payment_record p
JOIN LATERAL (SELECT refunded_total, refund_no FROM payment_records.refund f
			  WHERE f.record_seq = p.seq ORDER BY refund_no DESC LIMIT 1) h ON true
WHERE NOT p.livemode AND h.refunded_total < p.amount
ORDER BY p.seq LIMIT 1});
ok(defined $gcur, 'found a partly refunded record to work on');
my $remaining = $gamount - $gtotal;

is( sqlstate_of(
		$b, $db,
		'SELECT payment_records.report_refund('
		  . sql_quote($gid) . ', '
		  . sql_quote(refund_json(amount => $remaining + 1, currency => $gcur))
		  . ')'),
	'23514',
	'restored: refunding one more than what remains fails with 23514');
is( sqlstate_of(
		$b, $db,
		"INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total,"
		  . " livemode, created) VALUES ($gseq, $gno + 1, $remaining + 1,"
		  . " $gamount + 1, false, now())"),
	'23514',
	'restored: a direct INSERT past the limit fails with 23514');
is( sqlstate_of(
		$b, $db,
		'SELECT payment_records.report_refund('
		  . sql_quote($gid) . ', '
		  . sql_quote(refund_json(amount => 1, currency => $gcur, reference => 'ref-1'))
		  . ')'),
	'23505',
	'restored: reusing a restored refund reference fails with 23505');
is( sqlstate_of(
		$b, $db,
		"INSERT INTO payment_records.refund (record_seq, refund_no, amount, refunded_total,"
		  . " livemode, refund_reference, created) VALUES ($gseq, $gno + 1, 1,"
		  . " $gtotal + 1, false, 'ref-2', now())"),
	'23505',
	'restored: a direct INSERT reusing a reference fails with 23505');
my ($pid) = grep { $pending{$_} } @test_ids;
is( sqlstate_of(
		$b, $db,
		'SELECT payment_records.report_refund('
		  . sql_quote($pid) . ', '
		  . sql_quote(refund_json(amount => 1)) . ')'),
	'55000',
	'restored: refunding a pending record fails with 55000');

# What must still work: the exact remaining amount (the limit is not off
# by one), a test-mode-only reference in live mode.
is( refund($b, $db, $gid, amount => $remaining, currency => $gcur),
	$gamount, 'restored: refunding exactly what remains succeeds');
is(refund($b, $db, $live_ids[0], setup => $live, amount => 1, reference => 'full-1'),
	8, 'restored: a reference used only in test mode is free in live mode');

# An idempotency key used on A answers the same on B and writes nothing.
my $before = $b->safe_psql($db, 'SELECT count(*) FROM payment_records.payment_record');
is( $b->safe_psql(
		$db,
		'SELECT payment_records.report_payment('
		  . sql_quote(
			payment_json(
				amount   => 4000,
				metadata => { order => 'o-4', note => "it's #4" }))
		  . q{, 'pay-key-4')->>'id'}),
	$test_ids[3],
	'restored: an idempotency key from A replays its answer');
is($b->safe_psql($db, 'SELECT count(*) FROM payment_records.payment_record'),
	$before, 'restored: the replay wrote nothing');

# New records are numbered after everything restored, and after what the
# sequence had handed out on A.
my $new_id = pay($b, $db, amount => 123);
my $new_seq = $b->safe_psql($db,
	'SELECT seq FROM payment_records.payment_record WHERE id = ' . sql_quote($new_id));
cmp_ok($new_seq, '>', $last_value,
	'restored: a new record gets a seq beyond the restored sequence');
is( $b->safe_psql($db,
		"SELECT count(*) FROM payment_records.payment_record WHERE seq >= $new_seq"),
	1, 'restored: no restored record has a seq at or after the new one');

check_invariants($b, $db, "$db after the new writes");

# Note: pg_restore -j (parallel) is not tested because it cannot work
# today: it loads the configuration tables' data concurrently, ignoring the
# foreign keys between them (refund -> payment_record), so the refund COPY
# fails with 23503 whenever it runs before payment_record's commits.

$a->stop;
$b->stop;
done_testing();
