# test/t/002_crash.pl: crash safety under a concurrent write load (issue 5,
# part 2).
#
# Each cycle starts pgbench in the background (8 clients: report_payment and
# report_refund of every kind, as in 001_concurrency.pl), lets it run for a
# random 0.3-1.3 s, and then takes the server down hard, in turn:
#   - stop('immediate')               (pg_ctl -m immediate: SIGQUIT, no checkpoint)
#   - SIGKILL of a busy backend       (with restart_after_crash = off the
#                                      postmaster then stops everything and exits)
#   - SIGKILL of the postmaster       (its backends notice and exit on their own;
#                                      they may still commit in between)
# waits until every server process is gone, starts the server again (crash
# recovery) and checks:
#   - every call that any client saw succeed, in this or an earlier cycle,
#     is in the tables; no call that failed is; nothing is there that no
#     client was told about, except at most the one call per client that was
#     cut off by the crash (it may or may not have committed);
#   - the refund invariants for every record (and, every fifth cycle and
#     after the last, retrieve_payment_record's view of them), and the change events
#     (payment_records.event) agree with the rows: an event committed
#     exactly when its write did.
# Acknowledgements are recorded client side, in pgbench's per-transaction
# log (see test/perl/PaymentRecordsTest.pm); the database is never asked
# what it acknowledged.  At the end amcheck verifies every index of the
# extension's tables against the heap.
#
# PR_CRASH_CYCLES sets the number of cycles (default 20, a few seconds each);
# PR_CRASH_RATE caps pgbench's calls per second (default 2000, all clients
# together), which keeps the tables, and so the checks after each cycle,
# small; PR_SEED fixes the random choices (printed at the start).

use strict;
use warnings;

use Cwd ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
# test/perl, found from this file: PGXS resets PROVE_FLAGS after the
# Makefile sets it, so prove does not get -I test/perl from there
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;
use Time::HiRes qw(sleep time);

my $cycles = env_int('PR_CRASH_CYCLES', 20);
my $rate   = env_int('PR_CRASH_RATE',   2000);
my $seed   = env_int('PR_SEED', int(rand(2**31 - 1)) + 1);
srand($seed);
note "$cycles crash cycles, PR_SEED=$seed";

my $node = pr_new_node('crash');
my %ranges = install_workload(
	$node,
	hot        => 4,
	cold       => 600,
	pending    => 5,
	hot_amount => 50_000_000,
	pool       => 200);

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($scripts, $kinds) = workload_scripts(
	$dir,
	hot_unique => 25,
	hot_pool   => 10,
	hot_rr     => 10,
	cold       => 20,
	cold_big   => 10,
	pending    => 2,
	payment    => 23);

# The server's processes, from /proc (Linux): every process whose working
# directory is the node's data directory (the postmaster chdirs there and its
# children inherit it).  This finds them even after the postmaster was killed
# and they were re-parented.
sub server_processes
{
	my ($datadir) = @_;
	my @pids;
	for my $proc (glob('/proc/[0-9]*'))
	{
		my $cwd = readlink("$proc/cwd");
		push @pids, $proc =~ s{^/proc/}{}r if defined $cwd && $cwd eq $datadir;
	}
	return @pids;
}

# Wait until no server process is left, and the postmaster's pid is gone
# too (a zombie has no working directory, but the next postmaster would
# still take its pid for a live one and refuse to start).
sub wait_server_gone
{
	my ($datadir, $pm) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return 1 unless server_processes($datadir) || kill(0, $pm);
		sleep 0.05;
	}
	diag("server processes still alive: postmaster $pm, "
		  . join(' ', server_processes($datadir)));
	return 0;
}

my @entries;    # every cycle's log entries: the clients' view of history
my @modes = ('immediate stop', 'backend SIGKILL', 'postmaster SIGKILL');
for my $cycle (1 .. $cycles)
{
	my $mode   = $modes[ ($cycle - 1) % 3 ];

	# fresh cold records each cycle, so that the cold refunds keep succeeding
	# rather than all running into the limit after a few cycles
	if ($cycle > 1)
	{
		my $n = $ranges{cold_hi} - $ranges{cold_lo} + 1;
		$ranges{cold_lo} += $n;
		$ranges{cold_hi} += $n;
		add_cold_records($node, $ranges{cold_lo}, $ranges{cold_hi});
	}
	my $label  = "cycle $cycle ($mode)";
	my $t_cycle = time;
	my $offset = log_offset($node);
	my $prefix = "$dir/log$cycle";
	my $cmd    = pgbench_command(
		$node,
		clients    => 8,
		threads    => 2,
		duration   => 120,
		rate       => $rate,
		scripts    => $scripts,
		vars       => \%ranges,
		cycle      => $cycle,
		seed       => $seed + $cycle,
		log_prefix => $prefix);
	my ($out, $err) = ('', '');
	my $bench = IPC::Run::start($cmd, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

	sleep(0.3 + rand(1.0));

	my $datadir = Cwd::abs_path($node->data_dir);
	my $pm      = $node->{_pid};
	cmp_ok(scalar(server_processes($datadir)), '>', 1,
		"$label: the server's processes are found");
	if ($mode eq 'immediate stop')
	{
		$node->stop('immediate');
	}
	elsif ($mode eq 'backend SIGKILL')
	{
		# a pgbench client's backend, preferably one running a call
		my $victim = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity"
			  . " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
			  . " ORDER BY state = 'active' DESC, random() LIMIT 1");
		ok($victim =~ /^\d+$/, "$label: found a pgbench backend to kill")
		  or BAIL_OUT("no pgbench backend");
		kill('KILL', $victim);
		# the postmaster reaps it, stops the others and (restart_after_crash
		# is off) exits
	}
	else
	{
		$node->kill9;
	}
	ok(wait_server_gone($datadir, $pm), "$label: every server process exited");
	$node->_update_pid(-1) if $mode eq 'backend SIGKILL';

	$bench->finish;
	isnt($bench->result, 0, "$label: the crash interrupted pgbench")
	  or diag("pgbench stdout:\n$out\nstderr:\n$err");

	$node->start;

	my @new = read_pgbench_logs($prefix, $kinds, $cycle);
	push @entries, @new;
	cmp_ok(scalar(grep { $_->{ok} } @new), '>', 0,
		"$label: some calls were acknowledged before the crash");

	my $t_check = time;
	my %db = db_operations($node);
	my %n = check_acks(\@entries, \%db, in_flight => 1, label => $label);
	# the API's reading of the tables every fifth cycle and at the end (it
	# is one call per record; the table checks run every cycle)
	my %stats = check_invariants($node, 'postgres', $label,
		api => ($cycle % 5 == 0 || $cycle == $cycles));
	check_events($node, 'postgres', $label);
	my %codes = check_server_errors($node, $offset, label => $label);
	note sprintf(
		"%s: %d calls acknowledged (%d in total), %d failed, %d in-flight committed;"
		  . " %d records, %d refunds; expected errors %s; cycle %.1f s, checks %.1f s",
		$label, scalar(grep { $_->{ok} } @new),
		$n{ok}, $n{failed}, $n{in_flight}, $stats{records}, $stats{refunds},
		join(' ', map { "$_=$codes{$_}" } sort keys %codes),
		time - $t_cycle, time - $t_check);
}

# Last: the indexes agree with the heaps after all those recoveries.
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
	SELECT bt_index_parent_check(i.indexrelid, true)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	WHERE c.relnamespace = 'payment_records'::regnamespace) x}),
	$node->safe_psql(
		'postgres', q{
SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = 'payment_records'::regnamespace}),
	'amcheck finds every index of the extension consistent with its table');

$node->stop;
done_testing();
