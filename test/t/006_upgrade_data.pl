# test/t/006_upgrade_data.pl: 1.0 -> 1.1 with real data carried across.
#
# Version 1.0 is installed and given, through the API, a data set like a
# user's: payments in every state, records with several attempts, partial
# and full refunds, refund references, metadata, idempotency keys (answers
# and stored errors), events, in both modes.  Then ALTER EXTENSION
# payment_records UPDATE, and:
#   - every record and attempt retrieves exactly as before, in its mode,
#     and every list page is the same;
#   - every invariant holds over the tables;
#   - every idempotency key replays its answer (or error) and writes
#     nothing;
#   - new writes work, the 1.1 rules included: a reused 1.0 reference is
#     refused (the reference index was rebuilt), a 5,000-character
#     reference is accepted, direct DML is checked by the new triggers;
#   - the update is refused, with a hint, while the extension's schema
#     belongs to another role (a 1.0 install into a squatted schema), and
#     goes through once that is mended.
# The catalog of the updated extension is compared with a fresh 1.1 by
# 004_upgrade_parity.pl.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PaymentRecordsTest;
use Test::More;

my $node = pr_new_node('upgrade_data', no_extension => 1);
my $db = 'postgres';
my $q = sub { $node->safe_psql($db, shift) };
my ($rc, $out, $err);

# The live role exists cluster-wide before 1.1 creates it (as it would on
# a cluster where another database has 1.1): the library decides the mode.
$q->(q{
	CREATE ROLE payment_records_live NOLOGIN;
	CREATE EXTENSION payment_records VERSION '1.0';
	CREATE ROLE regress_up_live IN ROLE payment_records_writer, payment_records_live;
});
is($q->("SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
	'1.0', 'version 1.0 installed');

# A data set, through the API, in both modes.
$q->(q{
CREATE TABLE up_ids (mode text, kind text, id text);
CREATE FUNCTION up_pay(outcome text, n int) RETURNS text LANGUAGE sql AS $$
	SELECT payment_records.report_payment(jsonb_build_object(
		'amount_requested', jsonb_build_object('currency', CASE WHEN n % 3 = 0 THEN 'jpy' ELSE 'usd' END, 'value', 1000 * n),
		'initiated_at', 1730253453 + n,
		'description', 'upgrade ' || n,
		'metadata', jsonb_build_object('n', n::text, 'kind', outcome),
		'customer_details', jsonb_build_object('email', 'c' || n || '@example.com'),
		'payment_method_details', jsonb_build_object('payment_method', 'pm_' || n,
			'billing_details', jsonb_build_object('name', 'N ' || n)))
		|| CASE outcome WHEN 'pending' THEN '{}'::jsonb
		   ELSE jsonb_build_object('outcome', outcome, outcome, jsonb_build_object(outcome || '_at', 1730253460 + n)) END,
		'up-pay-' || outcome || '-' || n || '-' || current_user) ->> 'id'
$$;
CREATE FUNCTION up_refund(id text, amount int, ref text, key text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT payment_records.report_refund(id, jsonb_build_object('outcome', 'refunded',
		'processor_details', jsonb_build_object('type', 'custom')
			|| CASE WHEN ref IS NULL THEN '{}'::jsonb
			   ELSE jsonb_build_object('custom', jsonb_build_object('refund_reference', ref)) END,
		'metadata', jsonb_build_object('refund', left(coalesce(ref, 'none'), 40)))
		|| CASE WHEN amount IS NULL THEN '{}'::jsonb
		   ELSE jsonb_build_object('amount', jsonb_build_object(
				'currency', (SELECT currency FROM payment_records.payment_record WHERE payment_record.id = up_refund.id),
				'value', amount)) END, key)
$$;
CREATE FUNCTION up_load(mode text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	i int;
	id text;
BEGIN
	FOR i IN 1 .. 12 LOOP
		INSERT INTO up_ids VALUES (mode, 'pending', up_pay('pending', i));
		id := up_pay('guaranteed', i);
		INSERT INTO up_ids VALUES (mode, 'guaranteed', id);
		-- partial refunds, one with a reference, one under a key
		PERFORM up_refund(id, 100 * i, mode || '-ref-' || i, NULL);
		PERFORM up_refund(id, 50, NULL, mode || '-refund-key-' || i);
		IF i % 2 = 0 THEN
			-- the rest: fully refunded
			PERFORM up_refund(id, NULL, mode || '-ref-full-' || i, mode || '-full-key-' || i);
		END IF;
		-- failed, then a new attempt, guaranteed
		id := up_pay('failed', i);
		INSERT INTO up_ids VALUES (mode, 'retried', id);
		PERFORM payment_records.report_payment_attempt(id, jsonb_build_object(
			'initiated_at', 1730253500 + i, 'description', 'second try',
			'metadata', jsonb_build_object('try', '2')), mode || '-attempt-key-' || i);
		PERFORM payment_records.report_payment_attempt_guaranteed(id,
			jsonb_build_object('guaranteed_at', 1730253600 + i));
		PERFORM up_refund(id, 10, NULL, NULL);
		-- canceled, and a record with an informational update
		id := up_pay('pending', 200 + i);
		PERFORM payment_records.report_payment_attempt_canceled(id,
			jsonb_build_object('canceled_at', 1730253700 + i, 'metadata', jsonb_build_object('why', 'gone')));
		INSERT INTO up_ids VALUES (mode, 'canceled', id);
		id := up_pay('pending', 100 + i);
		PERFORM payment_records.report_payment_attempt_informational(id,
			jsonb_build_object('description', 'updated', 'metadata', jsonb_build_object('n', '')));
		INSERT INTO up_ids VALUES (mode, 'informational', id);
	END LOOP;
END $$;
SELECT up_load('test');
GRANT ALL ON up_ids TO regress_up_live;
SET ROLE regress_up_live;
SELECT up_load('live');
RESET ROLE;
});

# A stored error under a key: an over-refund (23514) replays as an error.
my ($g) = $q->("SELECT id FROM up_ids WHERE mode = 'test' AND kind = 'guaranteed' ORDER BY id LIMIT 1");
$q->(qq{SELECT * FROM payment_records.request('POST', '/v1/payment_records/$g/report_refund',
	'{"outcome": "refunded", "amount": {"currency": "usd", "value": 99999999}, "processor_details": {"type": "custom"}}',
	'up-error-key')});

is($q->('SELECT count(*) FROM payment_records.refund'), '84', 'refunds written under 1.0 (42 per mode)');
is($q->('SELECT count(DISTINCT livemode) FROM payment_records.payment_record'), '2', 'both modes written');

# What every object looks like, in its mode (the role decides the mode).
my $snapshot_sql = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT mode || ' ' || kind || ' ' || payment_records.retrieve_payment_record(id)::text AS x
		FROM up_ids WHERE mode = current_setting('up.mode')
		UNION ALL
		SELECT mode || ' attempts ' || (payment_records.list_payment_attempt_records(
			jsonb_build_object('payment_record', id, 'limit', 100)))::text
		FROM up_ids WHERE mode = current_setting('up.mode')
		UNION ALL
		SELECT 'list ' || payment_records.list_payment_records('{"limit": 100}')::text) s};
my %before;
$before{test} = $q->("SET up.mode = 'test';" . $snapshot_sql);
$before{live} = $q->("SET up.mode = 'live'; SET ROLE regress_up_live;" . $snapshot_sql);
my $counts_sql = q{SELECT concat_ws(' ',
	(SELECT count(*) FROM payment_records.payment_record),
	(SELECT count(*) FROM payment_records.payment_attempt_record),
	(SELECT count(*) FROM payment_records.refund),
	(SELECT count(*) FROM payment_records.idempotency_key),
	(SELECT count(*) FROM payment_records.event))};
my $counts = $q->($counts_sql);

# The replay of every key, before.
my $replay_sql = q{
	SELECT string_agg(k.key || ' ' || coalesce(k.response::text, k.error::text), E'\n' ORDER BY k.key)
	FROM payment_records.idempotency_key k WHERE k.livemode = (current_setting('up.mode') = 'live')};
$before{keys_test} = $q->("SET up.mode = 'test'; $replay_sql");
$before{keys_live} = $q->("SET up.mode = 'live'; $replay_sql");

# ---------------------------------------------------------------------
# Rows written directly under 1.0 that 1.1 would refuse block the update.
# ---------------------------------------------------------------------
my $planted = $q->(q{SELECT id || '|' || coalesce(customer_presence, '') FROM payment_records.payment_attempt_record ORDER BY id LIMIT 1});
my ($pid, $presence) = split /\|/, $planted, -1;
# (the 1.1 library's checks already run in a 1.0 database: rows like these
# come from 1.0 code, or from 1.0's triggers silenced by
# session_replication_role, which 1.1's fire through)
$q->(qq{SET session_replication_role = replica;
	INSERT INTO payment_records.event (type, livemode, object, created)
	VALUES ('junk', false, '[1]', now());
	UPDATE payment_records.payment_attempt_record SET customer_presence = 'bogus' WHERE id = '$pid'});
($rc, $out, $err) = $node->psql($db, 'ALTER EXTENSION payment_records UPDATE');
isnt($rc, 0, 'the update is refused while the tables hold rows 1.1 refuses');
like($err, qr/holds rows that version 1\.1 refuses: 1 payment attempts; 1 events;/, '... saying which');
is($q->("SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
	'1.0', '... and nothing was updated');
$q->(qq{SET session_replication_role = replica;
	DELETE FROM payment_records.event WHERE type = 'junk';
	UPDATE payment_records.payment_attempt_record SET customer_presence = nullif('$presence', '') WHERE id = '$pid'});

# ---------------------------------------------------------------------
# A schema that is not the extension owner's alone blocks the update.
# ---------------------------------------------------------------------
$q->('CREATE ROLE regress_up_squatter; ALTER SCHEMA payment_records OWNER TO regress_up_squatter');
($rc, $out, $err) = $node->psql($db, 'ALTER EXTENSION payment_records UPDATE');
isnt($rc, 0, 'the update is refused while another role owns the schema');
like($err, qr/is not the payment_records extension's own.*HINT:  Make the extension's owner the schema's owner/s,
	'... with a hint saying how to mend it');
is($q->("SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
	'1.0', '... and nothing was updated');
$q->('ALTER SCHEMA payment_records OWNER TO CURRENT_USER; DROP ROLE regress_up_squatter');

# ---------------------------------------------------------------------
# The update.
# ---------------------------------------------------------------------
$q->('ALTER EXTENSION payment_records UPDATE');
is($q->("SELECT extversion FROM pg_extension WHERE extname = 'payment_records'"),
	'1.1', 'updated to 1.1');
is($q->($counts_sql), $counts, 'every row carried across');
is($q->("SET up.mode = 'test';" . $snapshot_sql), $before{test},
	'test mode: every record, attempt list and list page retrieves exactly as before');
is($q->("SET up.mode = 'live'; SET ROLE regress_up_live;" . $snapshot_sql), $before{live},
	'live mode: every record, attempt list and list page retrieves exactly as before');
check_invariants($node, $db, 'after the update', api => 0);

# Every stored answer is unchanged, and a 1.0 key replays: the same
# refund again under its key answers the stored response, writes nothing.
for my $mode ('test', 'live')
{
	is($q->("SET up.mode = '$mode'; $replay_sql"), $before{"keys_$mode"},
		"$mode: every stored answer and error is unchanged");
}
my ($kid, $stored) = split /\|/, $q->(q{SELECT response ->> 'id', response::text
	FROM payment_records.idempotency_key WHERE key = 'test-refund-key-3'});
is($q->("SELECT up_refund('$kid', 50, NULL, 'test-refund-key-3')::text"), $stored,
	'a 1.0 key replays its stored response');
is($q->($counts_sql), $counts, 'the replay wrote nothing');
# the stored error replays as the same error
my $err_body = $q->(qq{SELECT status || ' ' || (body->'error'->>'type') FROM payment_records.request('POST', '/v1/payment_records/$g/report_refund',
	'{"outcome": "refunded", "amount": {"currency": "usd", "value": 99999999}, "processor_details": {"type": "custom"}}',
	'up-error-key')});
is($err_body, '400 invalid_request_error', 'a stored 1.0 error replays as the same error');
is($q->($counts_sql), $counts, 'nor did the error replay');

# New writes, with 1.1's rules.
my $used_ref = $q->("SELECT refund_reference FROM payment_records.refund WHERE refund_reference IS NOT NULL AND NOT livemode ORDER BY refund_reference LIMIT 1");
my $fresh = $q->("SELECT up_pay('guaranteed', 77)");
is(sqlstate_of($node, $db, "SELECT up_refund('$fresh', 1, '$used_ref', NULL)"),
	'23505', 'a reference used under 1.0 is refused after the update (index rebuilt)');
is($q->("SELECT up_refund('$fresh', 1, repeat('x', 4999) || 'y', NULL) -> 'amount_refunded' ->> 'value'"),
	'1', 'a 5,000-character reference is accepted');
is(sqlstate_of($node, $db, "SELECT up_refund('$fresh', 1, repeat('x', 4999) || 'y', NULL)"),
	'23505', '... and refused the second time');
is(sqlstate_of($node, $db, qq{INSERT INTO payment_records.refund
	(record_seq, refund_no, amount, refunded_total, livemode, created)
	SELECT seq, 3, 9223372036854775807, -9223372036854775708, false, now()
	FROM payment_records.payment_record WHERE id = '$fresh'}),
	'23514', 'the 1.1 refund check refuses a wrapped running total');
is($q->("SET ROLE regress_up_live; SELECT payment_records.retrieve_payment_record(up_pay('guaranteed', 78)) ->> 'livemode'"),
	'true', 'a live member writes in live mode after the update');
check_invariants($node, $db, 'after new writes', api => 0);

done_testing();
