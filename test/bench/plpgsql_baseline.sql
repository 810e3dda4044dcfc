-- The plain PL/pgSQL implementation a user would write instead of the
-- extension (issue 12): one table row per payment, a refunded total on it,
-- a refund table with a unique reference, and the few checks a developer
-- writes by hand.  No attempts, events, idempotency keys, modes, Stripe
-- shapes or direct-DML guarantees.  The benchmark's baseline: the
-- extension must beat it.
CREATE TABLE bench_plain_payment (
    id          text PRIMARY KEY,
    livemode    boolean NOT NULL DEFAULT false,
    currency    text NOT NULL,
    amount      bigint NOT NULL CHECK (amount > 0),
    status      text NOT NULL CHECK (status IN ('pending', 'guaranteed', 'failed', 'canceled')),
    refunded    bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    details     jsonb NOT NULL,
    created     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench_plain_refund (
    id          bigserial PRIMARY KEY,
    payment_id  text NOT NULL REFERENCES bench_plain_payment,
    amount      bigint NOT NULL CHECK (amount > 0),
    reference   text UNIQUE,
    created     timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE bench_plain_targets (n int PRIMARY KEY, id text NOT NULL);

CREATE FUNCTION bench_plain_report_payment(p jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_id     text := 'pr_' || substr(md5(random()::text || clock_timestamp()::text), 1, 24);
    v_cur    text := lower(p #>> '{amount_requested,currency}');
    v_amount bigint := (p #>> '{amount_requested,value}')::bigint;
    v_status text := coalesce(p ->> 'outcome', 'pending');
BEGIN
    IF v_cur IS NULL OR length(v_cur) <> 3 THEN
        RAISE EXCEPTION 'invalid currency' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_amount IS NULL OR v_amount <= 0 OR v_amount > 99999999 THEN
        RAISE EXCEPTION 'invalid amount' USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    IF p -> 'initiated_at' IS NULL OR p -> 'payment_method_details' IS NULL THEN
        RAISE EXCEPTION 'missing parameter' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bench_plain_payment (id, currency, amount, status, details)
    VALUES (v_id, v_cur, v_amount, v_status, p);
    RETURN jsonb_build_object('id', v_id, 'object', 'payment_record', 'livemode', false,
        'created', extract(epoch FROM now())::bigint, 'status', v_status,
        'amount_requested', jsonb_build_object('currency', v_cur, 'value', v_amount),
        'amount_refunded', jsonb_build_object('currency', v_cur, 'value', 0));
END $$;

CREATE FUNCTION bench_plain_report_refund(p_id text, p jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    r        bench_plain_payment;
    v_amount bigint := (p #>> '{amount,value}')::bigint;
BEGIN
    SELECT * INTO r FROM bench_plain_payment WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such payment_record' USING ERRCODE = 'no_data_found';
    END IF;
    IF r.status <> 'guaranteed' THEN
        RAISE EXCEPTION 'not guaranteed' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    v_amount := coalesce(v_amount, r.amount - r.refunded);
    IF v_amount <= 0 OR r.refunded + v_amount > r.amount THEN
        RAISE EXCEPTION 'refund exceeds what remains' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO bench_plain_refund (payment_id, amount, reference)
    VALUES (p_id, v_amount, p #>> '{processor_details,custom,refund_reference}');
    UPDATE bench_plain_payment SET refunded = refunded + v_amount WHERE id = p_id;
    RETURN jsonb_build_object('id', p_id, 'object', 'payment_record',
        'amount_refunded', jsonb_build_object('currency', r.currency, 'value', r.refunded + v_amount));
END $$;
