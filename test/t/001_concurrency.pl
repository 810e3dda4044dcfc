# test/t/001_concurrency.pl: randomized concurrency check of the refund
# invariants (issue 5, part 1).
#
# pgbench runs 8 clients (-c 8 -j 2) over a mixed workload:
#   - refunds of 1..100 on 4 hot records, which every client hits at once
#     and which run out of refundable amount about halfway through, so the
#     limit is decided under contention; some inside REPEATABLE READ
#     (40001 expected there when the record's latest attempt, which the
#     refunds with metadata update, changed after the snapshot);
#   - refunds whose reference comes from a small pool (23505 expected);
#   - refunds of cold records, small, large (23514 expected) or of
#     everything that remains;
#   - refunds of pending records (55000 expected);
#   - new report_payment calls.
# Then, for every record: refunds sum to at most its amount, the refund chain
# (refund_no 1..n, refunded_total the running sum) is intact, references are
# unique, retrieve_payment_record agrees, the change events match the rows;
# and the calls the clients saw succeed are exactly the ones in the tables.
#
# How acknowledgements are recorded (client side, from pgbench's
# per-transaction log, never in the database) is explained in
# test/perl/PaymentRecordsTest.pm.
#
# Size: PR_CONCURRENCY_OPS calls in total (default 40000: about 10 s on an
# idle two-core machine, well under a minute on a busy one).  The issue's
# long version (100000 calls, about 15 s idle), as the postgres user:
#   PR_CONCURRENCY_OPS=100000 make installcheck REGRESS= ISOLATION= \
#       PROVE_TESTS=test/t/001_concurrency.pl
# PR_CONCURRENCY_CLIENTS changes the number of clients (default 8);
# PR_SEED fixes pgbench's random draws (printed at the start; the interleaving
# of the clients still varies from run to run).

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
# test/perl, found from this file: PGXS resets PROVE_FLAGS after the
# Makefile sets it, so prove does not get -I test/perl from there
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $ops     = env_int('PR_CONCURRENCY_OPS',     40000);
my $clients = env_int('PR_CONCURRENCY_CLIENTS', 8);
my $per_client = int(($ops + $clients - 1) / $clients);
my $total      = $per_client * $clients;
my $seed       = env_int('PR_SEED', int(rand(2**31 - 1)) + 1);
note "$total calls: $clients clients x $per_client, PR_SEED=$seed";

my $node = pr_new_node('concurrency');

# Hot records sized so that the hot refunds (about 45% of the calls, 50 on
# average, a part of them failing on the reference pool) exhaust them
# about halfway through the run.
my $hot_amount = 3 * $total + 1000;
my %ranges = install_workload(
	$node,
	hot        => 4,
	cold       => 2000,
	pending    => 20,
	hot_amount => $hot_amount,
	pool       => 500);
is($node->safe_psql('postgres', 'SELECT count(*) FROM payment_records.refund'),
	0, 'no refund before the run');
my $records_before =
  $node->safe_psql('postgres', 'SELECT count(*) FROM payment_records.payment_record');

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($scripts, $kinds) = workload_scripts(
	$dir,
	hot_unique => 25,
	hot_pool   => 10,
	hot_rr     => 10,
	cold       => 20,
	cold_big   => 10,
	pending    => 3,
	payment    => 22);

my $offset = log_offset($node);
my $cmd    = pgbench_command(
	$node,
	clients      => $clients,
	threads      => 2,
	transactions => $per_client,
	scripts      => $scripts,
	vars         => \%ranges,
	cycle        => 0,
	seed         => $seed,
	log_prefix   => "$dir/log");
my ($out, $err) = ('', '');
my $t0 = time;
my $ok = IPC::Run::run($cmd, '>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default * 10));
note sprintf("pgbench ran %d s", time - $t0);
ok($ok, 'pgbench exits successfully (no client aborted)')
  or diag("pgbench stderr:\n$err\nstdout:\n$out");
unlike($err, qr/aborted/, 'no pgbench client aborted');
my ($processed) = $out =~ /number of transactions actually processed: (\d+)/;
my ($failed)    = $out =~ /number of failed transactions: (\d+)/;
is(($processed // 0) + ($failed // 0), $total,
	'pgbench reports every call as either committed or failed');

# Client side: what each call returned.
my @entries = read_pgbench_logs("$dir/log", $kinds, 0);
is(scalar(@entries), $total, 'the per-transaction logs hold every call');

# The tables: exactly the acknowledged calls.
my %db = db_operations($node);
my %n  = check_acks(\@entries, \%db, label => 'after the run');
is($node->safe_psql('postgres', 'SELECT count(*) FROM payment_records.refund'),
	$n{refund_ok}, 'refund rows present = acknowledged refunds');
is( $node->safe_psql('postgres', 'SELECT count(*) FROM payment_records.payment_record')
	  - $records_before,
	$n{payment_ok},
	'new payment records = acknowledged report_payment calls');
is($processed // 0, $n{ok}, 'pgbench summary and log agree on the successes');

# The invariants, per record.
my %stats = check_invariants($node, 'postgres', 'after the run');
note "records: $stats{records}, refunds: $stats{refunds}, refunded: $stats{refunded}";
check_events($node, 'postgres', 'after the run');

# The run was what it claims to be: every expected error happened, nothing
# else did, and the hot records reached their limit under contention.
my %codes = check_server_errors($node, $offset, label => 'after the run');
note join(', ', map { "$_: $codes{$_}" } sort keys %codes);
cmp_ok($codes{23505} // 0, '>', 0, 'reused references were refused (23505)');
cmp_ok($codes{23514} // 0, '>', 0, 'over-refunds were refused (23514)');
cmp_ok($codes{55000} // 0, '>', 0, 'refunds of pending records were refused (55000)');
is($codes{total}, $n{failed},
	'every failed call is an expected error in the server log');
cmp_ok($n{refund_ok},  '>', 0, 'refunds succeeded');
cmp_ok($n{payment_ok}, '>', 0, 'payments succeeded');
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FROM bench_rec b
JOIN payment_records.payment_record p ON p.id = b.id
WHERE b.kind = 'hot'
  AND p.amount - (SELECT coalesce(max(refunded_total), 0) FROM payment_records.refund f
				  WHERE f.record_seq = p.seq) < 100}),
	4,
	'every hot record was refunded up to its limit');

$node->stop;
done_testing();
