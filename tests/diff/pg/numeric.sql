-- Numbers as PostgreSQL computes and prints them: numeric keeps its scale and divides to at
-- least 16 significant digits, integer types overflow at their own width, floats print the
-- shortest digits that round-trip, and aggregates pick their result types.

SELECT 1.50 + 1, 1.5 - 0.25, 3.10 * 2, 0.005 * 0.005, -1.5 * 2, 7.5 % 2, -7.5 % 2;
SELECT 5 / 2.0, 1.0 / 3, 10 / 4::numeric, 2 / 3.0, 1 / 7.0, 100 / 0.5, 12345.678 / 3;
SELECT 1 / 3.000000000000000000, 0.0001 / 3, 10000 / 3.0, 99999 / 7.0, -1 / 3.0, 1 / -8.0;
SELECT 0.5 / 0.25, 1e3::numeric / 7, 22 / 7.0 * 7;
SELECT 7 / 2, -7 / 2, 7 % -3, -7 % 3, 2 * 3 + 4;
SELECT 1.0 / 0;
SELECT 1 % 0.0;

CREATE TABLE m (i int, b bigint, s smallint, r real, d double precision, n numeric);
INSERT INTO m VALUES
    (1, 10, 1, 0.5, 0.25, 1.25),
    (2, 20, 2, 1.5, 0.5, 2.5),
    (4, 9223372036854775807, 3, 2.5, 1, 0.001),
    (NULL, NULL, NULL, NULL, NULL, NULL);
SELECT avg(i), avg(s), avg(n), avg(d), avg(r) FROM m;
SELECT sum(i), sum(s), sum(n), sum(d), sum(r), sum(b) FROM m;
SELECT count(DISTINCT i), count(DISTINCT n), count(*), count(i) FROM m;
SELECT i / 3, i * 1.5, n / 3, n * i, d / 3, r * 2 FROM m WHERE i IS NOT NULL ORDER BY i;
SELECT s + s, s * 1000, i + s FROM m WHERE s IS NOT NULL ORDER BY s;
SELECT s * 20000 FROM m WHERE s = 3;
SELECT s + s * 20000::smallint FROM m WHERE s = 3;
SELECT i * 2147483647 FROM m WHERE i = 2;
SELECT b + 1 FROM m WHERE i = 4;
SELECT b * 2 FROM m WHERE i = 1;
SELECT 1.5::real * 2, 1.5::real * 2::real, 1.0::real / 3, 0.1 + 0.2::float8;
-- [known: real (float4) values are kept and computed in double precision, so sums of reals keep f64 digits]
SELECT 0.1::real + 0.2::real;
SELECT 1e10::float8, 100000000000000000000::float8, 1.5e-7::float8, 123456789.125::float8;
SELECT 32767::smallint + 1::smallint;
SELECT 2147483647 + 1;
SELECT -2147483648 - 1;
SELECT 9223372036854775807 + 1;
SELECT '3.14'::numeric, '  42  '::int, '007'::numeric, '-0.50'::numeric, 3.7::int, (-3.5)::int, 2.5::int;

-- numeric(p,s) columns and casts round to their scale (half away from zero) and refuse what
-- does not fit their precision.
CREATE TABLE priced (id int, price numeric(10,2), ratio numeric(3,3), whole numeric(4));
INSERT INTO priced VALUES (1, 3, 0.5, 12.5), (2, 2.345, 0.1235, -12.5), (3, '7', NULL, 9999);
SELECT id, price, ratio, whole FROM priced ORDER BY id;
UPDATE priced SET price = price * 1.1 WHERE id = 1;
SELECT price FROM priced WHERE id = 1;
INSERT INTO priced VALUES (4, 123456789.999, 0, 0);
INSERT INTO priced VALUES (5, 1, 1, 0);
INSERT INTO priced VALUES (6, 1, 0, 10000);
SELECT 123.456::numeric(4,1), 0.5::numeric(2,2), 2.345::numeric(5,2), (-2.345)::numeric(5,2), 2.5::numeric(3,0), 1e2::numeric(5,1);
SELECT 1234.5::numeric(4,1);
SELECT sum(price) FROM priced;
