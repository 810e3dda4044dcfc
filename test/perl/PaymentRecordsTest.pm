# test/perl/PaymentRecordsTest.pm: helpers shared by test/t/*.pl

=pod

=head1 NAME

PaymentRecordsTest - shared helpers for the payment_records TAP tests

=head1 SYNOPSIS

  use FindBin;
  use lib "$FindBin::RealBin/../perl";
  use PaymentRecordsTest;

  my $node   = pr_new_node('main');
  my %ranges = install_workload($node, hot => 4, cold => 500, pending => 10,
      hot_amount => 100000);
  my ($scripts, $kinds) = workload_scripts($dir, hot_unique => 30, payment => 20);
  IPC::Run::run(pgbench_command($node, transactions => 1000,
      scripts => $scripts, vars => \%ranges, log_prefix => "$dir/log"));
  my @entries = read_pgbench_logs("$dir/log", $kinds, 0);
  my %db = db_operations($node);
  check_acks(\@entries, \%db, label => 'after the run');
  check_invariants($node, 'postgres', 'after the run');

=head1 DESCRIPTION

What the concurrency (001) and crash (002) tests share: a pgbench workload
against payment_records whose every call carries a client-side operation id,
the parsing of pgbench's per-transaction logs (the client-side record of which
calls were acknowledged), the check that the database holds exactly the
acknowledged calls, the check of the refund invariants, and a scan of the
server log for unexpected errors.  Also small SQL helpers for 003/004.

=head2 How an acknowledgement is recorded outside the database

Logging acknowledgements into a table in the same transaction as the call
proves nothing: the ack row and the refund commit or vanish together, so a
lost commit would take its own evidence with it.  Instead every call is one
pgbench transaction, and pgbench's per-transaction log (C<-l>), written by
the client after the server answered, is the record of what was
acknowledged:

=over

=item *

Each client counts its transactions in a pgbench variable (C<-D n=0>, then
C<\set n :n + 1> first thing in every script).  pgbench's log numbers a
client's transactions the same way (1, 2, ...), failed ones included, so
the log line C<client txn ...> and the call made with C<n = txn> are the
same call.  (Were the two numberings ever to drift apart, the ids would not
match and the checks below would fail loudly, not pass.)  The call carries
the operation id C<cycle:client:n> into the database: in the refund's
metadata (C<rop>), in the refund reference (C<op:...>, for the scripts that
send no metadata), or in the payment's metadata (C<pop>).

=item *

An expected business error (a reused reference 23505, an over-refund 23514,
refunding a non-guaranteed record 55000) would make pgbench abort the
client.  The plpgsql wrappers catch exactly the SQLSTATEs the script expects
and re-raise them as C<serialization_failure> (40001) with the message
C<pr_expected NNNNN>.  pgbench (with the default C<--max-tries=1>) then logs
the transaction as C<serialization> and goes on.  Any other error is
re-raised unchanged: a client abort (fails the run), or, if it happens to be
a genuine 40001/40P01, a failed transaction whose server-log message is not
C<pr_expected> (fails the server-log check).

=item *

So after the run: every log line with a latency is an acknowledged success
and its operation id must be in the tables; every C<serialization> line is an
acknowledged failure and its id must not be; and an id in the tables that
the log does not mention is a phantom, except (after a crash) the one call
per client that was in flight when the server went away (C<n> = last logged
transaction + 1), which may or may not have committed.

=back

=cut

package PaymentRecordsTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(
  pr_new_node
  live_sql
  sql_quote
  payment_json
  refund_json
  sqlstate_of
  install_workload
  add_cold_records
  workload_scripts
  pgbench_command
  read_pgbench_logs
  db_operations
  check_acks
  check_invariants
  check_events
  log_offset
  check_server_errors
  env_int
);

# A positive integer from the environment, or the default.
sub env_int
{
	my ($name, $default) = @_;
	my $v = $ENV{$name};
	return $default unless defined $v && $v ne '';
	die "$name must be a positive integer, not \"$v\"\n"
	  unless $v =~ /^\d+$/ && $v > 0;
	return $v + 0;
}

=pod

=head2 pr_new_node($name, %opts)

A new, started node with C<payment_records> created in database C<postgres>.
C<log_statement> is turned off (the test cluster default logs every
statement, which for tens of thousands of calls only costs time), and
C<conf> lines are appended.  C<restart_after_crash> stays off.

=cut

sub pr_new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		join("\n", "log_statement = none", @{ $opts{conf} // [] }));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION payment_records')
	  unless $opts{no_extension};
	return $node;
}

=pod

=head2 live_sql()

SQL that makes the rest of a session act in live mode.  Since 1.1 the
mode is the caller's role: live for members of C<payment_records_live>
(superusers included only as members).  This creates, once per cluster,
the login-less role C<regress_live>, a member of C<payment_records_live>
and C<payment_records_writer>, and switches to it (C<SET ROLE>).  Run it
where the extension exists: the install script creates those roles.

=cut

sub live_sql
{
	return q{DO $pr_live$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_live') THEN
		CREATE ROLE regress_live NOLOGIN IN ROLE payment_records_live, payment_records_writer;
	END IF;
END
$pr_live$;
SET ROLE regress_live;
};
}

# A SQL string literal.
sub sql_quote
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

# JSON string literal (the parameters built here hold plain ASCII).
sub _json_str
{
	my ($s) = @_;
	$s =~ s/(["\\])/\\$1/g;
	return "\"$s\"";
}

sub _json_meta
{
	my ($meta) = @_;
	return join(',',
		map { _json_str($_) . ':' . _json_str($meta->{$_}) } sort keys %$meta);
}

=pod

=head2 payment_json(%p)

The report_payment body as JSON text: C<amount> (default 1000), C<currency>
(usd), C<outcome> (C<guaranteed> by default; C<pending> sends none,
C<failed> a failed hash), C<metadata> (hashref), C<description>.

=cut

sub payment_json
{
	my (%p) = @_;
	my $outcome = $p{outcome} // 'guaranteed';
	my @f = (
		'"amount_requested":{"currency":'
		  . _json_str($p{currency} // 'usd')
		  . ',"value":'
		  . ($p{amount} // 1000) . '}',
		'"initiated_at":1730253453',
		'"payment_method_details":{"payment_method":"pm_123"}');
	push @f, '"outcome":"guaranteed","guaranteed":{"guaranteed_at":1730253460}'
	  if $outcome eq 'guaranteed';
	push @f, '"outcome":"failed","failed":{"failed_at":1730253460}'
	  if $outcome eq 'failed';
	push @f, '"metadata":{' . _json_meta($p{metadata}) . '}'
	  if $p{metadata};
	push @f, '"description":' . _json_str($p{description})
	  if defined $p{description};
	return '{' . join(',', @f) . '}';
}

=pod

=head2 refund_json(%p)

The report_refund body: C<amount> (omitted: refund what remains),
C<currency> (usd), C<reference>, C<metadata> (hashref).

=cut

sub refund_json
{
	my (%p) = @_;
	my @f = ('"outcome":"refunded"');
	push @f,
	  '"amount":{"currency":'
	  . _json_str($p{currency} // 'usd')
	  . ',"value":'
	  . $p{amount} . '}'
	  if defined $p{amount};
	push @f,
	  defined $p{reference}
	  ? '"processor_details":{"type":"custom","custom":{"refund_reference":'
	  . _json_str($p{reference}) . '}}'
	  : '"processor_details":{"type":"custom"}';
	push @f, '"metadata":{' . _json_meta($p{metadata}) . '}'
	  if $p{metadata};
	return '{' . join(',', @f) . '}';
}

=pod

=head2 sqlstate_of($node, $db, $sql, %opts)

Runs C<$sql> (one statement) in a subtransaction and returns its SQLSTATE,
or C<ok> when it succeeded.  C<setup> is SQL run before it in the same
session (e.g. C<live_sql()>).  A statement that
succeeds is kept (committed).

=cut

sub sqlstate_of
{
	my ($node, $db, $sql, %opts) = @_;
	die "statement must not contain the dollar-quote tag" if $sql =~ /\$pr_q\$/;
	my $out = $node->safe_psql(
		$db, ($opts{setup} // '') . q{
CREATE FUNCTION pg_temp.pr_sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS $f$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$f$;
SELECT pg_temp.pr_sqlstate_of($pr_q$} . $sql . q{$pr_q$);
});
	return $out;
}

=pod

=head2 install_workload($node, %p)

Creates, in database C<postgres>, the pgbench workload's helper objects
(outside the extension's schema) and its pre-existing records:

=over

=item C<bench_rec(k, id, kind)>

maps a small integer, which pgbench can draw at random, to a record id:
C<hot> records 1..hot (amount C<hot_amount>, refunded by many clients at
once), C<pending> records after them (no outcome: refunding them must fail with
55000), then C<cold> records (amounts 500..4999; see C<add_cold_records>).

=item C<bench_refund(k, amount, ref, op, expected, with_meta)>

calls report_refund on record C<k> (C<amount> NULL: refund what remains;
C<ref> NULL: no reference), with metadata C<{"rop": op}> unless
C<with_meta> is false; turns the SQLSTATEs in C<expected> into 40001
C<pr_expected NNNNN> (see the DESCRIPTION), and checks the returned object.

=item C<bench_payment(amount, guaranteed, op)>

calls report_payment with metadata C<{"pop": op}>; no error is expected.

=back

Returns a hash of the C<k> ranges (C<hot_lo>, C<hot_hi>, C<cold_lo>, ...),
which C<workload_scripts> passes to pgbench.

=cut

sub install_workload
{
	my ($node, %p) = @_;
	my $hot     = $p{hot}     // 4;
	my $cold    = $p{cold}    // 200;
	my $pending = $p{pending} // 10;
	my $hot_amount = $p{hot_amount} // 100000;
	my %r = (
		hot_lo  => 1,
		hot_hi  => $hot,
		pend_lo => $hot + 1,
		pend_hi => $hot + $pending,
		cold_lo => $hot + $pending + 1,
		cold_hi => $hot + $pending + $cold,
		pool    => $p{pool} // 500);

	$node->safe_psql(
		'postgres', qq{
CREATE TABLE bench_rec (k int PRIMARY KEY, id text NOT NULL, kind text NOT NULL);

CREATE FUNCTION bench_payment_params(amount bigint, guaranteed boolean, meta jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS \$\$
	SELECT jsonb_build_object(
		'amount_requested', jsonb_build_object('currency', 'usd', 'value', amount),
		'initiated_at', 1730253453,
		'payment_method_details', jsonb_build_object('payment_method', 'pm_bench'))
	|| CASE WHEN guaranteed THEN
		'{"outcome": "guaranteed", "guaranteed": {"guaranteed_at": 1730253460}}'::jsonb
	   ELSE '{}'::jsonb END
	|| CASE WHEN meta IS NULL THEN '{}'::jsonb
	   ELSE jsonb_build_object('metadata', meta) END
\$\$;

-- One report_refund, as one pgbench transaction (see PaymentRecordsTest.pm).
CREATE FUNCTION bench_refund(k int, amount bigint, ref text, op text,
							 expected text[], with_meta boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	rid		text;
	params	jsonb;
	res		jsonb;
BEGIN
	SELECT r.id INTO STRICT rid FROM bench_rec r WHERE r.k = bench_refund.k;
	params := jsonb_build_object('outcome', 'refunded', 'processor_details',
		CASE WHEN ref IS NULL THEN '{"type": "custom"}'::jsonb
		ELSE jsonb_build_object('type', 'custom', 'custom',
								jsonb_build_object('refund_reference', ref)) END);
	IF with_meta THEN
		params := params || jsonb_build_object('metadata', jsonb_build_object('rop', op));
	END IF;
	IF amount IS NOT NULL THEN
		params := params || jsonb_build_object('amount',
			jsonb_build_object('currency', 'usd', 'value', amount));
	END IF;
	BEGIN
		res := payment_records.report_refund(rid, params);
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE = ANY (expected) THEN
			RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
				MESSAGE = 'pr_expected ' || SQLSTATE;
		END IF;
		RAISE;
	END;
	-- the answer itself must be consistent; an error here aborts the client
	IF res->>'id' IS DISTINCT FROM rid
	   OR (res->'amount_refunded'->>'value')::bigint
		  > (res->'amount_guaranteed'->>'value')::bigint
	   OR (res->'amount_refunded'->>'value')::bigint < coalesce(amount, 1) THEN
		RAISE EXCEPTION 'report_refund returned an inconsistent record: %', res;
	END IF;
END
\$\$;

-- One report_payment; any error is unexpected.
CREATE FUNCTION bench_payment(amount bigint, guaranteed boolean, op text)
RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	res jsonb;
BEGIN
	res := payment_records.report_payment(
		bench_payment_params(amount, guaranteed, jsonb_build_object('pop', op)));
	IF res->>'id' NOT LIKE 'pr\\_%' OR (res->'amount'->>'value')::bigint <> amount
	   OR res->'metadata'->>'pop' IS DISTINCT FROM op THEN
		RAISE EXCEPTION 'report_payment returned an unexpected record: %', res;
	END IF;
END
\$\$;

INSERT INTO bench_rec
SELECT g, payment_records.report_payment(bench_payment_params($hot_amount, true, NULL))->>'id', 'hot'
FROM generate_series($r{hot_lo}, $r{hot_hi}) g;
INSERT INTO bench_rec
SELECT g, payment_records.report_payment(bench_payment_params(1000, false, NULL))->>'id', 'pending'
FROM generate_series($r{pend_lo}, $r{pend_hi}) g;
});
	add_cold_records($node, $r{cold_lo}, $r{cold_hi});
	return %r;
}

=pod

=head2 add_cold_records($node, $lo, $hi)

Adds guaranteed records C<k> = C<$lo>..C<$hi> of kind C<cold> to
C<bench_rec> (amounts 500..4999).  A long run can move the cold range
(C<cold_lo>, C<cold_hi>) on to fresh records this way.

=cut

sub add_cold_records
{
	my ($node, $lo, $hi) = @_;
	$node->safe_psql(
		'postgres', qq{
INSERT INTO bench_rec
SELECT g, payment_records.report_payment(
	bench_payment_params(500 + (g * 7919) % 4500, true, NULL))->>'id', 'cold'
FROM generate_series($lo, $hi) g;
});
	return;
}

=pod

=head2 workload_scripts($dir, %weights)

Writes the pgbench scripts into C<$dir> and returns (\@f_options, \@kinds):
the C<-f file@weight> options in order and, for each script number pgbench
logs, whether it makes a C<refund> or a C<payment>.  Scripts with weight 0
are left out.  Known scripts:

  hot_unique  refund 1..100 of a hot record, unique reference   expects 23514
  hot_pool    refund 1..100 of a hot record, reference from a
              small pool per cycle (so references collide)      expects 23505, 23514
  hot_rr      like hot_unique inside REPEATABLE READ, no
              metadata (the id travels in the reference)        expects 23514, 40001
              (40001: the record's latest attempt changed after
              the snapshot -- the other scripts' refunds merge
              their metadata into it -- so the client must retry)
  cold        refund 1..300 of a cold record, half without a
              reference                                         expects 23514
  cold_big    refund up to 6000 of a cold record, or (1 in 4)
              all that remains                                  expects 23514
  pending     refund a pending record                           expects 55000
  payment     a new record, guaranteed (3 in 4) or pending      expects nothing

=cut

my %script_text = (
	hot_unique => [
		'refund', q{\set k random(:hot_lo, :hot_hi)
\set amt random(1, 100)
SELECT bench_refund(:k, :amt, 'u:' || concat_ws(':', :cyc, :client_id, :n),
	concat_ws(':', :cyc, :client_id, :n), '{23514}');
}
	],
	hot_pool => [
		'refund', q{\set k random(:hot_lo, :hot_hi)
\set amt random(1, 100)
\set p random(1, :pool)
SELECT bench_refund(:k, :amt, 'pool-' || :cyc || '-' || :p,
	concat_ws(':', :cyc, :client_id, :n), '{23505,23514}');
}
	],
	hot_rr => [
		'refund', q{\set k random(:hot_lo, :hot_hi)
\set amt random(1, 100)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT bench_refund(:k, :amt, 'op:' || concat_ws(':', :cyc, :client_id, :n),
	concat_ws(':', :cyc, :client_id, :n), '{23514,40001}', false);
END;
}
	],
	cold => [
		'refund', q{\set k random(:cold_lo, :cold_hi)
\set amt random(1, 300)
\set withref random(0, 1)
SELECT bench_refund(:k, :amt,
	CASE WHEN :withref = 1 THEN 'c:' || concat_ws(':', :cyc, :client_id, :n) END,
	concat_ws(':', :cyc, :client_id, :n), '{23514}');
}
	],
	cold_big => [
		'refund', q{\set k random(:cold_lo, :cold_hi)
\set amt random(1, 6000)
\set rest random(0, 3)
SELECT bench_refund(:k, CASE WHEN :rest = 0 THEN NULL ELSE :amt END,
	'b:' || concat_ws(':', :cyc, :client_id, :n),
	concat_ws(':', :cyc, :client_id, :n), '{23514}');
}
	],
	pending => [
		'refund', q{\set k random(:pend_lo, :pend_hi)
\set amt random(1, 100)
SELECT bench_refund(:k, :amt, NULL, concat_ws(':', :cyc, :client_id, :n), '{55000}');
}
	],
	payment => [
		'payment', q{\set amt random(100, 5000)
\set g random(0, 3)
SELECT bench_payment(:amt, :g > 0, concat_ws(':', :cyc, :client_id, :n));
}
	],);

sub workload_scripts
{
	my ($dir, %weights) = @_;
	my (@opts, @kinds);
	for my $name (sort keys %weights)
	{
		next unless $weights{$name};
		die "unknown script $name" unless $script_text{$name};
		my ($kind, $body) = @{ $script_text{$name} };
		my $file = "$dir/$name.sql";
		# the transaction counter first, whatever the script does next
		open my $fh, '>', $file or die "cannot write $file: $!";
		print $fh "\\set n :n + 1\n", $body;
		close $fh;
		push @opts,  '-f', "$file\@$weights{$name}";
		push @kinds, $kind;
	}
	return (\@opts, \@kinds);
}

=pod

=head2 pgbench_command($node, %p)

The pgbench command line: C<clients>, C<threads>, C<transactions> per client
or C<duration> seconds, C<scripts> (the -f options), C<vars> (hash for -D,
C<n> and C<cyc> added), C<log_prefix>, C<seed> (--random-seed), C<rate>
(-R, transactions per second, all clients together).

=cut

sub pgbench_command
{
	my ($node, %p) = @_;
	my %vars = (%{ $p{vars} }, n => 0, cyc => $p{cycle} // 0);
	return [
		'pgbench', '-n',
		'-h', $node->host, '-p', $node->port,
		'-c', $p{clients} // 8,
		'-j', $p{threads} // 2,
		defined $p{duration}
		? ('-T', $p{duration})
		: ('-t', $p{transactions}),
		'--failures-detailed',
		(defined $p{seed} ? ("--random-seed=$p{seed}") : ()),
		(defined $p{rate} ? ('-R', $p{rate}) : ()),
		'-l', "--log-prefix=$p{log_prefix}",
		(map { ('-D', "$_=$vars{$_}") } sort keys %vars),
		@{ $p{scripts} },
		'postgres'
	];
}

=pod

=head2 read_pgbench_logs($prefix, $kinds, $cycle)

Parses every C<$prefix.*> per-transaction log.  Returns a list of hashes
C<{op, client, txn, kind, ok}>: C<ok> is 1 for a committed transaction
(a latency is logged), 0 for a failed one (C<serialization>, C<deadlock>,
C<failed>).  Dies on a line it does not understand.

=cut

sub read_pgbench_logs
{
	my ($prefix, $kinds, $cycle) = @_;
	my @entries;
	for my $file (glob("$prefix.*"))
	{
		open my $fh, '<', $file or die "cannot read $file: $!";
		while (my $line = <$fh>)
		{
			chomp $line;
			# client_id transaction_no time script_no time_epoch time_us
			my ($client, $txn, $time, $script) = split ' ', $line;
			die "unexpected pgbench log line in $file: $line"
			  unless defined $script
			  && $client =~ /^\d+$/
			  && $txn    =~ /^\d+$/
			  && $script =~ /^\d+$/
			  && defined $kinds->[$script];
			my $ok;
			if    ($time =~ /^\d+$/) { $ok = 1 }
			elsif ($time =~ /^(?:serialization|deadlock|failed)$/) { $ok = 0 }
			else { die "unexpected pgbench log status in $file: $line" }
			push @entries,
			  {
				op     => "$cycle:$client:$txn",
				cycle  => $cycle,
				client => $client,
				txn    => $txn,
				kind   => $kinds->[$script],
				ok     => $ok,
				status => $time
			  };
		}
		close $fh;
	}
	return @entries;
}

=pod

=head2 db_operations($node)

The operation ids present in the tables: a hash C<op =E<gt> kind>
(C<refund> or C<payment>), from refund metadata C<rop>, refund references
C<op:...> and first-attempt metadata C<pop>.  Dies if one id is present
twice (that would itself be a lost-or-doubled write).

=cut

sub db_operations
{
	my ($node) = @_;
	my $out = $node->safe_psql(
		'postgres', q{
SELECT 'refund', op FROM (
	SELECT coalesce(metadata->>'rop', substring(refund_reference FROM '^op:(.*)$')) AS op
	FROM payment_records.refund) r
WHERE op IS NOT NULL
UNION ALL
SELECT 'payment', metadata->>'pop' FROM payment_records.payment_attempt_record
WHERE attempt = 1 AND metadata ? 'pop'
});
	my %ops;
	for my $line (split /\n/, $out)
	{
		my ($kind, $op) = split /\|/, $line;
		die "operation $op is present twice" if exists $ops{$op};
		$ops{$op} = $kind;
	}
	return %ops;
}

=pod

=head2 check_acks($entries, $db_ops, %opts)

The acknowledgement check described in the DESCRIPTION, as test
assertions, over all the log entries given (all cycles so far) and all the
ids in the tables.  C<in_flight> allows, per cycle and client, one id in the
tables that the log does not mention: the call after the client's last
logged one, cut off by a crash.  Returns a hash of counts.

=cut

sub check_acks
{
	my ($entries, $db_ops, %opts) = @_;
	my $label = $opts{label} // '';
	my (%logged, %last, @lost, @wrong_kind, @failed_present);
	my %n = (ok => 0, failed => 0, refund_ok => 0, payment_ok => 0,
		in_flight => 0);

	for my $e (@$entries)
	{
		my $who = "$e->{cycle}:$e->{client}";
		$logged{ $e->{op} } = $e;
		$last{$who} = $e->{txn}
		  if !defined $last{$who} || $e->{txn} > $last{$who};
		if ($e->{ok})
		{
			$n{ok}++;
			$n{"$e->{kind}_ok"}++;
			if (!exists $db_ops->{ $e->{op} })
			{
				push @lost, "$e->{op} ($e->{kind})";
			}
			elsif ($db_ops->{ $e->{op} } ne $e->{kind})
			{
				push @wrong_kind, $e->{op};
			}
		}
		else
		{
			$n{failed}++;
			push @failed_present, $e->{op} if exists $db_ops->{ $e->{op} };
		}
	}

	my (@phantom, %in_flight);
	for my $op (sort keys %$db_ops)
	{
		next if exists $logged{$op};
		my ($cyc, $client, $txn) = split /:/, $op;
		my $who = "$cyc:$client";
		if ($opts{in_flight}
			&& $txn == ($last{$who} // 0) + 1
			&& !$in_flight{$who}++)
		{
			$n{in_flight}++;
			next;
		}
		push @phantom, $op;
	}

	is(scalar(@lost), 0,
		"$label: every acknowledged call is in the tables ($n{ok} acknowledged)")
	  or diag("acknowledged but missing: " . _first(@lost));
	is(scalar(@wrong_kind), 0,
		"$label: every acknowledged call left the kind of row it should")
	  or diag("wrong kind: " . _first(@wrong_kind));
	is(scalar(@failed_present), 0,
		"$label: no call that failed ($n{failed}) left a row")
	  or diag("failed but present: " . _first(@failed_present));
	is(scalar(@phantom), 0,
		"$label: no row without an acknowledgement"
		  . ($opts{in_flight} ? ' (besides one in-flight call per client)' : ''))
	  or diag("present but never acknowledged: " . _first(@phantom));
	return %n;
}

# The first 20 items, for a diagnostic.
sub _first
{
	my @l = @_;
	return join(' ', @l > 20 ? (@l[0 .. 19], '...') : @l);
}

=pod

=head2 check_invariants($node, $db, $label, %opts)

Asserts, over every record and refund in C<$db>: refunds of a record sum to
at most its amount, only on records whose latest attempt is guaranteed, in
the record's mode; refund_no runs 1..n without gaps; each refunded_total is
the running sum and the last one is the sum; references are unique per
mode; amounts are positive; and retrieve_payment_record() reports the same
amount_refunded (and never more than amount_guaranteed), in both modes.
C<api =E<gt> 0> skips the retrieve_payment_record part (one call per
record, the slow part on big tables).  Returns a hash: records, refunds,
refunded (total amount).

=cut

sub check_invariants
{
	my ($node, $db, $label, %opts) = @_;
	my $q = sub { $node->safe_psql($db, shift) };

	my $per_record = q{
WITH agg AS (
	SELECT p.seq, p.id, p.livemode, p.amount,
		   coalesce(sum(f.amount), 0) AS refunded,
		   coalesce(max(f.refunded_total), 0) AS head_total,
		   count(f.refund_no) AS n,
		   coalesce(max(f.refund_no), 0) AS max_no,
		   coalesce(min(f.refund_no), 1) AS min_no,
		   count(*) FILTER (WHERE f.livemode <> p.livemode) AS wrong_mode,
		   count(*) FILTER (WHERE f.amount <= 0) AS non_positive
	FROM payment_records.payment_record p
	LEFT JOIN payment_records.refund f ON f.record_seq = p.seq
	GROUP BY p.seq, p.id, p.livemode, p.amount)
};
	my ($over, $head, $gaps, $mode, $nonpos) = split /\|/, $q->(
		$per_record . q{
SELECT count(*) FILTER (WHERE refunded > amount),
	   count(*) FILTER (WHERE head_total <> refunded),
	   count(*) FILTER (WHERE n <> max_no OR min_no <> 1),
	   sum(wrong_mode),
	   sum(non_positive)
FROM agg});
	is($over,   0, "$label: no record is refunded beyond its amount");
	is($head,   0, "$label: the last refunded_total of each record is the sum of its refunds");
	is($gaps,   0, "$label: refund_no runs 1..n without gaps");
	is($mode,   0, "$label: refunds are in their record's mode");
	is($nonpos, 0, "$label: refund amounts are positive");

	is( $q->(
			q{
SELECT count(*) FROM (
	SELECT refunded_total,
		   sum(amount) OVER (PARTITION BY record_seq ORDER BY refund_no) AS running
	FROM payment_records.refund) x
WHERE refunded_total <> running}),
		0,
		"$label: every refunded_total is the running sum of its chain");
	is( $q->(
			q{
SELECT count(*) FROM (
	SELECT 1 FROM payment_records.refund WHERE refund_reference IS NOT NULL
	GROUP BY livemode, refund_reference HAVING count(*) > 1) d}),
		0,
		"$label: refund references are unique per mode");
	is( $q->(
			q{
SELECT count(DISTINCT f.record_seq) FROM payment_records.refund f
WHERE (SELECT a.status FROM payment_records.payment_attempt_record a
	   WHERE a.record_seq = f.record_seq ORDER BY a.attempt DESC LIMIT 1)
	  IS DISTINCT FROM 'guaranteed'}),
		0,
		"$label: only records whose latest attempt is guaranteed have refunds");

	# The API view of the same numbers, in each mode (the other mode's
	# records do not exist for the API).
	my $api = 0;
	# (live mode is the role's: live_sql() switches to a live member)
	for my $live ($opts{api} // 1 ? ('false', 'true') : ())
	{
		$api += $q->(
			($live eq 'true' ? live_sql() : '') . $per_record . qq{
, api AS (
	SELECT agg.*, payment_records.retrieve_payment_record(id) AS obj
	FROM agg WHERE livemode = $live)
SELECT count(*) FROM api
WHERE (obj->'amount_refunded'->>'value')::bigint IS DISTINCT FROM refunded
   OR (obj->'amount_refunded'->>'value')::bigint
	  > (obj->'amount_guaranteed'->>'value')::bigint
   OR obj->'amount_refunded'->>'currency' IS DISTINCT FROM obj->'amount'->>'currency'});
	}
	is($api, 0,
		"$label: retrieve_payment_record reports each record's refunded sum")
	  if $opts{api} // 1;

	my ($records, $refunds, $refunded) = split /\|/, $q->(
		q{
SELECT (SELECT count(*) FROM payment_records.payment_record),
	   (SELECT count(*) FROM payment_records.refund),
	   (SELECT coalesce(sum(amount), 0) FROM payment_records.refund)});
	return (records => $records, refunds => $refunds, refunded => $refunded);
}

=pod

=head2 check_events($node, $db, $label)

The change events (payment_records.event, one per successful write, in the
write's transaction) match the tables: every record has exactly one
C<payment_record.reported> event and as many C<payment_record.refunded>
events as refunds; no event names a record that does not exist; and each
refunded event's C<amount_refunded> is the running total of one of that
record's refunds.  After a crash this shows the event committed exactly
when its write did.

=cut

sub check_events
{
	my ($node, $db, $label) = @_;
	my ($counts, $orphans, $totals) = split /\|/, $node->safe_psql(
		$db, q{
WITH ev AS (
	SELECT object->>'id' AS id,
		   count(*) FILTER (WHERE type = 'payment_record.reported') AS reported,
		   count(*) FILTER (WHERE type = 'payment_record.refunded') AS refunded
	FROM payment_records.event GROUP BY 1),
rf AS (SELECT record_seq, count(*) AS n FROM payment_records.refund GROUP BY 1)
SELECT
	(SELECT count(*) FROM payment_records.payment_record p
	 LEFT JOIN ev ON ev.id = p.id LEFT JOIN rf ON rf.record_seq = p.seq
	 WHERE coalesce(ev.reported, 0) <> 1 OR coalesce(ev.refunded, 0) <> coalesce(rf.n, 0)),
	(SELECT count(*) FROM ev
	 WHERE NOT EXISTS (SELECT 1 FROM payment_records.payment_record p WHERE p.id = ev.id)),
	(SELECT count(*)
	 FROM (SELECT e.object->>'id' AS id,
				  (e.object->'amount_refunded'->>'value')::bigint AS total
		   FROM payment_records.event e WHERE e.type = 'payment_record.refunded') x
	 LEFT JOIN (SELECT p.id, f.refunded_total
				FROM payment_records.payment_record p
				JOIN payment_records.refund f ON f.record_seq = p.seq) y
		ON y.id = x.id AND y.refunded_total = x.total
	 WHERE y.id IS NULL)});
	is($counts, 0,
		"$label: one reported event per record, one refunded event per refund");
	is($orphans, 0, "$label: no event about a record that does not exist");
	is($totals, 0,
		"$label: every refunded event shows a refund's running total");
	return;
}

=pod

=head2 log_offset($node) / check_server_errors($node, $offset, %opts)

The server log's size now, and, from that offset on, the ERROR lines: every
one must be a C<pr_expected NNNNN> raised by the wrappers.  Returns a hash
SQLSTATE => count of the expected ones (C<total> too).

=cut

sub log_offset
{
	my ($node) = @_;
	return -s $node->logfile // 0;
}

sub check_server_errors
{
	my ($node, $offset, %opts) = @_;
	my $label = $opts{label} // '';
	my $log = slurp_file($node->logfile);
	$log = substr($log, $offset) if $offset <= length($log);
	my (%codes, @other);
	$codes{total} = 0;
	for my $line (split /\n/, $log)
	{
		next unless $line =~ /\b(?:ERROR|PANIC):\s+(.*)$/;
		my $msg = $1;
		if ($msg =~ /^pr_expected (\w{5})$/)
		{
			$codes{$1}++;
			$codes{total}++;
		}
		else
		{
			push @other, $line;
		}
	}
	is(scalar(@other), 0,
		"$label: the server logged no error other than the expected ones")
	  or diag(join("\n", @other > 20 ? @other[0 .. 19] : @other));
	return %codes;
}

1;
