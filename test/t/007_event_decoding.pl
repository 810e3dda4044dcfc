# test/t/007_event_decoding.pl: change events delivered through logical
# decoding (issue 12).
#
# A consumer follows payment_records.event through a logical replication
# slot, with the built-in pgoutput plugin and the publication
#   CREATE PUBLICATION payment_records_events
#       FOR TABLE payment_records.event WITH (publish = 'insert');
# (made here in the test's set-up: the install script does not create it,
# see the README, "Following events"), or with contrib's test_decoding.
# Both slots are created before the workload.
#
# Workload: pgbench clients writing at once through the API, in test and
# in live mode, in transactions that commit (one call, or several calls in
# one transaction), that roll back, that are prepared and then rolled back
# (ROLLBACK PREPARED) or committed (COMMIT PREPARED); idempotent replays
# (no event); over-refunds that fail inside a committing transaction (no
# event); one write with an object big enough to be stored out of line.
# The ids the aborted transactions took (currval of the event sequence
# after each call) are written down after the abort, outside it.
#
# Then, for both plugins:
#   - the stream holds every event of the table exactly once and nothing
#     else: no id of a rolled-back or prepared-then-aborted transaction;
#   - each event arrives in the transaction that wrote its row (the row's
#     xmin), a transaction's events together, in id order;
#   - transactions arrive in commit order: the order of their commit
#     records in the WAL, read independently with pg_waldump (pgoutput
#     also carries each commit's LSN, which must be that record's);
#   - the decoded object is the stored one (stored lz4-compressed inline,
#     and once out of line in the TOAST table).
# Also: a subscriber (another cluster, a plain table, the subscription made
# before the workload) ends up with exactly the table's events; a consumer
# of the test_decoding slot that reads part of the stream, sees the server
# crash and reads on, gets every event once by skipping transactions whose
# commit LSN it has already processed; a role with REPLICATION (no other
# privilege) can read the slot, one without cannot; pg_dump keeps the
# publication but not its table, and the README's repair gives it back.
#
# Size: PR_DECODING_CLIENTS (default 6) clients x PR_DECODING_TXNS (default
# 400) pgbench transactions; about 10 s.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $clients = env_int('PR_DECODING_CLIENTS', 6);
my $txns    = env_int('PR_DECODING_TXNS',    400);
my $seed    = env_int('PR_SEED', int(rand(2**31 - 1)) + 1);
note "$clients clients x $txns transactions, PR_SEED=$seed";

my $node = pr_new_node(
	'decoding',
	conf => [
		'wal_level = logical',
		'max_replication_slots = 8',
		'max_wal_senders = 8',
		'max_prepared_transactions = ' . ($clients > 10 ? $clients : 10),
		"max_connections = " . ($clients + 10)
	]);
my $q = sub { $node->safe_psql('postgres', shift) };

# The consumer's publication and the two slots, before any write.
$q->(
	q{CREATE PUBLICATION payment_records_events FOR TABLE payment_records.event
	  WITH (publish = 'insert')});
my $start_lsn = $q->(
	q{SELECT lsn FROM pg_create_logical_replication_slot('dec_td', 'test_decoding')});
$q->(q{SELECT pg_create_logical_replication_slot('dec_po', 'pgoutput')});

# The consumer's role: REPLICATION, and SELECT on the event table (through
# payment_records_reader) for a subscription's initial copy.  dec_nobody
# has neither.
$q->(
	q{CREATE ROLE dec_consumer LOGIN REPLICATION IN ROLE payment_records_reader;
	  CREATE ROLE dec_nobody LOGIN;});

# A subscriber: another cluster, without the extension, with a plain table
# of the same name and columns, subscribed (as dec_consumer) before the
# workload.
my $sub = pr_new_node('subscriber', no_extension => 1);
$sub->safe_psql(
	'postgres', q{
CREATE SCHEMA payment_records;
CREATE TABLE payment_records.event (
	id bigint PRIMARY KEY, type text NOT NULL, livemode boolean NOT NULL,
	object jsonb NOT NULL, created timestamptz NOT NULL);});
$sub->safe_psql('postgres',
	'CREATE SUBSCRIPTION dec_sub CONNECTION '
	  . sql_quote($node->connstr('postgres') . ' user=dec_consumer')
	  . ' PUBLICATION payment_records_events');
$sub->poll_query_until('postgres',
	q{SELECT bool_and(srsubstate = 'r') FROM pg_subscription_rel})
  or die 'the subscription did not get ready';

# Workload helpers (outside the extension's schema).  Each dec_* call
# returns currval of the event sequence: the id of the event it wrote.
$q->(
	q{
CREATE TABLE dec_aborted (ev bigint NOT NULL, kind text NOT NULL);
CREATE TABLE dec_committed (ev bigint NOT NULL, kind text NOT NULL);
CREATE TABLE dec_calls (kind text NOT NULL, k text);

CREATE FUNCTION dec_params(amount bigint, guaranteed boolean DEFAULT true,
						   meta jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'amount_requested', jsonb_build_object('currency', 'usd', 'value', amount),
		'initiated_at', 1730253453,
		'payment_method_details', jsonb_build_object('payment_method', 'pm_dec'))
	|| CASE WHEN guaranteed THEN
		'{"outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}}'::jsonb
	   ELSE '{}'::jsonb END
	|| CASE WHEN meta IS NULL THEN '{}'::jsonb
	   ELSE jsonb_build_object('metadata', meta) END
$$;

CREATE FUNCTION dec_refund_params(amount bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('outcome', 'refunded',
		'amount', jsonb_build_object('currency', 'usd', 'value', amount),
		'processor_details', '{"type": "custom"}'::jsonb)
$$;

-- a new record; the next dec_* calls of the session act on it
CREATE FUNCTION dec_pay(amount bigint, guaranteed boolean DEFAULT true)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('dec.rid',
		payment_records.report_payment(dec_params(amount, guaranteed))->>'id', false);
	RETURN currval('payment_records.event_id_seq');
END
$$;

CREATE FUNCTION dec_refund(amount bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM payment_records.report_refund(current_setting('dec.rid'),
										  dec_refund_params(amount));
	RETURN currval('payment_records.event_id_seq');
END
$$;

CREATE FUNCTION dec_guarantee() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM payment_records.report_payment_attempt_guaranteed(
		current_setting('dec.rid'), '{"guaranteed_at": 1730253470}');
	RETURN currval('payment_records.event_id_seq');
END
$$;

CREATE FUNCTION dec_informational() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM payment_records.report_payment_attempt_informational(
		current_setting('dec.rid'), '{"description": "decoded"}');
	RETURN currval('payment_records.event_id_seq');
END
$$;

-- report_payment under a key of this client's small pool: the first call
-- writes, the others replay the stored answer (and must write no event)
CREATE FUNCTION dec_keyed(client int, k int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM payment_records.report_payment(dec_params(700),
										   'dec-' || client || '-' || k);
	INSERT INTO dec_calls VALUES ('keyed', 'dec-' || client || '-' || k);
END
$$;

-- a payment, then a refund of more than it: the refund fails (23514) in a
-- subtransaction, the payment commits
CREATE FUNCTION dec_over_refund() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dec_pay(500);
	BEGIN
		PERFORM dec_refund(600);
		RAISE EXCEPTION 'the over-refund succeeded';
	EXCEPTION WHEN check_violation THEN
		INSERT INTO dec_calls VALUES ('over_refund_failed', current_setting('dec.rid'));
	END;
END
$$;
});

$q->(live_sql());    # creates regress_live

# pgbench scripts.  Prepared transactions are named after the client, which
# has at most one prepared at a time.
my $dir = PostgreSQL::Test::Utils::tempdir;
my %scripts = (
	commit => [
		4, q{\set amt random(100, 5000)
SELECT dec_pay(:amt);
}
	],
	commit_multi => [
		3, q{BEGIN;
SELECT dec_pay(2000, false);
SELECT dec_informational();
SELECT dec_guarantee();
SELECT dec_refund(100);
SELECT dec_refund(200);
COMMIT;
}
	],
	rollback => [
		2, q{BEGIN;
SELECT dec_pay(1000) AS e1 \gset
SELECT dec_refund(100) AS e2 \gset
ROLLBACK;
INSERT INTO dec_aborted VALUES (:e1, 'rollback'), (:e2, 'rollback');
}
	],
	prepared_abort => [
		2, q{BEGIN;
SELECT dec_pay(1000) AS e1 \gset
SELECT dec_refund(100) AS e2 \gset
PREPARE TRANSACTION 'dec_:client_id';
SELECT pg_sleep(random() * 0.005);
ROLLBACK PREPARED 'dec_:client_id';
INSERT INTO dec_aborted VALUES (:e1, 'prepared'), (:e2, 'prepared');
}
	],
	prepared_commit => [
		2, q{BEGIN;
SELECT dec_pay(1000) AS e1 \gset
SELECT dec_refund(100) AS e2 \gset
PREPARE TRANSACTION 'dec_:client_id';
SELECT pg_sleep(random() * 0.005);
COMMIT PREPARED 'dec_:client_id';
INSERT INTO dec_committed VALUES (:e1, 'prepared'), (:e2, 'prepared');
}
	],
	keyed => [
		2, q{\set k random(1, 3)
SELECT dec_keyed(:client_id, :k);
}
	],
	over_refund => [
		1, q{SELECT dec_over_refund();
}
	],
	live => [
		1, q{SET ROLE regress_live;
SELECT payment_records.report_payment(dec_params(1234));
BEGIN;
SELECT payment_records.report_payment(dec_params(1235));
ROLLBACK;
RESET ROLE;
}
	]);
my @f;
for my $name (sort keys %scripts)
{
	my ($weight, $text) = @{ $scripts{$name} };
	my $file = "$dir/$name.sql";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $text;
	close $fh;
	push @f, '-f', "$file\@$weight";
}

my ($out, $err) = ('', '');
my $t0 = time;
my $ok = IPC::Run::run(
	[
		'pgbench', '-n', '-c', $clients, '-j', 2, '-t', $txns,
		"--random-seed=$seed", @f,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default * 5));
note sprintf("pgbench ran %d s", time - $t0);
ok($ok, 'pgbench exits successfully') or diag("stderr:\n$err\nstdout:\n$out");
like($out, qr/number of transactions actually processed: @{[ $clients * $txns ]}\b/,
	'every pgbench transaction was processed');

# One event with an object too big to stay in the row, even compressed
# (20 metadata values of 480 pseudo-random hex digits): it is stored out of
# line, in the event table's TOAST table.
my $big_ev = $q->(
	q{
SELECT payment_records.report_payment(dec_params(4242, true,
	(SELECT jsonb_object_agg('k' || g,
		(SELECT string_agg(md5(g::text || ':' || i::text), '')
		 FROM generate_series(1, 15) i))
	 FROM generate_series(1, 20) g))) IS NOT NULL;
SELECT currval('payment_records.event_id_seq');});
($big_ev) = $big_ev =~ /(\d+)$/;
cmp_ok(
	$q->(
		q{SELECT count(*) FROM pg_toast.pg_toast_} . $q->(
			q{SELECT 'payment_records.event'::regclass::oid})),
	'>', 0,
	"event $big_ev has its object out of line (the TOAST table has chunks)");

my $end_lsn = $q->('SELECT pg_current_wal_lsn()');

# --- the table ---------------------------------------------------------

my %table;    # id => [xmin, object text]
for (split /\n/, $q->(q{SELECT id, xmin, object FROM payment_records.event ORDER BY id}))
{
	my ($id, $xmin, $obj) = split /\|/, $_, 3;
	$table{$id} = [ $xmin, $obj ];
}
my $n_events = scalar keys %table;
note "events in the table: $n_events";
my %aborted;
for (split /\n/, $q->('SELECT ev, kind FROM dec_aborted'))
{
	my ($ev, $kind) = split /\|/;
	$aborted{$ev} = $kind;
}
my %prep_committed =
  map { $_ => 1 } split /\n/, $q->(q{SELECT ev FROM dec_committed});
cmp_ok(scalar(grep { $_ eq 'rollback' } values %aborted),
	'>', 0, 'some writes were rolled back');
cmp_ok(scalar(grep { $_ eq 'prepared' } values %aborted),
	'>', 0, 'some writes were prepared, then rolled back');
cmp_ok(scalar(keys %prep_committed), '>', 0,
	'some writes were prepared, then committed');
is(scalar(grep { exists $table{$_} } keys %aborted),
	0, 'no aborted write left an event in the table');
is(scalar(grep { !exists $table{$_} } keys %prep_committed),
	0, 'every prepared-then-committed write has its event');
my ($keyed_calls, $keyed_keys, $keyed_events, $over_failed) = split /\|/, $q->(
	q{
SELECT (SELECT count(*) FROM dec_calls WHERE kind = 'keyed'),
	   (SELECT count(DISTINCT k) FROM dec_calls WHERE kind = 'keyed'),
	   (SELECT count(*) FROM payment_records.event e
		JOIN payment_records.idempotency_key i ON i.response->>'id' = e.object->>'id'
		WHERE i.key LIKE 'dec-%'),
	   (SELECT count(*) FROM dec_calls WHERE kind = 'over_refund_failed')});
cmp_ok($keyed_calls, '>', $keyed_keys, "idempotent replays happened ($keyed_calls calls, $keyed_keys keys)");
is($keyed_events, $keyed_keys, 'a keyed payment has one event, however often replayed');
cmp_ok($over_failed, '>', 0, "over-refunds failed ($over_failed)");
cmp_ok($q->(q{SELECT count(*) FROM payment_records.event WHERE livemode}),
	'>', 0, 'some events are live-mode events');
# (check_events of PaymentRecordsTest assumes no attempt events)
is( $q->(
		q{
SELECT (SELECT count(*) FROM payment_records.event WHERE type = 'payment_record.reported')
	   - (SELECT count(*) FROM payment_records.payment_record)}),
	0, 'one payment_record.reported event per record');
is( $q->(
		q{
SELECT (SELECT count(*) FROM payment_records.event WHERE type = 'payment_record.refunded')
	   - (SELECT count(*) FROM payment_records.refund)}),
	0, 'one payment_record.refunded event per refund');
my ($lz4, $total) = split /\|/, $q->(
	q{SELECT count(*) FILTER (WHERE pg_column_compression(object) = 'lz4'), count(*)
	  FROM payment_records.event});
is($lz4, $total, 'every stored object is lz4-compressed');

# --- the WAL: commit order, independently of decoding -------------------

my ($wal_out, $wal_err) = ('', '');
IPC::Run::run(
	[
		'pg_waldump', '-p', $node->data_dir . '/pg_wal', '-s', $start_lsn,
		'-e', $end_lsn, '-r', 'Transaction'
	],
	'>', \$wal_out, '2>', \$wal_err)
  or die "pg_waldump failed: $wal_err";
my (@wal_commits, %commit_lsn, %wal_aborted);
for (split /\n/, $wal_out)
{
	next unless /\btx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+),.*desc: (COMMIT|COMMIT_PREPARED|ABORT|ABORT_PREPARED) (\d+:)?/;
	my ($tx, $lsn, $what, $prep) = ($1, $2, $3, $4);
	if ($prep)    # a COMMIT/ABORT PREPARED names the prepared xid
	{
		($tx = $prep) =~ s/://;
	}
	if ($what =~ /^ABORT/)
	{
		$wal_aborted{$tx} = 1;
		next;
	}
	push @wal_commits, $tx;
	$commit_lsn{$tx} = lsn_num($lsn);
}
note sprintf("WAL: %d commits, %d aborts", scalar @wal_commits, scalar keys %wal_aborted);
my %wal_pos;
@wal_pos{@wal_commits} = (0 .. $#wal_commits);

sub lsn_num
{
	my ($lsn) = @_;
	my ($hi, $lo) = split m{/}, $lsn;
	return hex($hi) * 2**32 + hex($lo);
}

# The stream, as a list of transactions [xid, commit lsn or undef, [ids],
# {id => object text}], checked against the table and the WAL.
sub check_stream
{
	my ($label, @txns) = @_;
	my (%seen, @dups, @extra, @aborted_ids, @wrong_xid, @wrong_obj, @unordered,
		%xid_seen, @xid_twice, @not_committed, @wrong_lsn);
	my $last_pos = -1;
	my $out_of_commit_order = 0;
	my @order;
	for my $t (@txns)
	{
		my ($xid, $lsn, $ids, $objs) = @$t;
		next unless @$ids;
		push @xid_twice, $xid if $xid_seen{$xid}++;
		my $pos = $wal_pos{$xid};
		if (!defined $pos)
		{
			push @not_committed, $xid;
		}
		else
		{
			$out_of_commit_order++ if $pos <= $last_pos;
			$last_pos = $pos;
			push @wrong_lsn, $xid if defined $lsn && $lsn != $commit_lsn{$xid};
		}
		my $prev = 0;
		for my $id (@$ids)
		{
			push @order, $id;
			push @dups, $id if $seen{$id}++;
			push @aborted_ids, $id if exists $aborted{$id};
			if (!exists $table{$id})
			{
				push @extra, $id;
				next;
			}
			push @wrong_xid, "$id (xid $xid, xmin $table{$id}[0])"
			  if $table{$id}[0] != $xid;
			push @wrong_obj, $id if $objs->{$id} ne $table{$id}[1];
			push @unordered, $id if $id <= $prev;
			$prev = $id;
		}
	}
	my @missing = grep { !$seen{$_} } sort { $a <=> $b } keys %table;
	is(scalar @missing, 0, "$label: every event of the table is in the stream")
	  or diag("missing: @missing[0 .. ($#missing > 19 ? 19 : $#missing)]");
	is(scalar @dups, 0, "$label: no event twice") or diag("twice: @dups");
	is(scalar @extra, 0, "$label: no event that is not in the table")
	  or diag("extra: @extra");
	is(scalar @aborted_ids, 0,
		"$label: no event of a rolled-back or prepared-then-aborted transaction")
	  or diag("aborted: @aborted_ids");
	is(scalar @wrong_xid, 0, "$label: each event comes in the transaction that wrote its row")
	  or diag("@wrong_xid[0 .. ($#wrong_xid > 9 ? 9 : $#wrong_xid)]");
	is(scalar @xid_twice, 0, "$label: a transaction's events come together")
	  or diag("@xid_twice");
	is(scalar @unordered, 0, "$label: within a transaction, events come in id order");
	is(scalar @not_committed, 0,
		"$label: every decoded transaction has a commit record in the WAL")
	  or diag("@not_committed");
	is($out_of_commit_order, 0,
		"$label: transactions come in the order of their commit records");
	is(scalar @wrong_obj, 0, "$label: every decoded object is the stored object")
	  or diag("differ: @wrong_obj[0 .. ($#wrong_obj > 9 ? 9 : $#wrong_obj)]");
	ok($seen{$big_ev}, "$label: the out-of-line object was decoded");
	my $inversions = 0;
	$inversions += $order[$_] < $order[ $_ - 1 ] for 1 .. $#order;
	note "$label: " . scalar(@order) . " events in "
	  . scalar(grep { @{ $_->[2] } } @txns)
	  . " transactions; $inversions places where a lower id follows a higher one";
	return @order;
}

# --- test_decoding -------------------------------------------------------

# The rows of pg_logical_slot_{peek,get}_changes (as "lsn xid data") into
# transactions [xid, undef, [ids], {id => object}, lsn of the COMMIT row].
sub td_transactions
{
	my ($rows) = @_;
	my (@txns, $cur);
	for my $line (split /\n/, $rows)
	{
		my ($lsn, $xid, $data) = split / /, $line, 3;
		if ($data =~ /^BEGIN (\d+)$/)
		{
			die "BEGIN inside a transaction: $line" if $cur;
			$cur = [ $1, undef, [], {} ];
		}
		elsif ($data =~ /^COMMIT (\d+)$/)
		{
			die "COMMIT $1 closes no transaction, or another one"
			  unless $cur && $cur->[0] == $1;
			$cur->[4] = lsn_num($lsn);
			push @txns, $cur;
			undef $cur;
		}
		elsif ($data =~
			/^table payment_records\.event: INSERT: id\[bigint\]:(\d+) .*? object\[jsonb\]:'((?:[^']|'')*)' created\[/
		  )
		{
			my ($id, $obj) = ($1, $2);
			$obj =~ s/''/'/g;
			push @{ $cur->[2] }, $id;
			$cur->[3]{$id} = $obj;
		}
		elsif ($data =~ /^table payment_records\.event:/)
		{
			fail("test_decoding: unexpected change of the event table: $data");
		}
	}
	ok(!$cur, 'test_decoding: the stream ends with a COMMIT');
	return @txns;
}

my $td_sql = q{SELECT lsn || ' ' || xid || ' ' || data FROM %s('dec_td', NULL, %s,
	'include-xids', '1', 'skip-empty-xacts', '1')};
my @td_txns = td_transactions($q->(sprintf($td_sql, 'pg_logical_slot_peek_changes', 'NULL')));
my @td_order = check_stream('test_decoding', @td_txns);

# --- pgoutput ------------------------------------------------------------

# Protocol version 1 messages: B(egin), R(elation), I(nsert), C(ommit) and
# others the workload does not produce.
my $event_relid = $q->(q{SELECT 'payment_records.event'::regclass::oid});
my (@po_txns, %relname, $cur);
my $po_other = 0;
my @po_messages = split /\n/, $q->(
		q{SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('dec_po',
		  NULL, NULL, 'proto_version', '1', 'publication_names', 'payment_records_events')});
for my $hex (@po_messages)
{
	my $m    = pack('H*', $hex);
	my $kind = substr($m, 0, 1);
	if ($kind eq 'B')
	{
		my ($final_lsn, $ts, $xid) = unpack('Q> q> N', substr($m, 1));
		$cur = [ $xid, $final_lsn, [], {} ];
	}
	elsif ($kind eq 'C')
	{
		my ($flags, $commit_lsn) = unpack('C Q>', substr($m, 1));
		die "pgoutput: commit LSN $commit_lsn differs from BEGIN's $cur->[1]"
		  unless $commit_lsn == $cur->[1];
		push @po_txns, $cur;
		undef $cur;
	}
	elsif ($kind eq 'R')
	{
		my ($relid, $rest) = unpack('N a*', substr($m, 1));
		my ($nsp, $rel) = split /\0/, $rest;
		$relname{$relid} = "$nsp.$rel";
	}
	elsif ($kind eq 'I')
	{
		my ($relid, $n, $natts) = unpack('N a n', substr($m, 1));
		my $pos = 1 + 4 + 1 + 2;
		my @cols;
		for (1 .. $natts)
		{
			my $k = substr($m, $pos++, 1);
			if ($k eq 't')
			{
				my $len = unpack('N', substr($m, $pos, 4));
				push @cols, substr($m, $pos + 4, $len);
				$pos += 4 + $len;
			}
			else
			{
				push @cols, undef;
			}
		}
		if ($relid != $event_relid)
		{
			$po_other++;
			next;
		}
		utf8::decode($cols[3]);
		push @{ $cur->[2] }, $cols[0];
		$cur->[3]{ $cols[0] } = $cols[3];
	}
	else
	{
		$po_other++;
	}
}
is($po_other, 0, 'pgoutput: the publication sends inserts into the event table only');
is_deeply([ values %relname ], ['payment_records.event'],
	'pgoutput: the one relation described is payment_records.event');
my @po_order = check_stream('pgoutput', @po_txns);
is_deeply(\@po_order, \@td_order, 'pgoutput and test_decoding deliver the same sequence');

# --- the subscriber ------------------------------------------------------

$node->wait_for_catchup('dec_sub');
my $rows_digest = q{SELECT count(*), md5(string_agg(
	concat_ws('|', id, type, livemode, object, created), ',' ORDER BY id))
	FROM payment_records.event};
is($sub->safe_psql('postgres', $rows_digest), $q->($rows_digest),
	'the subscriber holds exactly the events of the table');
is($sub->safe_psql('postgres', q{SELECT srsubstate FROM pg_subscription_rel}),
	'r', 'the subscription is streaming');

# --- a consumer that reads part, crashes the server, reads on --------------

# pg_logical_slot_get_changes consumes what it returns, but the slot's
# position reaches the disk only at the next checkpoint: after a crash the
# slot may send transactions again.  The consumer skips every transaction
# whose COMMIT it has already processed (its LSN is not above the last one).
my @part1 = td_transactions(
	$q->(sprintf($td_sql, 'pg_logical_slot_get_changes', int($n_events / 2))));
my $last_commit = $part1[-1][4];
$node->stop('immediate');
$node->start;
my @part2 = td_transactions($q->(sprintf($td_sql, 'pg_logical_slot_get_changes', 'NULL')));
my @again = grep { $_->[4] <= $last_commit } @part2;
my @new   = grep { $_->[4] > $last_commit } @part2;
note sprintf(
	"consumer: %d transactions, then after the crash %d sent again and %d new",
	scalar @part1, scalar @again, scalar @new);
ok(@part1 && @new, 'the consumer read a part of the stream before the crash');
is_deeply([ map { @{ $_->[2] } } @part1, @new ],
	\@td_order, 'skipping what it had processed, the consumer got every event once, in order');
is( $q->(sprintf($td_sql, 'pg_logical_slot_get_changes', 'NULL')),
	'', 'the slot has nothing more to send');

# --- who may read the slot -----------------------------------------------

is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pg_logical_slot_peek_binary_changes('dec_po', NULL, NULL,
		  'proto_version', '1', 'publication_names', 'payment_records_events')},
		extra_params => [ '-U', 'dec_consumer' ]),
	scalar(@po_messages),
	'a role with REPLICATION and no other privilege reads the slot');
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres',
	q{SELECT count(*) FROM pg_logical_slot_peek_changes('dec_td', NULL, NULL)},
	extra_params => [ '-U', 'dec_nobody' ]);
like($stderr, qr/must be superuser or replication role|permission denied to use replication slots/,
	'a role without REPLICATION cannot read a slot');

# --- what pg_dump keeps of the publication -------------------------------

my $dump = "$dir/dump.sql";
$node->command_ok([ 'pg_dump', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump');
my $sql = slurp_file($dump);
like($sql, qr/CREATE PUBLICATION payment_records_events WITH \(publish = 'insert'\);/,
	'pg_dump keeps the publication (it is no member of the extension)');
# Before PostgreSQL 18, pg_dump leaves out a publication's membership of an
# extension's table; 18 dumps it.
my $major = $node->safe_psql('postgres', 'SHOW server_version_num') / 10000;
my $dumps_table = $sql =~ /ALTER PUBLICATION payment_records_events ADD TABLE ONLY payment_records\.event/ ? 1 : 0;
is($dumps_table, $major >= 18 ? 1 : 0,
	$major >= 18 ? 'pg_dump 18 dumps the publication\'s table too'
	  : 'but not its table, which the extension owns: re-add it after a restore');

# the documented repair after such a restore: re-add the table
$q->('CREATE DATABASE dec_restored');
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction',
		'-f', $dump, '-d', $node->connstr('dec_restored')
	],
	'the dump restores');
my $pub_tables = q{SELECT count(*) FROM pg_publication_tables
	WHERE pubname = 'payment_records_events'
	  AND (schemaname, tablename) = ('payment_records', 'event')};
is($node->safe_psql('dec_restored', $pub_tables),
	$dumps_table, 'the restored publication has its table exactly when the dump had it');
$node->safe_psql('dec_restored',
	'ALTER PUBLICATION payment_records_events ADD TABLE payment_records.event')
  unless $dumps_table;
is($node->safe_psql('dec_restored', $pub_tables),
	1, 'after the documented repair (when needed) the publication has its table');

$sub->stop;
$node->stop;
done_testing();
