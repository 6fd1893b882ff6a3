--
-- PostgreSQL database dump
--

\restrict ciimlMt35ncwMFpXUjfCTAuquBQ60neeEQ3xxstgQBkNaRaWJysIBML3tcz7D7X

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: orderfsm_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA orderfsm_fixture;


--
-- Name: order_log_append_only(); Type: FUNCTION; Schema: orderfsm_fixture; Owner: -
--

CREATE FUNCTION orderfsm_fixture.order_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
            BEGIN RAISE EXCEPTION 'order_log is append-only'; END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: inbox; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.inbox (
    order_id text NOT NULL,
    event_id text NOT NULL,
    event text NOT NULL,
    source text
);


--
-- Name: order_log; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.order_log (
    order_id text NOT NULL,
    seq integer NOT NULL,
    event text NOT NULL,
    from_state text NOT NULL,
    to_state text NOT NULL,
    at timestamp with time zone NOT NULL,
    event_id text,
    source text,
    data jsonb NOT NULL
);


--
-- Name: orderfsm_web_deliveries; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.orderfsm_web_deliveries (
    notification_id bigint NOT NULL,
    order_id text NOT NULL,
    "position" integer NOT NULL,
    attempts integer NOT NULL,
    status text NOT NULL,
    next_attempt_at timestamp with time zone,
    last_error text,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: orders; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.orders (
    order_id text NOT NULL,
    state text NOT NULL,
    version bigint NOT NULL,
    dispatch_deadline timestamp with time zone NOT NULL,
    repayment_deadline timestamp with time zone,
    due_at timestamp with time zone,
    body jsonb NOT NULL
);


--
-- Name: outbox; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.outbox (
    id bigint NOT NULL,
    order_id text NOT NULL,
    "position" integer NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL,
    at timestamp with time zone NOT NULL,
    rule text NOT NULL,
    message text NOT NULL,
    acked boolean DEFAULT false NOT NULL
);


--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE orderfsm_fixture.outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME orderfsm_fixture.outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: schema_version; Type: TABLE; Schema: orderfsm_fixture; Owner: -
--

CREATE TABLE orderfsm_fixture.schema_version (
    version integer NOT NULL
);


--
-- Data for Name: inbox; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.inbox VALUES ('AE-1003', 'wh-7731', 'dispatch', 'supplier');
INSERT INTO orderfsm_fixture.inbox VALUES ('AE-2001', 'wh-9001', 'dispatch', 'supplier');
INSERT INTO orderfsm_fixture.inbox VALUES ('AE-2001', 'wh-9002', 'confirm_delivery', 'carrier');
INSERT INTO orderfsm_fixture.inbox VALUES ('AE-2002', 'wh-9101', 'dispatch', 'supplier');
INSERT INTO orderfsm_fixture.inbox VALUES ('AE-2002', 'cl-1', 'open_claim', 'customer');
INSERT INTO orderfsm_fixture.inbox VALUES ('AE-2003', 'imp-1', 'request_cancellation', 'import');


--
-- Data for Name: order_log; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1001', 1, 'request_cancellation', 'paid', 'cancel_requested', '2026-04-01 03:00:00+00', NULL, 'customer', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1001', 2, 'supplier_accepts_cancellation', 'cancel_requested', 'refund_pending', '2026-04-02 01:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "25.00", "reason": "cancellation", "repayment_deadline": "2026-04-24T23:59:59.999999+08:00", "repayment_earliest": "2026-04-08"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1001', 3, 'settle_refund', 'refund_pending', 'cancelled', '2026-04-08 07:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "25.00", "reason": "cancellation"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1001', 4, 'reimburse_customer', 'cancelled', 'cancelled', '2026-04-08 08:00:00+00', NULL, 'merchant', '{"amount": "25.00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1002', 1, 'dispatch', 'paid', 'dispatched', '2026-04-08 01:00:00+00', NULL, 'supplier', '{"tracking_number": "LP00000102CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1003', 1, 'request_cancellation', 'paid', 'cancel_requested', '2026-04-21 12:00:00+00', NULL, 'customer', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1003', 2, 'dispatch', 'cancel_requested', 'dispatched', '2026-04-22 01:00:00+00', 'wh-7731', 'supplier', '{"tracking_number": "LP00000103CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1004', 1, 'request_cancellation', 'paid', 'cancel_requested', '2026-05-06 04:00:00+00', NULL, 'customer', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1004', 2, 'supplier_accepts_cancellation', 'cancel_requested', 'refund_pending', '2026-05-07 01:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "30.00", "reason": "cancellation", "repayment_deadline": "2026-05-27T23:59:59.999999+08:00", "repayment_earliest": "2026-05-11"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1004', 3, 'reimburse_customer', 'refund_pending', 'refund_pending', '2026-05-07 02:00:00+00', NULL, 'merchant', '{"amount": "30.00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1004', 4, 'dispatch', 'refund_pending', 'refund_pending', '2026-05-08 01:00:00+00', NULL, 'supplier', '{"tracking_number": "LP00000104CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1005', 1, 'dispatch', 'paid', 'dispatched', '2026-05-12 01:00:00+00', NULL, 'supplier', '{"tracking_number": "LP00000105CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1005', 2, 'confirm_delivery', 'dispatched', 'delivered', '2026-05-25 06:00:00+00', NULL, 'carrier', '{"claim_deadline": "2026-06-09T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1005', 3, 'open_claim', 'delivered', 'refund_pending', '2026-05-27 02:00:00+00', NULL, 'customer', '{"blame": "supplier", "amount": "40.00", "reason": "not_as_described", "listing_altered": false}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1005', 4, 'settle_refund', 'refund_pending', 'refunded', '2026-06-03 02:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "40.00", "reason": "not_as_described"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1006', 1, 'dispatch', 'paid', 'dispatched', '2026-06-02 01:00:00+00', NULL, 'supplier', '{"tracking_number": "LP00000106CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1006', 2, 'confirm_delivery', 'dispatched', 'delivered', '2026-06-16 06:00:00+00', NULL, 'carrier', '{"claim_deadline": "2026-07-01T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1006', 3, 'open_claim', 'delivered', 'refund_pending', '2026-07-01 10:00:00+00', NULL, 'customer', '{"blame": "supplier", "amount": "60.00", "reason": "damaged_in_transit", "listing_altered": false}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1006', 4, 'settle_refund', 'refund_pending', 'refunded', '2026-07-06 02:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "60.00", "reason": "damaged_in_transit"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1007', 1, 'dispatch', 'paid', 'dispatched', '2026-06-09 01:00:00+00', NULL, 'supplier', '{"tracking_number": "LP00000107CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1007', 2, 'confirm_delivery', 'dispatched', 'delivered', '2026-06-22 06:00:00+00', NULL, 'carrier', '{"claim_deadline": "2026-07-07T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1007', 3, 'offer_goodwill_refund', 'delivered', 'refund_pending', '2026-06-23 05:00:00+00', NULL, 'merchant', '{"blame": "merchant", "amount": "8.00", "reason": "goodwill"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1007', 4, 'settle_refund', 'refund_pending', 'refunded', '2026-06-24 02:00:00+00', NULL, 'merchant', '{"blame": "merchant", "amount": "8.00", "reason": "goodwill"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1008', 1, 'dispatch_deadline_expired', 'paid', 'refund_pending', '2026-03-02 16:01:00+00', NULL, 'sweep', '{"blame": "supplier", "amount": "15.00", "reason": "not_dispatched", "repayment_deadline": "2026-03-24T23:59:59.999999+08:00", "repayment_earliest": "2026-03-06"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-1008', 2, 'repayment_overdue', 'refund_pending', 'refund_pending', '2026-03-25 01:00:00+00', NULL, 'sweep', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2001', 1, 'dispatch', 'paid', 'dispatched', '2026-09-02 01:00:00+00', 'wh-9001', 'supplier', '{"tracking_number": "LP-ÜNI-2001"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2001', 2, 'confirm_delivery', 'dispatched', 'delivered', '2026-09-09 06:00:00+00', 'wh-9002', 'carrier', '{"claim_deadline": "2026-09-29T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2002', 1, 'dispatch', 'paid', 'dispatched', '2026-09-04 13:00:00+00', 'wh-9101', 'supplier', '{"tracking_number": "LP00002002CN"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2002', 2, 'confirm_delivery', 'dispatched', 'delivered', '2026-09-14 13:00:00+00', NULL, 'carrier', '{"claim_deadline": "2026-09-29T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2002', 3, 'open_claim', 'delivered', 'refund_pending', '2026-09-15 13:00:00+00', 'cl-1', 'customer', '{"blame": "supplier", "amount": "50.00", "reason": "damaged_in_transit", "listing_altered": true}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2003', 1, 'request_cancellation', 'paid', 'cancel_requested', '2026-10-12 03:00:00+00', 'imp-1', 'import', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2005', 1, 'request_cancellation', 'paid', 'cancel_requested', '2026-11-16 04:00:00+00', NULL, 'customer', '{}');
INSERT INTO orderfsm_fixture.order_log VALUES ('AE-2005', 2, 'supplier_accepts_cancellation', 'cancel_requested', 'refund_pending', '2026-11-17 01:00:00+00', NULL, 'supplier', '{"blame": "supplier", "amount": "45.00", "reason": "cancellation", "repayment_deadline": "2026-12-08T23:59:59.999999+08:00", "repayment_earliest": "2026-11-20"}');


--
-- Data for Name: orderfsm_web_deliveries; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.orderfsm_web_deliveries VALUES (1, 'AE-1001', 0, 1, 'acked', NULL, NULL, '2026-12-06 12:00:00+00');
INSERT INTO orderfsm_fixture.orderfsm_web_deliveries VALUES (2, 'AE-1001', 1, 1, 'retrying', '2026-12-06 12:05:00+00', 'HTTP 503', '2026-12-06 12:00:00+00');
INSERT INTO orderfsm_fixture.orderfsm_web_deliveries VALUES (3, 'AE-1003', 0, 3, 'dead', '2026-12-06 12:00:00+00', 'connection refused', '2026-12-06 12:00:00+00');


--
-- Data for Name: orders; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.orders VALUES ('AE-1001', 'cancelled', 5, '2026-04-13 15:59:59.999999+00', NULL, NULL, '{"state": "cancelled", "amount": "25.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-04-01T11:00:00+08:00", "data": {}, "dest": "cancel_requested", "event": "request_cancellation", "source": "paid", "event_id": null}, {"at": "2026-04-02T09:00:00+08:00", "data": {"blame": "supplier", "amount": "25.00", "reason": "cancellation", "repayment_deadline": "2026-04-24T23:59:59.999999+08:00", "repayment_earliest": "2026-04-08"}, "dest": "refund_pending", "event": "supplier_accepts_cancellation", "source": "cancel_requested", "event_id": null}, {"at": "2026-04-08T15:00:00+08:00", "data": {"blame": "supplier", "amount": "25.00", "reason": "cancellation"}, "dest": "cancelled", "event": "settle_refund", "source": "refund_pending", "event_id": null}, {"at": "2026-04-08T16:00:00+08:00", "data": {"amount": "25.00"}, "dest": "cancelled", "event": "reimburse_customer", "source": "cancelled", "event_id": null}], "paid_at": "2026-04-01T10:00:00+08:00", "refunds": [{"at": "2026-04-08T15:00:00+08:00", "blame": "supplier", "amount": "25.00", "reason": "cancellation", "event_id": null}], "currency": "USD", "order_id": "AE-1001", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": null, "notifications": [{"at": "2026-04-01T11:00:00+08:00", "kind": "cancellation_request_received", "rule": "R6", "channel": "message", "message": "Your cancellation request for order AE-1001 has been received and is being processed."}, {"at": "2026-04-08T15:00:00+08:00", "kind": "cancellation_complete", "rule": "R6", "channel": "email", "message": "The cancellation of order AE-1001 is complete: 25.00 USD came back."}], "claim_deadline": null, "format_version": 2, "pending_refund": null, "tracking_number": null, "customer_refunds": [{"at": "2026-04-08T16:00:00+08:00", "blame": "merchant", "amount": "25.00", "reason": "cancellation", "event_id": null}], "dispatch_deadline": "2026-04-13T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1002', 'dispatched', 2, '2026-04-15 15:59:59.999999+00', NULL, NULL, '{"state": "dispatched", "amount": "18.50", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-04-08T09:00:00+08:00", "data": {"tracking_number": "LP00000102CN"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": null}], "paid_at": "2026-04-06T10:00:00+08:00", "refunds": [], "currency": "USD", "order_id": "AE-1002", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": "2026-04-08T09:00:00+08:00", "notifications": [], "claim_deadline": null, "format_version": 2, "pending_refund": null, "tracking_number": "LP00000102CN", "customer_refunds": [], "dispatch_deadline": "2026-04-15T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1003', 'dispatched', 3, '2026-04-22 15:59:59.999999+00', NULL, NULL, '{"state": "dispatched", "amount": "39.90", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-04-21T20:00:00+08:00", "data": {}, "dest": "cancel_requested", "event": "request_cancellation", "source": "paid", "event_id": null}, {"at": "2026-04-22T09:00:00+08:00", "data": {"tracking_number": "LP00000103CN"}, "dest": "dispatched", "event": "dispatch", "source": "cancel_requested", "event_id": "wh-7731"}], "paid_at": "2026-04-13T10:00:00+08:00", "refunds": [], "currency": "USD", "order_id": "AE-1003", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": "2026-04-22T09:00:00+08:00", "notifications": [{"at": "2026-04-21T20:00:00+08:00", "kind": "cancellation_request_received", "rule": "R6", "channel": "message", "message": "Your cancellation request for order AE-1003 has been received and is being processed."}, {"at": "2026-04-22T09:00:00+08:00", "kind": "cancellation_lapsed", "rule": "R3", "channel": "message", "message": "The cancellation request for order AE-1003 lapsed: the supplier dispatched it (tracking LP00000103CN). The customer must accept the order, then may claim if it arrives not as described or damaged."}], "claim_deadline": null, "format_version": 2, "pending_refund": null, "tracking_number": "LP00000103CN", "customer_refunds": [], "dispatch_deadline": "2026-04-22T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1004', 'refund_pending', 5, '2026-05-14 15:59:59.999999+00', '2026-05-27 15:59:59.999999+00', '2026-05-27 15:59:59.999999+00', '{"state": "refund_pending", "amount": "30.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-05-06T12:00:00+08:00", "data": {}, "dest": "cancel_requested", "event": "request_cancellation", "source": "paid", "event_id": null}, {"at": "2026-05-07T09:00:00+08:00", "data": {"blame": "supplier", "amount": "30.00", "reason": "cancellation", "repayment_deadline": "2026-05-27T23:59:59.999999+08:00", "repayment_earliest": "2026-05-11"}, "dest": "refund_pending", "event": "supplier_accepts_cancellation", "source": "cancel_requested", "event_id": null}, {"at": "2026-05-07T10:00:00+08:00", "data": {"amount": "30.00"}, "dest": "refund_pending", "event": "reimburse_customer", "source": "refund_pending", "event_id": null}, {"at": "2026-05-08T09:00:00+08:00", "data": {"tracking_number": "LP00000104CN"}, "dest": "refund_pending", "event": "dispatch", "source": "refund_pending", "event_id": null}], "paid_at": "2026-05-06T10:00:00+08:00", "refunds": [], "currency": "USD", "order_id": "AE-1004", "warnings": [], "incidents": [{"at": "2026-05-08T09:00:00+08:00", "kind": "dispatched_after_cancellation", "rule": "R7", "detail": "order AE-1004 was dispatched at 2026-05-08T09:00:00+08:00 (tracking LP00000104CN) after its cancellation was accepted; recover the goods or their cost from the supplier."}], "delivered_at": null, "dispatched_at": null, "notifications": [{"at": "2026-05-06T12:00:00+08:00", "kind": "cancellation_request_received", "rule": "R6", "channel": "message", "message": "Your cancellation request for order AE-1004 has been received and is being processed."}, {"at": "2026-05-08T09:00:00+08:00", "kind": "dispatched_after_cancellation", "rule": "R7", "channel": "message", "message": "Order AE-1004 was dispatched at 2026-05-08T09:00:00+08:00 (tracking LP00000104CN) after its cancellation was accepted; recover the goods or their cost from the supplier."}], "claim_deadline": null, "format_version": 2, "pending_refund": {"blame": "supplier", "amount": "30.00", "reason": "cancellation", "opened_at": "2026-05-07T09:00:00+08:00", "overdue_escalated": false, "repayment_deadline": "2026-05-27T23:59:59.999999+08:00", "repayment_earliest": "2026-05-11"}, "tracking_number": null, "customer_refunds": [{"at": "2026-05-07T10:00:00+08:00", "blame": "merchant", "amount": "30.00", "reason": "cancellation", "event_id": null}], "dispatch_deadline": "2026-05-14T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1005', 'refunded', 5, '2026-05-20 15:59:59.999999+00', NULL, NULL, '{"state": "refunded", "amount": "40.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-05-12T09:00:00+08:00", "data": {"tracking_number": "LP00000105CN"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": null}, {"at": "2026-05-25T14:00:00+08:00", "data": {"claim_deadline": "2026-06-09T23:59:59.999999+08:00"}, "dest": "delivered", "event": "confirm_delivery", "source": "dispatched", "event_id": null}, {"at": "2026-05-27T10:00:00+08:00", "data": {"blame": "supplier", "amount": "40.00", "reason": "not_as_described", "listing_altered": false}, "dest": "refund_pending", "event": "open_claim", "source": "delivered", "event_id": null}, {"at": "2026-06-03T10:00:00+08:00", "data": {"blame": "supplier", "amount": "40.00", "reason": "not_as_described"}, "dest": "refunded", "event": "settle_refund", "source": "refund_pending", "event_id": null}], "paid_at": "2026-05-11T10:00:00+08:00", "refunds": [{"at": "2026-06-03T10:00:00+08:00", "blame": "supplier", "amount": "40.00", "reason": "not_as_described", "event_id": null}], "currency": "USD", "order_id": "AE-1005", "warnings": [], "incidents": [], "delivered_at": "2026-05-25T14:00:00+08:00", "dispatched_at": "2026-05-12T09:00:00+08:00", "notifications": [], "claim_deadline": "2026-06-09T23:59:59.999999+08:00", "format_version": 2, "pending_refund": null, "tracking_number": "LP00000105CN", "customer_refunds": [], "dispatch_deadline": "2026-05-20T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-2002', 'refund_pending', 4, '2026-09-14 15:59:59.999999+00', NULL, NULL, '{"state": "refund_pending", "amount": "99.99", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-09-04T09:00:00-04:00", "data": {"tracking_number": "LP00002002CN"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": "wh-9101"}, {"at": "2026-09-14T09:00:00-04:00", "data": {"claim_deadline": "2026-09-29T23:59:59.999999+08:00"}, "dest": "delivered", "event": "confirm_delivery", "source": "dispatched", "event_id": null}, {"at": "2026-09-15T09:00:00-04:00", "data": {"blame": "supplier", "amount": "50.00", "reason": "damaged_in_transit", "listing_altered": true}, "dest": "refund_pending", "event": "open_claim", "source": "delivered", "event_id": "cl-1"}], "paid_at": "2026-09-03T08:00:00-04:00", "refunds": [], "currency": "USD", "order_id": "AE-2002", "warnings": [], "incidents": [], "delivered_at": "2026-09-14T09:00:00-04:00", "dispatched_at": "2026-09-04T09:00:00-04:00", "notifications": [], "claim_deadline": "2026-09-29T23:59:59.999999+08:00", "format_version": 2, "pending_refund": {"blame": "supplier", "amount": "50.00", "reason": "damaged_in_transit", "opened_at": "2026-09-15T09:00:00-04:00", "overdue_escalated": false, "repayment_deadline": null, "repayment_earliest": null}, "tracking_number": "LP00002002CN", "customer_refunds": [], "dispatch_deadline": "2026-09-14T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-2003', 'cancel_requested', 1, '2026-10-21 15:59:59.999999+00', NULL, '2026-10-21 15:59:59.999999+00', '{"state": "cancel_requested", "amount": "7.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-10-12T11:00:00+08:00", "data": {}, "dest": "cancel_requested", "event": "request_cancellation", "source": "paid", "event_id": "imp-1"}], "paid_at": "2026-10-12T10:00:00+08:00", "refunds": [], "currency": "GBP", "order_id": "AE-2003", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": null, "notifications": [{"at": "2026-10-12T11:00:00+08:00", "kind": "cancellation_request_received", "rule": "R6", "channel": "message", "message": "Your cancellation request for order AE-2003 has been received and is being processed."}], "claim_deadline": null, "format_version": 2, "pending_refund": null, "tracking_number": null, "customer_refunds": [], "dispatch_deadline": "2026-10-21T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-2004', 'paid', 1, '2026-11-11 15:59:59.999999+00', NULL, '2026-11-11 15:59:59.999999+00', '{"state": "paid", "amount": "250", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [], "paid_at": "2026-11-02T10:00:00+08:00", "refunds": [], "currency": "JPY", "order_id": "AE-2004", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": null, "notifications": [], "claim_deadline": null, "format_version": 2, "pending_refund": null, "tracking_number": null, "customer_refunds": [], "dispatch_deadline": "2026-11-11T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1006', 'refunded', 5, '2026-06-10 15:59:59.999999+00', NULL, NULL, '{"state": "refunded", "amount": "60.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-06-02T09:00:00+08:00", "data": {"tracking_number": "LP00000106CN"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": null}, {"at": "2026-06-16T14:00:00+08:00", "data": {"claim_deadline": "2026-07-01T23:59:59.999999+08:00"}, "dest": "delivered", "event": "confirm_delivery", "source": "dispatched", "event_id": null}, {"at": "2026-07-01T18:00:00+08:00", "data": {"blame": "supplier", "amount": "60.00", "reason": "damaged_in_transit", "listing_altered": false}, "dest": "refund_pending", "event": "open_claim", "source": "delivered", "event_id": null}, {"at": "2026-07-06T10:00:00+08:00", "data": {"blame": "supplier", "amount": "60.00", "reason": "damaged_in_transit"}, "dest": "refunded", "event": "settle_refund", "source": "refund_pending", "event_id": null}], "paid_at": "2026-06-01T10:00:00+08:00", "refunds": [{"at": "2026-07-06T10:00:00+08:00", "blame": "supplier", "amount": "60.00", "reason": "damaged_in_transit", "event_id": null}], "currency": "USD", "order_id": "AE-1006", "warnings": [], "incidents": [], "delivered_at": "2026-06-16T14:00:00+08:00", "dispatched_at": "2026-06-02T09:00:00+08:00", "notifications": [], "claim_deadline": "2026-07-01T23:59:59.999999+08:00", "format_version": 2, "pending_refund": null, "tracking_number": "LP00000106CN", "customer_refunds": [], "dispatch_deadline": "2026-06-10T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-2005', 'refund_pending', 3, '2026-11-25 15:59:59.999999+00', '2026-12-08 15:59:59.999999+00', '2026-12-08 15:59:59.999999+00', '{"state": "refund_pending", "amount": "45.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-11-16T12:00:00+08:00", "data": {}, "dest": "cancel_requested", "event": "request_cancellation", "source": "paid", "event_id": null}, {"at": "2026-11-17T09:00:00+08:00", "data": {"blame": "supplier", "amount": "45.00", "reason": "cancellation", "repayment_deadline": "2026-12-08T23:59:59.999999+08:00", "repayment_earliest": "2026-11-20"}, "dest": "refund_pending", "event": "supplier_accepts_cancellation", "source": "cancel_requested", "event_id": null}], "paid_at": "2026-11-16T10:00:00+08:00", "refunds": [], "currency": "USD", "order_id": "AE-2005", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": null, "notifications": [{"at": "2026-11-16T12:00:00+08:00", "kind": "cancellation_request_received", "rule": "R6", "channel": "message", "message": "Your cancellation request for order AE-2005 has been received and is being processed."}], "claim_deadline": null, "format_version": 2, "pending_refund": {"blame": "supplier", "amount": "45.00", "reason": "cancellation", "opened_at": "2026-11-17T09:00:00+08:00", "overdue_escalated": false, "repayment_deadline": "2026-12-08T23:59:59.999999+08:00", "repayment_earliest": "2026-11-20"}, "tracking_number": null, "customer_refunds": [], "dispatch_deadline": "2026-11-25T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1007', 'refunded', 5, '2026-06-17 15:59:59.999999+00', NULL, NULL, '{"state": "refunded", "amount": "30.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-06-09T09:00:00+08:00", "data": {"tracking_number": "LP00000107CN"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": null}, {"at": "2026-06-22T14:00:00+08:00", "data": {"claim_deadline": "2026-07-07T23:59:59.999999+08:00"}, "dest": "delivered", "event": "confirm_delivery", "source": "dispatched", "event_id": null}, {"at": "2026-06-23T13:00:00+08:00", "data": {"blame": "merchant", "amount": "8.00", "reason": "goodwill"}, "dest": "refund_pending", "event": "offer_goodwill_refund", "source": "delivered", "event_id": null}, {"at": "2026-06-24T10:00:00+08:00", "data": {"blame": "merchant", "amount": "8.00", "reason": "goodwill"}, "dest": "refunded", "event": "settle_refund", "source": "refund_pending", "event_id": null}], "paid_at": "2026-06-08T10:00:00+08:00", "refunds": [{"at": "2026-06-24T10:00:00+08:00", "blame": "merchant", "amount": "8.00", "reason": "goodwill", "event_id": null}], "currency": "USD", "order_id": "AE-1007", "warnings": [], "incidents": [], "delivered_at": "2026-06-22T14:00:00+08:00", "dispatched_at": "2026-06-09T09:00:00+08:00", "notifications": [], "claim_deadline": "2026-07-07T23:59:59.999999+08:00", "format_version": 2, "pending_refund": null, "tracking_number": "LP00000107CN", "customer_refunds": [], "dispatch_deadline": "2026-06-17T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-1008', 'refund_pending', 3, '2026-03-02 15:59:59.999999+00', '2026-03-24 15:59:59.999999+00', NULL, '{"state": "refund_pending", "amount": "15.00", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": [], "claim_window_days": 15, "extra_working_days": [], "auto_close_unshipped": true, "dispatch_business_days": 7, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-03-03T00:01:00+08:00", "data": {"blame": "supplier", "amount": "15.00", "reason": "not_dispatched", "repayment_deadline": "2026-03-24T23:59:59.999999+08:00", "repayment_earliest": "2026-03-06"}, "dest": "refund_pending", "event": "dispatch_deadline_expired", "source": "paid", "event_id": null}, {"at": "2026-03-25T09:00:00+08:00", "data": {}, "dest": "refund_pending", "event": "repayment_overdue", "source": "refund_pending", "event_id": null}], "paid_at": "2026-02-13T10:00:00+08:00", "refunds": [], "currency": "USD", "order_id": "AE-1008", "warnings": [], "incidents": [], "delivered_at": null, "dispatched_at": null, "notifications": [{"at": "2026-03-25T09:00:00+08:00", "kind": "repayment_overdue", "rule": "R4", "channel": "message", "message": "The supplier''s repayment of 15.00 USD for order AE-1008 is overdue: it was due by 2026-03-24T23:59:59.999999+08:00. Escalate with the supplier or open a dispute."}], "claim_deadline": null, "format_version": 2, "pending_refund": {"blame": "supplier", "amount": "15.00", "reason": "not_dispatched", "opened_at": "2026-03-03T00:01:00+08:00", "overdue_escalated": true, "repayment_deadline": "2026-03-24T23:59:59.999999+08:00", "repayment_earliest": "2026-03-06"}, "tracking_number": null, "customer_refunds": [], "dispatch_deadline": "2026-03-02T23:59:59.999999+08:00"}');
INSERT INTO orderfsm_fixture.orders VALUES ('AE-2001', 'delivered', 3, '2026-09-09 15:59:59.999999+00', NULL, NULL, '{"state": "delivered", "amount": "12.34", "policy": {"calendar": "CN", "timezone": "Asia/Shanghai", "extra_holidays": ["2026-09-07"], "claim_window_days": 20, "extra_working_days": ["2026-09-12"], "auto_close_unshipped": true, "dispatch_business_days": 5, "repayment_business_days": [3, 15]}, "history": [{"at": "2026-09-02T09:00:00+08:00", "data": {"tracking_number": "LP-ÜNI-2001"}, "dest": "dispatched", "event": "dispatch", "source": "paid", "event_id": "wh-9001"}, {"at": "2026-09-09T14:00:00+08:00", "data": {"claim_deadline": "2026-09-29T23:59:59.999999+08:00"}, "dest": "delivered", "event": "confirm_delivery", "source": "dispatched", "event_id": "wh-9002"}], "paid_at": "2026-09-01T10:00:00+08:00", "refunds": [], "currency": "EUR", "order_id": "AE-2001", "warnings": [], "incidents": [], "delivered_at": "2026-09-09T14:00:00+08:00", "dispatched_at": "2026-09-02T09:00:00+08:00", "notifications": [], "claim_deadline": "2026-09-29T23:59:59.999999+08:00", "format_version": 2, "pending_refund": null, "tracking_number": "LP-ÜNI-2001", "customer_refunds": [], "dispatch_deadline": "2026-09-09T23:59:59.999999+08:00"}');


--
-- Data for Name: outbox; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (2, 'AE-1001', 1, 'cancellation_complete', 'email', '2026-04-08 07:00:00+00', 'R6', 'The cancellation of order AE-1001 is complete: 25.00 USD came back.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (3, 'AE-1003', 0, 'cancellation_request_received', 'message', '2026-04-21 12:00:00+00', 'R6', 'Your cancellation request for order AE-1003 has been received and is being processed.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (4, 'AE-1003', 1, 'cancellation_lapsed', 'message', '2026-04-22 01:00:00+00', 'R3', 'The cancellation request for order AE-1003 lapsed: the supplier dispatched it (tracking LP00000103CN). The customer must accept the order, then may claim if it arrives not as described or damaged.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (5, 'AE-1004', 0, 'cancellation_request_received', 'message', '2026-05-06 04:00:00+00', 'R6', 'Your cancellation request for order AE-1004 has been received and is being processed.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (6, 'AE-1004', 1, 'dispatched_after_cancellation', 'message', '2026-05-08 01:00:00+00', 'R7', 'Order AE-1004 was dispatched at 2026-05-08T09:00:00+08:00 (tracking LP00000104CN) after its cancellation was accepted; recover the goods or their cost from the supplier.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (7, 'AE-1008', 0, 'repayment_overdue', 'message', '2026-03-25 01:00:00+00', 'R4', 'The supplier''s repayment of 15.00 USD for order AE-1008 is overdue: it was due by 2026-03-24T23:59:59.999999+08:00. Escalate with the supplier or open a dispute.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (8, 'AE-2003', 0, 'cancellation_request_received', 'message', '2026-10-12 03:00:00+00', 'R6', 'Your cancellation request for order AE-2003 has been received and is being processed.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (9, 'AE-2005', 0, 'cancellation_request_received', 'message', '2026-11-16 04:00:00+00', 'R6', 'Your cancellation request for order AE-2005 has been received and is being processed.', false);
INSERT INTO orderfsm_fixture.outbox OVERRIDING SYSTEM VALUE VALUES (1, 'AE-1001', 0, 'cancellation_request_received', 'message', '2026-04-01 03:00:00+00', 'R6', 'Your cancellation request for order AE-1001 has been received and is being processed.', true);


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: orderfsm_fixture; Owner: -
--

INSERT INTO orderfsm_fixture.schema_version VALUES (2);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: orderfsm_fixture; Owner: -
--

SELECT pg_catalog.setval('orderfsm_fixture.outbox_id_seq', 9, true);


--
-- Name: inbox inbox_pkey; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (order_id, event_id);


--
-- Name: order_log order_log_pkey; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.order_log
    ADD CONSTRAINT order_log_pkey PRIMARY KEY (order_id, seq);


--
-- Name: orderfsm_web_deliveries orderfsm_web_deliveries_pkey; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.orderfsm_web_deliveries
    ADD CONSTRAINT orderfsm_web_deliveries_pkey PRIMARY KEY (notification_id);


--
-- Name: orders orders_pkey; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (order_id);


--
-- Name: outbox outbox_order_id_position_key; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.outbox
    ADD CONSTRAINT outbox_order_id_position_key UNIQUE (order_id, "position");


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: orderfsm_web_deliveries_dead; Type: INDEX; Schema: orderfsm_fixture; Owner: -
--

CREATE INDEX orderfsm_web_deliveries_dead ON orderfsm_fixture.orderfsm_web_deliveries USING btree (updated_at) WHERE (status = 'dead'::text);


--
-- Name: orders_due_at; Type: INDEX; Schema: orderfsm_fixture; Owner: -
--

CREATE INDEX orders_due_at ON orderfsm_fixture.orders USING btree (due_at) WHERE (due_at IS NOT NULL);


--
-- Name: orders_state; Type: INDEX; Schema: orderfsm_fixture; Owner: -
--

CREATE INDEX orders_state ON orderfsm_fixture.orders USING btree (state, order_id);


--
-- Name: outbox_pending; Type: INDEX; Schema: orderfsm_fixture; Owner: -
--

CREATE INDEX outbox_pending ON orderfsm_fixture.outbox USING btree (id) WHERE (NOT acked);


--
-- Name: order_log order_log_append_only; Type: TRIGGER; Schema: orderfsm_fixture; Owner: -
--

CREATE TRIGGER order_log_append_only BEFORE DELETE OR UPDATE ON orderfsm_fixture.order_log FOR EACH ROW EXECUTE FUNCTION orderfsm_fixture.order_log_append_only();


--
-- Name: order_log order_log_order_id_fkey; Type: FK CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.order_log
    ADD CONSTRAINT order_log_order_id_fkey FOREIGN KEY (order_id) REFERENCES orderfsm_fixture.orders(order_id);


--
-- Name: outbox outbox_order_id_fkey; Type: FK CONSTRAINT; Schema: orderfsm_fixture; Owner: -
--

ALTER TABLE ONLY orderfsm_fixture.outbox
    ADD CONSTRAINT outbox_order_id_fkey FOREIGN KEY (order_id) REFERENCES orderfsm_fixture.orders(order_id);


--
-- PostgreSQL database dump complete
--

\unrestrict ciimlMt35ncwMFpXUjfCTAuquBQ60neeEQ3xxstgQBkNaRaWJysIBML3tcz7D7X

