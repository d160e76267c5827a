-- date, interval, uuid, bytea, json and jsonb: input, output, errors, casts, arithmetic,
-- comparisons, operators and functions, with the column types RowDescription reports.

CREATE TABLE events (
    id int PRIMARY KEY,
    day date,
    span interval,
    ref uuid,
    payload bytea,
    doc jsonb,
    raw json,
    at timestamp
);

INSERT INTO events VALUES
    (1, '2024-01-02', '1 day 02:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\xdeadbeef', '{"a": 1}', '{"a": 1,  "b": [1, 2]}', '2024-01-02 10:30:00'),
    (2, '2023-12-31', '3 mons', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', 'abc', '{"b": 2, "a": [true, null, 2.50, 1e2]}', '[]', '2024-03-01 00:00:00'),
    (3, '01/15/2024', '-1 days +02:00:00', '{a0eebc999c0b4ef8bb6d6bb9bd380a13}', '\x', '"x\n\u00e9"', '"s"', '2023-12-31 23:59:59.5'),
    (4, NULL, '00:00:00', NULL, NULL, '{"aa": 1, "b": 2, "a": 3, "a": 4}', NULL, NULL);
SELECT * FROM events ORDER BY id;
SELECT id, day, span, ref::text, payload, doc FROM events WHERE id = 2;

-- Ordering and comparison: dates by day, intervals by length (a month is 30 days), uuids and
-- byteas bytewise.
SELECT id, day FROM events ORDER BY day NULLS FIRST, id;
SELECT id, span FROM events ORDER BY span, id;
SELECT id FROM events WHERE ref = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12';
SELECT id FROM events WHERE ref <> 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' ORDER BY id;
SELECT id FROM events WHERE payload = '\xDEADBEEF';
SELECT id, payload FROM events ORDER BY payload, id;
SELECT id FROM events WHERE doc = '{"a":1}';
SELECT id FROM events WHERE day > '2024-01-01' ORDER BY id;
SELECT id FROM events WHERE day BETWEEN '2023-12-31' AND '2024-01-02' ORDER BY id;
SELECT interval '1 day' = interval '24 hours', interval '1 mon' > interval '29 days', '{"a":1.0}'::jsonb = '{"a":1}'::jsonb;

-- Invalid input: each type's SQLSTATE, message and detail.
INSERT INTO events (id, day) VALUES (10, 'x');
INSERT INTO events (id, day) VALUES (10, '2024-13-01');
INSERT INTO events (id, day) VALUES (10, '2024-02-30');
INSERT INTO events (id, span) VALUES (10, '1 fortnight');
INSERT INTO events (id, ref) VALUES (10, 'x');
INSERT INTO events (id, ref) VALUES (10, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1');
INSERT INTO events (id, payload) VALUES (10, '\xabc');
INSERT INTO events (id, payload) VALUES (10, '\xzz');
INSERT INTO events (id, payload) VALUES (10, 'a\9');
INSERT INTO events (id, doc) VALUES (10, '{"a" 1}');
INSERT INTO events (id, doc) VALUES (10, '{"a": 1');
INSERT INTO events (id, doc) VALUES (10, '[1,]');
INSERT INTO events (id, doc) VALUES (10, 'nul');
INSERT INTO events (id, raw) VALUES (10, '{1:2}');
SELECT '"\u0000"'::jsonb;
SELECT id FROM events WHERE day = 'soon';
INSERT INTO events (id, day) VALUES (10, 5);

-- Casts to and from text, and between date and timestamp.
SELECT '2024-01-02'::date, '1 day 02:00:00'::interval, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '\xdeadbeef'::bytea, '{"b": 1, "a": 2}'::jsonb, '{"b": 1, "a": 2}'::json;
SELECT '2024-01-02'::date::text, '90 minutes'::interval::text, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid::text, 'abc'::bytea::text, '{"b":1}'::jsonb::text, '{"b":1}'::json::jsonb;
SELECT CAST('2024-02-29' AS date), CAST('1 year 2 months' AS interval), date '2024-01-02', interval '2' hour, timestamp '2024-01-02 10:00';
SELECT date '2024-01-02'::timestamp, timestamp '2024-01-02 10:00'::date, date '2024-01-02'::timestamptz, '2024-01-02 10:00+02'::timestamptz;
SELECT '20240102'::date, 'epoch'::date, 'infinity'::date, '-infinity'::date, '0001-01-01'::date - 1;
SELECT '1.5 hours'::interval, '1.5 days'::interval, '1.5 months'::interval, '100 hours'::interval, '-00:30'::interval, '1 day -1 hour'::interval, '@ 1 day ago'::interval, '5'::interval, '1 week'::interval, '-1 year -2 mons'::interval;

-- Arithmetic.
SELECT date '2024-01-31' + 1, date '2024-01-31' - 1, 1 + date '2024-01-31', date '2024-03-01' - date '2024-01-01';
SELECT date '2024-01-31' + interval '1 month', date '2024-01-31' - interval '1 day 1 hour', interval '1 hour' + date '2024-01-31';
SELECT timestamp '2024-01-31 10:00' + interval '1 mon 1 day 01:00:00', timestamp '2024-01-31 10:00' - interval '2 hours', timestamptz '2024-01-31 10:00+00' + interval '1 day';
SELECT timestamp '2024-03-01' - timestamp '2024-01-01 12:00', timestamp '2024-01-01' - timestamp '2024-03-01 12:00', timestamptz '2024-01-02 00:00+00' - timestamptz '2024-01-01 06:00+00';
SELECT interval '1 day' + interval '2 hours', interval '1 day 02:00:00' * 2, interval '1 mon' * 1.5, 2 * interval '1 hour', interval '3 days' / 2, -interval '1 day 02:00', interval '1 day' - interval '1 hour', interval '1 mon' / 3;
SELECT id, day + 7 AS next_week, day - date '2023-12-01' AS days_since, at + span AS later, at - interval '1 day' AS before FROM events ORDER BY id;
SELECT now() - interval '1 hour' < now(), now() - now(), current_date - current_date, now()::date = current_date;
SELECT interval '1 day' / 0;

-- extract / date_part, date_trunc, age.
SELECT extract(epoch from date '2024-01-02'), extract(year from date '2024-01-02'), extract(month from date '2024-01-02'), extract(day from date '2024-01-02'), extract(dow from date '2024-01-02'), extract(doy from date '2024-01-02'), extract(week from date '2024-01-02'), extract(quarter from date '2024-01-02');
SELECT extract(hour from date '2024-01-02');
SELECT extract(second from timestamp '2024-01-02 10:30:15.5'), extract(epoch from timestamp '2024-01-02 10:30:15.5'), extract(minute from timestamp '2024-01-02 10:30:15.5'), extract(hour from timestamp '2024-01-02 10:30:15.5'), extract(milliseconds from timestamp '2024-01-02 10:30:15.5'), extract(microseconds from timestamp '2024-01-02 10:30:15.5'), extract(epoch from timestamptz '2024-01-02 10:30:15+00');
SELECT extract(epoch from interval '1 day 02:00:00'), extract(hour from interval '1 day 02:00:00'), extract(day from interval '1 day 02:00:00'), extract(month from interval '14 mons'), extract(year from interval '14 mons'), extract(second from interval '1.5 seconds'), extract(epoch from interval '1 mon'), extract(epoch from interval '1 year');
SELECT id, extract(year from day) AS y, extract(epoch from span) AS secs, date_part('hour', at) AS h FROM events ORDER BY id;
SELECT date_part('epoch', timestamp '2024-01-02 10:30:15.5'), date_part('second', timestamp '2024-01-02 10:30:15.5'), date_part('year', date '2024-01-02'), date_part('hour', interval '26 hours');
SELECT date_trunc('day', timestamp '2024-05-17 10:30:15.5'), date_trunc('month', timestamp '2024-05-17 10:30:15.5'), date_trunc('hour', timestamptz '2024-05-17 10:30:15.5+00'), date_trunc('month', date '2024-05-17'), date_trunc('week', timestamp '2024-05-17 10:30'), date_trunc('year', timestamp '2024-05-17 10:30'), date_trunc('hour', interval '1 day 02:30:00'), date_trunc('quarter', timestamp '2024-05-17'), date_trunc('minute', timestamp '2024-05-17 10:30:15'), date_trunc('second', timestamp '2024-05-17 10:30:15.5');
SELECT date_trunc('bogus', timestamp '2024-05-17');
SELECT age(timestamp '2024-03-01', timestamp '2024-01-31 12:00'), age(timestamp '2024-01-31', timestamp '2024-03-01 12:00'), age(timestamp '2020-02-29', timestamp '2024-02-28');

-- jsonb and json operators and functions.
SELECT doc -> 'a' AS a, doc ->> 'a' AS a_text, doc -> 'a' -> 0 AS first FROM events ORDER BY id;
SELECT '{"a": {"b": [1, "x"]}, "c": null}'::jsonb -> 'a', '{"a": {"b": [1, "x"]}}'::jsonb -> 'a' -> 'b' ->> 1, '[1,2,3]'::jsonb -> -1, '{"c": null}'::jsonb ->> 'c', '{"c": null}'::jsonb -> 'c', raw -> 'b', raw ->> 'a' FROM events WHERE id = 1;
SELECT jsonb_build_object('a', 1, 'b', 'x', 'c', null, 'd', 1.50, 'e', true, 'f', '{"x":1}'::jsonb, 'g', date '2024-01-02', 'h', timestamp '2024-01-02 10:00', 'i', 2.5::float8);
SELECT jsonb_build_object('id', id, 'day', day, 'span', span) FROM events ORDER BY id;
SELECT jsonb_build_object('a');
SELECT jsonb_build_object(null, 1);
SELECT to_jsonb('x'::text), to_jsonb(1), to_jsonb(timestamptz '2024-01-02 10:00+00'), to_jsonb(interval '1 day'), to_jsonb(null::text);
SELECT jsonb_typeof(doc), jsonb_typeof(doc -> 'a') FROM events ORDER BY id;

-- uuid and bytea functions; pg_typeof.
SELECT length(gen_random_uuid()::text), gen_random_uuid() = gen_random_uuid();
SELECT length(payload), octet_length(payload) FROM events ORDER BY id;
SELECT pg_typeof(day)::text, pg_typeof(span)::text, pg_typeof(ref)::text, pg_typeof(payload)::text, pg_typeof(doc)::text, pg_typeof(raw)::text FROM events WHERE id = 1;
SELECT pg_typeof(now() - interval '1 hour')::text, pg_typeof(date '2024-01-02' + 1)::text, pg_typeof(date '2024-01-02' - date '2024-01-01')::text, pg_typeof(extract(year from date '2024-01-02'))::text, pg_typeof(date_part('year', date '2024-01-02'))::text, pg_typeof(current_date)::text, pg_typeof(gen_random_uuid())::text;

-- UPDATE and DELETE through the new types.
UPDATE events SET day = day + 1, span = span * 2, doc = jsonb_build_object('n', id) WHERE id <= 2 RETURNING id, day, span, doc;
DELETE FROM events WHERE ref = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13' RETURNING id, payload;
SELECT count(*), min(day), max(day), min(span), max(span) FROM events;
SELECT day, count(*) FROM events GROUP BY day ORDER BY day;

-- Grouping, DISTINCT and ordering over the new types (equal intervals are one group), timestamptz
-- arithmetic, and the json builders.
CREATE TABLE e2 (id int PRIMARY KEY, day date, span interval, ref uuid, doc jsonb, at timestamptz);
INSERT INTO e2 VALUES (1, '2024-01-02', '1 day', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '2024-01-02 10:00+00'), (2, '2024-01-02', '24 hours', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[1, 2]', '2024-01-03 00:00+00'), (3, '2023-01-01', '1 mon', NULL, '"x"', NULL), (4, '2022-06-30', '30 days', NULL, 'null', NULL), (5, '2022-06-30', '-1 hour', NULL, '{"a": 1, "b": 2}', NULL);
SELECT DISTINCT day FROM e2 ORDER BY day;
SELECT id, doc FROM e2 ORDER BY doc, id;
SELECT id FROM e2 WHERE ref < 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
SELECT id FROM e2 WHERE ref IN ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'B0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11') ORDER BY id;
SELECT '2024-01-02'::date = '2024-01-02 00:00'::timestamp, current_date + 1 > current_date, interval '1 day' * 1.5::float8;
INSERT INTO e2 (id, day) VALUES (6, now());
SELECT id, day = current_date FROM e2 WHERE id = 6;
SELECT id, at, at + span, at - interval '30 minutes', date_trunc('day', at), extract(hour from at) FROM e2 ORDER BY id;
SELECT json_build_object('a', 1, 'b', '{"x":  1}'::json, 'c', 'q');
SELECT doc ->> 'a' FROM e2 WHERE doc ->> 'a' = '1' ORDER BY id;
SELECT max(at), min(doc::text), count(DISTINCT span) FROM e2;
SELECT id, span FROM e2 ORDER BY span DESC, id;
SELECT day, count(*) FROM e2 GROUP BY day ORDER BY 1;
SELECT id FROM e2 WHERE day = '2024-01-02' AND span > '23 hours' ORDER BY id;
SELECT '2024-01-02'::date - 1 = '2024-01-01';
SELECT id, age(at, timestamptz '2024-01-01 00:00+00') FROM e2 WHERE at IS NOT NULL ORDER BY id;
SELECT to_jsonb(doc), to_jsonb(day), jsonb_build_array(1, 'a', null, day) FROM e2 WHERE id = 1;
SELECT '{"a":[1,{"b":2}]}'::jsonb -> 'a' -> 1 ->> 'b', '{"a":1}'::jsonb -> 'zz', '[1]'::jsonb -> 5;
SELECT doc -> 'a' FROM e2 WHERE doc -> 'a' = '1';

-- The catalogs know the new types.
CREATE TABLE c1 (d date, i interval, u uuid, b bytea, j jsonb, s json);
SELECT column_name, data_type, udt_name, datetime_precision FROM information_schema.columns WHERE table_name = 'c1' ORDER BY ordinal_position;
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typlen FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = 'c1'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT 'date'::regtype::oid, 'interval'::regtype::oid, 'uuid'::regtype::oid, 'jsonb'::regtype::oid;

-- timestamptz input with zone offsets, held in UTC.
CREATE TABLE tz (id int, at timestamptz);
INSERT INTO tz VALUES (1, '2024-01-02 10:00:00+02'), (2, '2024-01-02 10:00:00-05:30'), (3, '2024-01-02 10:00:00Z'), (4, '2024-01-02'), (5, '2024-01-02T10:00:00.25+00');
SELECT * FROM tz ORDER BY id;
SELECT '2024-01-02 10:00 UTC'::timestamptz, '2024-01-02 10:00:00+0530'::timestamptz;
SELECT 'x'::timestamptz;
SELECT '2024-02-30 10:00+02'::timestamptz;
