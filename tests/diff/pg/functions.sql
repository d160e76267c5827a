-- The everyday functions: strings, math, settings, aggregates; each compared with PostgreSQL.

-- Strings.
SELECT upper('abc'), lower('ABC'), length('héllo'), substr('abcdef', 2, 3), substring('abcdef' from 2 for 3), substring('abcdef' from 3), substring('abcdef', 0, 3);
SELECT concat('a', 1, NULL, 'b'), concat_ws('-', 'a', NULL, 'b'), 'a' || 'b' || 1, replace('aXbXc', 'X', '-');
SELECT trim('  x  '), trim(leading 'x' from 'xxaxx'), trim(trailing 'x' from 'xxaxx'), trim(both 'x' from 'xxaxx'), ltrim('  x'), rtrim('x  '), btrim('xxaxx', 'x');
SELECT position('c' in 'abcd'), strpos('abcd', 'c'), strpos('abcd', 'z'), starts_with('abc', 'ab');
SELECT left('abcdef', 2), right('abcdef', 2), left('abcdef', -2), right('abcdef', -2), repeat('ab', 3), repeat('x', 0), reverse('abc');
SELECT lpad('7', 3, '0'), rpad('7', 3, '0'), lpad('hello', 3), lpad('x', 5), initcap('hello wORLD-foo bar_baz');
SELECT split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 5), split_part('a,b,c', ',', -1), md5('abc'), md5(''), ascii('A'), chr(66);
SELECT length(md5(random()::text)), format('%s-%s %% %L %I %I', 'a', NULL, 'it''s', 'col', 'Mixed');
SELECT upper(NULL), replace(NULL, 'a', 'b'), lpad(NULL, 3), concat(NULL), split_part('a', ',', 0);
SELECT substring('abc' from 2 for -1);
SELECT format('%s %s', 'only one');

-- Math.
SELECT abs(-3), abs(-2.5), round(2.567, 2), round(2.5), round(-2.5), round(1234.5, -2), round(2.5::float8), round(3.5::float8);
SELECT trunc(2.789, 1), trunc(-2.789), ceil(2.1), ceiling(-2.1), floor(2.9), floor(-2.1), ceil(2.5::float8), sign(-5), sign(0.0);
SELECT mod(7, 3), mod(-7, 3), 7 % 3, 7 / 2, 7.0 / 2, power(2, 10), 2 ^ 3, sqrt(16), exp(0), ln(1), log(100), pi();
SELECT div(7, 2), gcd(12, 18), lcm(4, 6), degrees(pi()), radians(180) = pi();
SELECT random() >= 0 AND random() < 1 AS in_range, count(DISTINCT random()) > 1 AS varies FROM generate_series(1, 20);
SELECT mod(1, 0);
SELECT sqrt(-1);
SELECT ln(0);
SELECT power(0, -1);

-- Settings.
SELECT current_setting('transaction_isolation'), current_setting('statement_timeout'), current_setting('server_version_num', true);
SELECT current_setting('no_such_setting');
SELECT current_setting('no_such_setting', true) IS NULL AS missing;
SELECT set_config('statement_timeout', '5s', false), current_setting('statement_timeout');
SHOW statement_timeout;
SELECT set_config('application_name', 'demo', false), current_setting('application_name');
SHOW application_name;
BEGIN;
SELECT set_config('lock_timeout', '2s', true);
SHOW lock_timeout;
COMMIT;
RESET statement_timeout;

-- Aggregates.
CREATE TABLE fa (g int, x int, s text);
INSERT INTO fa VALUES (1, 3, 'c'), (1, 1, 'a'), (1, 2, 'b'), (2, 5, NULL), (2, -1, 'z');
SELECT g, string_agg(s, ',' ORDER BY s), string_agg(s, '|' ORDER BY x DESC), bool_and(x > 0), bool_or(x > 4), every(x > -5) FROM fa GROUP BY g ORDER BY g;
SELECT count(*) FILTER (WHERE x > 1), string_agg(s, ', ') FILTER (WHERE g = 1) FROM fa;
SELECT string_agg(s, ',') FROM fa WHERE false;
SELECT 'ABC' ILIKE 'a%', 'ABC' NOT ILIKE 'a%', 'abc' ~ '^a', 'ABC' ~* '^a', 'abc' !~ 'z';

-- unnest over an array, as psql's \d+ uses it.
SELECT x FROM unnest('{a,b,NULL}'::text[]) x;
SELECT * FROM unnest(NULL::text[]);
SELECT count(*) FROM pg_catalog.unnest('{1,2,3}'::text[]) AS t(v);
SELECT u FROM unnest('{"a b",c}'::text[]) u ORDER BY u DESC;

-- to_char over timestamps and dates.
SELECT to_char(timestamp '2024-03-05 14:07:09.123456', 'YYYY-MM-DD HH24:MI:SS'), to_char(timestamp '2024-03-05 14:07:09.123456', 'YYYY-MM-DD"T"HH24:MI:SS.US'), to_char(timestamp '2024-03-05 14:07:09.123456', 'DD/MM/YY HH12:MI:SS.MS AM');
SELECT to_char(timestamp '2024-03-05 00:07:09', 'Day, DD Month YYYY'), to_char(timestamp '2024-03-05 00:07:09', 'FMDay, FMDD FMMonth YYYY'), to_char(timestamp '2024-12-29 23:00:00', 'DY dy Dy MON Mon mon Q DDD D pm a.m.');
SELECT to_char(date '2024-02-29', 'YYYY-MM-DD'), to_char(date '2024-02-29', 'FMMM/FMDD/YYYY'), to_char(NULL::timestamp, 'YYYY');
SELECT to_char(timestamptz '2024-03-05 14:07:09+00', 'YYYY-MM-DD HH24:MI TZ');
SELECT to_char(now(), 'YYYY') = extract(year from now())::text;
