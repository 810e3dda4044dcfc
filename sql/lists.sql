--
-- list_payment_records and list_payment_attempt_records (README contract C3, C4): newest
-- first, keyset pagination in both directions with exact has_more, the
-- created filters, parameter errors, and the plan of a page.
--
-- Everything here is in live mode, on a fresh extension: exactly the 250
-- live-mode records made below, in a known order, whatever ran before.
--
\i test/regress/helpers.sql
CALL pg_temp.fresh_extension();
-- regress_live (made by the helpers) acts in live mode.  The helpers below
-- are made, and the direct writes done, by the superuser (RESET ROLE).
SET ROLE regress_live;
SELECT count(*) AS live_records_before FROM payment_records.payment_record WHERE livemode;

-- a list call: "<n> items, has_more <b>" or "SQLSTATE | param | code | message"
RESET ROLE;
CREATE FUNCTION lst_try(fn text, params jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT pg_temp.try_value(format(
        'SELECT format(''%%s items, has_more %%s'', jsonb_array_length(r -> ''data''), r -> ''has_more'')
         FROM payment_records.%I(%L::jsonb) r', fn, params))
$$;

-- Walk a list page by page from a start cursor (or the first page):
-- forward with starting_after, or backwards with ending_before.  Every
-- page is kept in lst_seen; one row per page is returned.
CREATE TEMP TABLE lst_seen (walk text, page int, pos int, id text);
GRANT ALL ON lst_seen TO regress_live;
CREATE FUNCTION lst_walk(walk text, fn text, params jsonb, backwards boolean DEFAULT false,
                         start text DEFAULT NULL)
RETURNS TABLE (page int, items int, has_more boolean)
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb; cur text := start; p int := 0;
BEGIN
    LOOP
        p := p + 1;
        EXECUTE format('SELECT payment_records.%I($1)', fn) INTO r
        USING params || CASE WHEN cur IS NULL THEN '{}'::jsonb
                             WHEN backwards THEN jsonb_build_object('ending_before', cur)
                             ELSE jsonb_build_object('starting_after', cur) END;
        INSERT INTO lst_seen SELECT walk, p, e.ord, e.v ->> 'id'
        FROM jsonb_array_elements(r -> 'data') WITH ORDINALITY e(v, ord);
        page := p;
        items := jsonb_array_length(r -> 'data');
        has_more := (r ->> 'has_more')::boolean;
        RETURN NEXT;
        EXIT WHEN NOT has_more OR items = 0 OR p >= 100;
        cur := CASE WHEN backwards THEN r -> 'data' -> 0 ->> 'id' ELSE r -> 'data' -> (items - 1) ->> 'id' END;
    END LOOP;
END $$;

--
-- 250 live-mode records, newest first:
--   b2  50 records, each in its own transaction (so its own created)
--   a  100 records in one transaction: one created, ordered by seq only
--   b1  50 records, each in its own transaction
--   c   50 records inserted directly with chosen created values in 1999
--       and 2001 (older than all others although their seq is higher),
--       with ties, and around T0 = 1000000000 for the created filters
--
CREATE TEMP TABLE lst_groups (grp text, id text);
GRANT ALL ON lst_groups TO regress_live;
CREATE PROCEDURE lst_report(grp text, n int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO lst_groups SELECT grp, payment_records.report_payment(
            '{"amount_requested": {"currency": "usd", "value": 100}, "initiated_at": 1730253453,
              "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id';
        COMMIT;
    END LOOP;
END $$;
SET ROLE regress_live;
CALL lst_report('b1', 50);
INSERT INTO lst_groups SELECT 'a', payment_records.report_payment(
    '{"amount_requested": {"currency": "usd", "value": 100}, "initiated_at": 1730253453,
      "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id'
FROM generate_series(1, 100);
CALL lst_report('b2', 50);

-- (by the superuser, records and their first attempts in one transaction:
-- a record must have its attempt 1 by COMMIT)
RESET ROLE;
BEGIN;
INSERT INTO payment_records.payment_record (id, livemode, created, currency, amount)
SELECT id, true, created, 'usd', 100 FROM (VALUES
    -- the oldest: half a second before 2000-01-01 (unix 946684799.5)
    (0, 'pr_list00000000000000000y2k', timestamptz '1999-12-31 23:59:59.5+00')
) v(o, id, created)
UNION ALL
SELECT format('pr_list%s', lpad('c' || lpad(k::text, 2, '0'), 20, '0')), true, to_timestamp(1000000000 - 100 * k), 'usd', 100
FROM generate_series(39, 1, -1) k
UNION ALL
-- four ties at T0 - 50: newest first means c44, c43, c42, c41
SELECT format('pr_list%s', lpad('c' || k, 20, '0')), true, to_timestamp(1000000000 - 50), 'usd', 100
FROM generate_series(41, 44) k
UNION ALL
SELECT id, true, to_timestamp(t), 'usd', 100 FROM (VALUES
    ('pr_list000000000000000000f1', 999999999.0), ('pr_list000000000000000000f2', 1000000000.0), ('pr_list000000000000000000f3', 1000000000.5),
    ('pr_list000000000000000000f4', 1000000001.0), ('pr_list000000000000000000f5', 1000000001.999999), ('pr_list000000000000000000f6', 1000000002.0)
) f(id, t);
INSERT INTO payment_records.payment_attempt_record (id, record_seq, attempt, created, status, initiated_at)
SELECT 'par' || substr(r.id, 3), r.seq, 1, r.created, 'pending', r.created
FROM payment_records.payment_record r WHERE r.id LIKE 'pr\_list%';
COMMIT;
INSERT INTO lst_groups SELECT 'c', id FROM payment_records.payment_record WHERE id LIKE 'pr\_list%';
ANALYZE payment_records.payment_record;
SET ROLE regress_live;

SELECT g.grp, count(*) AS records, count(DISTINCT r.created) AS distinct_created,
       bool_and(r.livemode) AS live
FROM lst_groups g JOIN payment_records.payment_record r USING (id)
WHERE g.grp IN ('a', 'c') GROUP BY g.grp ORDER BY g.grp;
SELECT count(*) AS live_records FROM payment_records.payment_record WHERE livemode;
-- the order every list must follow
CREATE TEMP TABLE lst_order AS
SELECT row_number() OVER (ORDER BY created DESC, seq DESC) AS pos, id
FROM payment_records.payment_record WHERE livemode;

--
-- list_payment_records: forward with starting_after, pages of 100
--
SELECT * FROM lst_walk('fwd100', 'list_payment_records', '{"limit": 100}');
-- which groups each page holds: the one-transaction group "a" (one
-- created for 100 records) straddles the first page boundary
SELECT s.page, g.grp, count(*) AS records
FROM lst_seen s JOIN lst_groups g USING (id) WHERE s.walk = 'fwd100'
GROUP BY s.page, g.grp ORDER BY s.page, min(s.pos);
-- the pages together are the whole list, in order: no gap, no duplicate
SELECT (SELECT array_agg(id ORDER BY page, pos) FROM lst_seen WHERE walk = 'fwd100')
     = (SELECT array_agg(id ORDER BY pos) FROM lst_order) AS same_order,
       (SELECT count(DISTINCT id) FROM lst_seen WHERE walk = 'fwd100') AS distinct_ids;

-- backwards with ending_before from the oldest record (which itself is
-- not on any page): 249 records, the oldest page first
SELECT id AS oldest FROM lst_order ORDER BY pos DESC LIMIT 1 \gset
SELECT :'oldest' AS oldest_id;
SELECT * FROM lst_walk('back100', 'list_payment_records', '{"limit": 100}', true, :'oldest');
SELECT s.page, g.grp, count(*) AS records
FROM lst_seen s JOIN lst_groups g USING (id) WHERE s.walk = 'back100'
GROUP BY s.page, g.grp ORDER BY s.page, min(s.pos);
-- each page is newest first; the pages read newest page first, then the
-- oldest record, are the whole list
SELECT (SELECT array_agg(id ORDER BY page DESC, pos) FROM lst_seen WHERE walk = 'back100') || :'oldest'::text
     = (SELECT array_agg(id ORDER BY pos) FROM lst_order) AS same_order,
       (SELECT count(DISTINCT id) FROM lst_seen WHERE walk = 'back100') AS distinct_ids;

-- small pages cross every tie: 7 at a time, both ways
SELECT count(*) AS pages, sum(items) AS records, count(*) FILTER (WHERE has_more) AS pages_with_more,
       min(items) FILTER (WHERE NOT has_more) AS last_page
FROM lst_walk('fwd7', 'list_payment_records', '{"limit": 7}');
SELECT (SELECT array_agg(id ORDER BY page, pos) FROM lst_seen WHERE walk = 'fwd7')
     = (SELECT array_agg(id ORDER BY pos) FROM lst_order) AS same_order;
SELECT count(*) AS pages, sum(items) AS records, count(*) FILTER (WHERE has_more) AS pages_with_more,
       min(items) FILTER (WHERE NOT has_more) AS last_page
FROM lst_walk('back7', 'list_payment_records', '{"limit": 7}', true, :'oldest');
SELECT (SELECT array_agg(id ORDER BY page DESC, pos) FROM lst_seen WHERE walk = 'back7') || :'oldest'::text
     = (SELECT array_agg(id ORDER BY pos) FROM lst_order) AS same_order;
-- limit 1 from the newest, backwards from the second: one record each
SELECT id AS newest FROM lst_order WHERE pos = 1 \gset
SELECT id AS second FROM lst_order WHERE pos = 2 \gset
SELECT payment_records.list_payment_records(jsonb_build_object('limit', 1, 'starting_after', :'newest')) -> 'data' -> 0 ->> 'id' = :'second' AS after_newest,
       payment_records.list_payment_records(jsonb_build_object('limit', 1, 'ending_before', :'second')) -> 'data' -> 0 ->> 'id' = :'newest' AS before_second,
       payment_records.list_payment_records(jsonb_build_object('limit', 1, 'ending_before', :'second')) -> 'has_more' AS before_second_has_more;
-- nothing before the newest, nothing after the oldest
SELECT lst_try('list_payment_records', jsonb_build_object('ending_before', :'newest')) AS before_newest,
       lst_try('list_payment_records', jsonb_build_object('starting_after', :'oldest')) AS after_oldest;
-- exact has_more at the end: the last 10 after the 240th, and 11 asked
SELECT id AS p240 FROM lst_order WHERE pos = 240 \gset
SELECT lst_try('list_payment_records', jsonb_build_object('starting_after', :'p240', 'limit', 10)) AS last_ten,
       lst_try('list_payment_records', jsonb_build_object('starting_after', :'p240', 'limit', 11)) AS eleven,
       lst_try('list_payment_records', jsonb_build_object('starting_after', :'p240', 'limit', 9)) AS nine;

-- the default: 10 records, newest first; the list object
SELECT r -> 'object' AS object, r -> 'url' AS url, r -> 'has_more' AS has_more,
       jsonb_array_length(r -> 'data') AS items,
       (SELECT array_agg(e ->> 'id' ORDER BY n) FROM jsonb_array_elements(r -> 'data') WITH ORDINALITY d(e, n))
         = (SELECT array_agg(id ORDER BY pos) FROM lst_order WHERE pos <= 10) AS newest_ten
FROM payment_records.list_payment_records() r;
SELECT payment_records.list_payment_records('{}') = payment_records.list_payment_records() AS empty_params_default,
       payment_records.list_payment_records('{"limit": "10", "expand": ["data"]}') = payment_records.list_payment_records() AS string_limit;
-- each item is the full payment_record object
SELECT bool_and(e = payment_records.retrieve_payment_record(e ->> 'id')) AS items_are_records, count(*) AS items
FROM jsonb_array_elements(payment_records.list_payment_records('{"limit": 100}') -> 'data') e;

-- parameter errors
SELECT p AS params, lst_try('list_payment_records', p::jsonb) AS result FROM (VALUES
    (1, '{"limit": 0}'), (2, '{"limit": 101}'), (3, '{"limit": "abc"}'), (4, '{"limit": -1}'),
    (5, '{"limit": 2.5}'), (6, '{"limit": null}'), (7, '{"limit": 100}'), (8, '{"limit": 1}'),
    (9, '{"starting_after": "pr_doesnotexist"}'), (10, '{"ending_before": "pr_doesnotexist"}'),
    (11, '{"starting_after": ""}'), (12, '{"created_after": "yesterday"}'),
    (13, '{"created_before": -1}'), (14, '{"created": 1}'), (15, '{"payment_record": "pr_x"}')
) v(o, p) ORDER BY o;
SELECT lst_try('list_payment_records', jsonb_build_object('starting_after', :'newest', 'ending_before', :'oldest')) AS both_cursors;
SELECT lst_try('list_payment_records', '[]') AS array_params;
-- a test-mode record is no cursor in live mode
RESET ROLE;
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 100},
    "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id' AS test_id \gset
SELECT lst_try('list_payment_records', jsonb_build_object('starting_after', :'oldest')) AS live_cursor_in_test_mode;
SET ROLE regress_live;
SELECT lst_try('list_payment_records', jsonb_build_object('starting_after', :'test_id')) AS test_cursor_after,
       lst_try('list_payment_records', jsonb_build_object('ending_before', :'test_id')) AS test_cursor_before;
-- and test-mode records are never listed in live mode
SELECT count(*) FILTER (WHERE NOT r.livemode) AS test_mode_listed
FROM lst_seen s JOIN payment_records.payment_record r USING (id);

--
-- created_after / created_before: unix seconds, strictly after / before.
-- Around T0 = 1000000000: f1 at T0-1, f2 at T0, f3 at T0+0.5 (created
-- shows T0), f4 at T0+1, f5 at T0+1.999999 (shows T0+1), f6 at T0+2.
--
RESET ROLE;
CREATE FUNCTION lst_created(params jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(e ->> 'id' || ' ' || (e ->> 'created'), ', ' ORDER BY n), '(none)')
           || ' | has_more ' || (r ->> 'has_more')
    FROM payment_records.list_payment_records(params) r
    LEFT JOIN LATERAL jsonb_array_elements(r -> 'data') WITH ORDINALITY d(e, n) ON true
    GROUP BY r
$$;
SET ROLE regress_live;
SELECT a AS created_after, b AS created_before,
       lst_created(jsonb_strip_nulls(jsonb_build_object('created_after', a, 'created_before', b))) AS records
FROM (VALUES (1, 1000000000, 1000000003), (2, 999999998, 1000000001), (3, 999999999, 1000000001),
             (4, 1000000000, 1000000001), (5, 999999999, 1000000000), (6, 1000000001, 1000000002),
             (7, NULL, 999996150), (8, 999999949, 999999960), (9, 999999899, 999999951)) v(o, a, b)
ORDER BY o;
-- created as shown is the unix second the record was created in (floor):
-- half a second before 2000-01-01 is 946684799
SELECT lst_created('{"created_after": 946684798, "created_before": 946684800}') AS y2k,
       lst_created('{"created_after": 946684799, "created_before": 946684801}') AS after_y2k;
SELECT payment_records.retrieve_payment_record('pr_list00000000000000000y2k') -> 'created' AS y2k_created;
-- only created_after: every record made through the API now, none of c
SELECT count(*) AS pages, sum(items) AS records
FROM lst_walk('after', 'list_payment_records', '{"created_after": 1000000002, "limit": 100}');
SELECT count(*) FILTER (WHERE g.grp = 'c') AS direct_listed, count(DISTINCT s.id) AS distinct_ids
FROM lst_seen s JOIN lst_groups g USING (id) WHERE s.walk = 'after';
-- both filters while paging, both ways: the 19 records of (T0-1000, T0+3)
SELECT * FROM lst_walk('window', 'list_payment_records', '{"created_after": 999999000, "created_before": 1000000003, "limit": 6}');
SELECT page, string_agg(id, ' ' ORDER BY pos) AS ids FROM lst_seen WHERE walk = 'window' GROUP BY page ORDER BY page;
SELECT * FROM lst_walk('window_back', 'list_payment_records',
    '{"created_after": 999999000, "created_before": 1000000003, "limit": 6}', true, 'pr_list00000000000000000c10');
SELECT page, string_agg(id, ' ' ORDER BY pos) AS ids FROM lst_seen WHERE walk = 'window_back' GROUP BY page ORDER BY page;
-- a cursor outside the window still places the page
SELECT lst_created('{"created_after": 999999000, "created_before": 1000000003, "limit": 3, "starting_after": "pr_list000000000000000000f6"}') AS after_f6,
       lst_created('{"created_before": 999999800, "limit": 2, "starting_after": "pr_list000000000000000000f1"}') AS before_window;

--
-- A page is an index range scan on payment_record_list_idx (never a
-- full scan, never a sort).  auto_explain, loaded in a fresh session,
-- prints the plan of every statement list_payment_records runs; shown
-- here is the page statement's (the cursor lookup's plan is left out:
-- on a table this small the planner may read it sequentially), with
-- durations, costs and the cursor's values masked.
--
SELECT id AS cursor FROM lst_order WHERE pos = 120 \gset
RESET ROLE;
SELECT setting AS bindir FROM pg_config WHERE name = 'BINDIR' \gset
SET ROLE regress_live;
\setenv PR_BINDIR :bindir
\setenv PR_DB :DBNAME
\setenv PR_HOST :HOST
\setenv PR_PORT :PORT
\setenv PR_USER :USER
\setenv PR_CURSOR :cursor
\! "$PR_BINDIR/psql" -X -q -o /dev/null -h "$PR_HOST" -p "$PR_PORT" -U "$PR_USER" -d "$PR_DB" -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 0" -c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_level = notice" -c "SET auto_explain.log_timing = off" -c "SET auto_explain.log_analyze = off" -c "SET ROLE regress_live" -c "SELECT payment_records.list_payment_records(jsonb_build_object('starting_after', '$PR_CURSOR', 'limit', 5))" 2>&1 | awk 'BEGIN { RS = "NOTICE:  " } /ORDER BY created DESC, seq DESC LIMIT/ { printf "NOTICE:  %s", $0 }' | sed -E -e 's/duration: [0-9.]+ ms/duration: <ms>/' -e 's/ +\(cost=[^)]*\)//' -e "s/'[^']*[0-9][^']*'::timestamp with time zone/'<created>'::timestamp with time zone/g" -e "s/'[0-9]+'::bigint/'<seq>'::bigint/g"
-- In this session (its plans cached by now): one page after a cursor is
-- one scan of the list index
BEGIN;
SELECT pg_stat_get_xact_numscans('payment_records.payment_record_list_idx'::regclass) AS idx_before \gset
SELECT jsonb_array_length(payment_records.list_payment_records(
    jsonb_build_object('starting_after', :'cursor', 'limit', 5)) -> 'data') AS items;
SELECT pg_stat_get_xact_numscans('payment_records.payment_record_list_idx'::regclass) - :idx_before AS list_idx_scans;
COMMIT;
-- the same keyset query as a generic plan (as the superuser, who is, like
-- the extension's owner that runs it in list_payment_records, exempt from
-- the tables' row-level security)
RESET ROLE;
SET plan_cache_mode = force_generic_plan;
PREPARE lst_page(boolean, timestamptz, timestamptz, timestamptz, bigint, bigint) AS
    SELECT id FROM payment_records.payment_record
    WHERE livemode = $1 AND created >= $2 AND created < $3 AND (created, seq) < ($4, $5)
    ORDER BY created DESC, seq DESC LIMIT $6;
EXPLAIN (COSTS OFF) EXECUTE lst_page(true, '-infinity', 'infinity', now(), 1, 11);
DEALLOCATE lst_page;
RESET plan_cache_mode;
SET ROLE regress_live;

--
-- list_payment_attempt_records: a record with seven attempts
-- (1 failed, 2 canceled, ... 6 canceled, 7 pending)
--
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 100},
    "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}}') ->> 'id' AS rec \gset
DO $$
DECLARE
    rec text := (SELECT id FROM payment_records.payment_record WHERE livemode ORDER BY seq DESC LIMIT 1);
BEGIN
    FOR i IN 1 .. 6 LOOP
        IF i % 2 = 1 THEN
            PERFORM payment_records.report_payment_attempt_failed(rec, jsonb_build_object('failed_at', 1730253460 + i));
        ELSE
            PERFORM payment_records.report_payment_attempt_canceled(rec, jsonb_build_object('canceled_at', 1730253460 + i));
        END IF;
        PERFORM payment_records.report_payment_attempt(rec, jsonb_build_object('initiated_at', 1730253470 + i));
    END LOOP;
END $$;
-- attempt numbers of listed ids
RESET ROLE;
CREATE FUNCTION lst_attempts(walk text) RETURNS TABLE (page int, attempts text)
LANGUAGE sql AS $$
    SELECT s.page, string_agg(a.attempt || ' ' || a.status, ', ' ORDER BY s.pos)
    FROM lst_seen s JOIN payment_records.payment_attempt_record a USING (id)
    WHERE s.walk = lst_attempts.walk GROUP BY s.page ORDER BY s.page
$$;
SET ROLE regress_live;
SELECT a.id AS a1 FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rec' AND a.attempt = 1 \gset
SELECT a.id AS a4 FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rec' AND a.attempt = 4 \gset
SELECT a.id AS a7 FROM payment_records.payment_attempt_record a JOIN payment_records.payment_record r ON r.seq = a.record_seq
WHERE r.id = :'rec' AND a.attempt = 7 \gset
SELECT payment_records.retrieve_payment_record(:'rec') ->> 'latest_payment_attempt_record' = :'a7' AS latest_is_7;
-- forward, 3 at a time
SELECT * FROM lst_walk('att_fwd', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 3));
SELECT * FROM lst_attempts('att_fwd');
-- backwards from attempt 1
SELECT * FROM lst_walk('att_back', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 3), true, :'a1');
SELECT * FROM lst_attempts('att_back');
-- exact has_more around attempt 4
SELECT * FROM lst_walk('att_after4', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 3), false, :'a4');
SELECT * FROM lst_attempts('att_after4');
SELECT * FROM lst_walk('att_after7', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 2), false, :'a7');
SELECT * FROM lst_attempts('att_after7');
SELECT * FROM lst_walk('att_before4', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 3), true, :'a4');
SELECT * FROM lst_attempts('att_before4');
SELECT * FROM lst_walk('att_before4_2', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 2), true, :'a4');
SELECT * FROM lst_attempts('att_before4_2');
-- the default limit holds all seven; limit 6 leaves one
SELECT * FROM lst_walk('att_default', 'list_payment_attempt_records', jsonb_build_object('payment_record', :'rec'));
SELECT * FROM lst_attempts('att_default');
SELECT lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 6)) AS limit_6,
       lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'limit', 7)) AS limit_7,
       lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'starting_after', :'a1')) AS after_first,
       lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'rec', 'ending_before', :'a7')) AS before_latest;
-- the list object; items are the attempt objects of this record
SELECT r -> 'object' AS object, r -> 'url' AS url,
       bool_and(e ->> 'payment_record' = :'rec') AS record_ok,
       bool_and(e = payment_records.retrieve_payment_attempt_record(e ->> 'id')) AS items_are_attempts
FROM payment_records.list_payment_attempt_records(jsonb_build_object('payment_record', :'rec')) r
CROSS JOIN LATERAL jsonb_array_elements(r -> 'data') e
GROUP BY r;
-- errors: a cursor of another record, unknown ids, the other mode
SELECT payment_records.report_payment('{"amount_requested": {"currency": "usd", "value": 100},
    "initiated_at": 1730253453, "payment_method_details": {"payment_method": "pm_1"}}') AS other \gset
SELECT (:'other'::jsonb) ->> 'id' AS other_id, (:'other'::jsonb) ->> 'latest_payment_attempt_record' AS other_par \gset
SELECT k, lst_try('list_payment_attempt_records', p) AS result FROM (VALUES
    (1, 'other record cursor after', jsonb_build_object('payment_record', :'rec', 'starting_after', :'other_par')),
    (2, 'other record cursor before', jsonb_build_object('payment_record', :'rec', 'ending_before', :'other_par')),
    (3, 'record id as cursor', jsonb_build_object('payment_record', :'rec', 'starting_after', :'rec')),
    (4, 'unknown cursor', jsonb_build_object('payment_record', :'rec', 'ending_before', 'par_doesnotexist')),
    (5, 'both cursors', jsonb_build_object('payment_record', :'rec', 'starting_after', :'a4', 'ending_before', :'a1')),
    (6, 'unknown record', jsonb_build_object('payment_record', 'pr_doesnotexist')),
    (7, 'attempt id as record', jsonb_build_object('payment_record', :'a1')),
    (8, 'no record', jsonb_build_object('limit', 3)),
    (9, 'limit 0', jsonb_build_object('payment_record', :'rec', 'limit', 0)),
    (10, 'limit 101', jsonb_build_object('payment_record', :'rec', 'limit', 101)),
    (11, 'created filter', jsonb_build_object('payment_record', :'rec', 'created_after', 1)),
    (12, 'other record', jsonb_build_object('payment_record', :'other_id'))
) v(o, k, p) ORDER BY o;
SELECT lst_try('list_payment_attempt_records', NULL) AS null_params;
-- the other mode: the record does not exist there
RESET ROLE;
SELECT lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'rec')) AS in_test_mode;
SELECT lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'test_id')) AS test_record_in_test_mode;
SET ROLE regress_live;
SELECT lst_try('list_payment_attempt_records', jsonb_build_object('payment_record', :'test_id')) AS test_record_in_live_mode;

RESET ROLE;
DROP FUNCTION lst_try(text, jsonb), lst_walk(text, text, jsonb, boolean, text),
    lst_created(jsonb), lst_attempts(text);
DROP PROCEDURE lst_report(text, int);
DROP TABLE lst_seen, lst_groups, lst_order;
