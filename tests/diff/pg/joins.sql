-- Several FROM items: inner joins with ON and USING, LEFT / RIGHT / FULL joins, comma and CROSS
-- joins, aliases, qualified columns and `t.*`, generate_series, aggregates over joins, FOR UPDATE
-- with joins, and the name errors PostgreSQL reports for them.

CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric, status text);
CREATE TABLE items (order_id int, sku text, qty int);
INSERT INTO customers VALUES (1, 'ada', 'london'), (2, 'bob', 'paris'), (3, 'cy', NULL), (4, 'dee', 'london');
INSERT INTO orders VALUES (10, 1, 25.50, 'paid'), (11, 1, 10.00, 'open'), (12, 2, 99.99, 'paid'),
    (13, NULL, 5.00, 'open'), (14, 5, 1.25, 'void');
INSERT INTO items VALUES (10, 'pen', 2), (10, 'ink', 1), (12, 'pad', 5), (13, 'pen', 1), (99, 'cap', 3);

-- Inner joins.
SELECT c.name, o.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id;
SELECT customers.name, orders.amount FROM customers INNER JOIN orders ON orders.customer_id = customers.id ORDER BY orders.amount DESC;
SELECT c.name, o.id FROM customers AS c JOIN orders AS o ON o.customer_id = c.id AND o.status = 'paid' ORDER BY 2;
SELECT name, status FROM customers c JOIN orders o ON customer_id = c.id WHERE amount > 10 ORDER BY name, status;
SELECT c.name, o.id, i.sku, i.qty FROM customers c JOIN orders o ON o.customer_id = c.id JOIN items i ON i.order_id = o.id ORDER BY o.id, i.sku;
SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id;
SELECT o.*, c.name FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id;
SELECT c.* FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status = 'open';
SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id AND c.city = 'london' ORDER BY o.id DESC LIMIT 1;
SELECT a.name, b.name FROM customers a JOIN customers b ON a.city = b.city AND a.id < b.id;

-- USING and NATURAL: the shared column appears once, first.
CREATE TABLE prices (sku text, price numeric);
CREATE TABLE stock (sku text, qty int, shelf text);
INSERT INTO prices VALUES ('pen', 1.50), ('ink', 4.00), ('pad', 2.25), ('mug', 7.00);
INSERT INTO stock VALUES ('pen', 100, 'a1'), ('pad', 0, 'b2'), ('cap', 9, 'c3');
SELECT * FROM prices JOIN stock USING (sku) ORDER BY sku;
SELECT sku, price, qty FROM prices JOIN stock USING (sku) ORDER BY sku;
SELECT sku, prices.sku, stock.sku FROM prices JOIN stock USING (sku) ORDER BY 1;
SELECT * FROM prices NATURAL JOIN stock ORDER BY sku;
SELECT * FROM prices LEFT JOIN stock USING (sku) ORDER BY sku;
SELECT * FROM prices FULL JOIN stock USING (sku) ORDER BY sku;
SELECT sku, price, qty FROM prices RIGHT JOIN stock USING (sku) ORDER BY sku;
SELECT i.sku, sum(i.qty * p.price) FROM items i JOIN prices p USING (sku) GROUP BY i.sku ORDER BY i.sku;

-- Outer joins: NULLs for the rows without a partner.
SELECT c.name, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id ORDER BY c.id, o.id;
SELECT c.name, o.id FROM customers c LEFT OUTER JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL ORDER BY c.name;
SELECT c.name, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'paid' ORDER BY c.id;
SELECT c.name, o.id FROM customers c RIGHT JOIN orders o ON o.customer_id = c.id ORDER BY o.id;
SELECT c.name, o.id FROM customers c FULL OUTER JOIN orders o ON o.customer_id = c.id ORDER BY c.name NULLS FIRST, o.id;
SELECT c.name, count(o.id), coalesce(sum(o.amount), 0) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name;
SELECT o.id, i.sku FROM orders o LEFT JOIN items i ON i.order_id = o.id ORDER BY o.id, i.sku NULLS LAST;
SELECT c.name, o.id, i.sku FROM customers c LEFT JOIN orders o ON o.customer_id = c.id LEFT JOIN items i ON i.order_id = o.id ORDER BY c.id, o.id, i.sku;

-- Comma and CROSS joins.
SELECT c.name, o.id FROM customers c, orders o WHERE o.customer_id = c.id ORDER BY o.id;
SELECT count(*) FROM customers, orders;
SELECT c.name, p.sku FROM customers c CROSS JOIN prices p WHERE c.id = 1 ORDER BY p.sku;
SELECT count(*) FROM customers a, customers b, customers c WHERE a.id < b.id AND b.id < c.id;
SELECT DISTINCT c.city FROM customers c, orders o WHERE o.customer_id = c.id ORDER BY c.city;
SELECT c.name, o.status, count(*) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name, o.status HAVING count(*) >= 1 ORDER BY 1, 2;

-- Joined aliases: (a JOIN b ...) AS j, and column aliases.
SELECT j.sku, j.price FROM (prices JOIN stock USING (sku)) AS j ORDER BY j.sku;
SELECT x.k, x.n FROM customers AS x(k, n) WHERE x.k < 3 ORDER BY x.k;
SELECT p.sku, s.qty FROM prices p JOIN stock s ON s.sku = p.sku ORDER BY p.sku;

-- generate_series as a FROM item, also joined and inserted from.
SELECT * FROM generate_series(1, 5);
SELECT g FROM generate_series(1, 10, 3) g;
SELECT n FROM generate_series(5, 1, -2) AS t(n);
SELECT * FROM generate_series(1, 0);
SELECT g.n, c.name FROM generate_series(1, 4) AS g(n) LEFT JOIN customers c ON c.id = g.n ORDER BY g.n;
SELECT sum(g), count(*), max(g) FROM generate_series(1, 100) g;
SELECT * FROM generate_series(1.5, 3);
SELECT * FROM generate_series(1, 3, 0);
CREATE TABLE numbers (n int PRIMARY KEY, square int);
INSERT INTO numbers SELECT g, g * g FROM generate_series(1, 20) g;
SELECT count(*), sum(square) FROM numbers;
INSERT INTO numbers (n) SELECT g FROM generate_series(21, 22) g RETURNING n, square;
INSERT INTO numbers SELECT n + 100, square FROM numbers WHERE n <= 3;
SELECT n, square FROM numbers WHERE n > 20 ORDER BY n;
INSERT INTO numbers SELECT g FROM generate_series(1, 2) g;
INSERT INTO numbers SELECT g, g, g FROM generate_series(200, 201) g;
-- ... and in the select list: one row per value.
SELECT generate_series(1, 3);
SELECT generate_series(1, 3) * 10 AS tens, 'x' AS tag;
SELECT generate_series(1, 2) AS a, generate_series(1, 3) AS b;
INSERT INTO numbers SELECT generate_series(300, 304), 0;
SELECT n, generate_series(1, 2) FROM numbers WHERE n <= 2 ORDER BY 1, 2;
SELECT count(*) FROM numbers WHERE n >= 300;
SELECT n FROM numbers WHERE n = generate_series(1, 2);

-- More shapes: USING columns in WHERE, self joins, DISTINCT ON and CASE over joins, joins of
-- subqueries, a join without its condition.
SELECT * FROM customers c JOIN orders o USING (id) WHERE id = 1;
SELECT c1.name, c2.name FROM customers c1 JOIN customers c2 USING (city) WHERE c1.id < c2.id;
SELECT DISTINCT ON (c.id) c.id, c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY c.id, o.amount DESC;
SELECT c.name, CASE WHEN o.id IS NULL THEN 'none' WHEN o.amount > 20 THEN 'big' ELSE 'small' END AS kind
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id ORDER BY c.id, o.id;
SELECT s.n, t.total FROM (SELECT id AS n FROM customers) s JOIN (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t ON t.customer_id = s.n ORDER BY s.n;
SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name HAVING max(o.amount) > 20 ORDER BY c.name;
SELECT o.status, count(DISTINCT o.customer_id) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id GROUP BY o.status ORDER BY o.status;
SELECT * FROM customers JOIN orders;
SELECT * FROM customers LEFT JOIN orders WHERE true;

-- Name errors.
SELECT id FROM customers, orders;
SELECT id FROM customers c JOIN orders o ON o.customer_id = c.id;
SELECT name FROM customers c JOIN customers d ON c.id = d.id;
SELECT customers.id FROM customers c;
SELECT x.id FROM customers c JOIN orders o ON true;
SELECT c.nme FROM customers c;
SELECT nme FROM customers c JOIN orders o ON true;
SELECT idd FROM customers c JOIN orders o ON true;
SELECT xmin FROM customers c JOIN orders o ON true;
SELECT c.amount FROM customers c, orders o;
SELECT * FROM customers c, orders c;
SELECT * FROM customers, customers;
SELECT * FROM customers c JOIN orders o ON c.nosuch = o.id;
SELECT * FROM customers c, orders o JOIN items i ON i.order_id = c.id;
SELECT * FROM customers c JOIN orders o ON count(*) > 0;
SELECT * FROM prices JOIN stock USING (nosuch);
SELECT * FROM prices JOIN stock USING (price);
SELECT * FROM prices JOIN stock USING (sku, sku);
SELECT * FROM customers JOIN nosuch ON true;
SELECT * FROM customers AS c(a, b, c, d);
SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY id;
SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY id;
-- Errors while planning come alone; errors from row values follow the RowDescription.
SELECT c.id / 0 FROM customers c JOIN orders o ON o.customer_id = c.id;
SELECT 1 / 0 FROM customers c JOIN orders o ON o.customer_id = c.id;
SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = 'abc';
SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.amount / (o.id - 10) > 1;
SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.name = 1;

-- FOR UPDATE with joins locks rows of every table; the nullable side of an outer join is refused.
@a BEGIN;
@a SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.id = 12 FOR UPDATE;
@b & UPDATE customers SET city = 'rome' WHERE id = 2;
@a COMMIT;
@b wait
@a BEGIN;
@a SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.id = 1 ORDER BY o.id FOR UPDATE OF o;
@b UPDATE customers SET city = 'oslo' WHERE id = 1;
@b & UPDATE orders SET status = 'void' WHERE id = 10;
@a ROLLBACK;
@b wait
@a SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id FOR UPDATE;
@a SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE c.id = 3 FOR UPDATE OF c;
@a SELECT count(*) FROM customers c JOIN orders o ON o.customer_id = c.id FOR UPDATE;
@a SELECT c.name FROM customers c FOR UPDATE OF o;
@a SELECT c.id, o.id, c.city, o.status FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id;

-- A job queue: each worker takes the first free job; rows past LIMIT stay unlocked, so SKIP
-- LOCKED hands the next worker the next job.
@a CREATE TABLE jobs (id int PRIMARY KEY, owner_id int, state text);
@a INSERT INTO jobs SELECT g, g % 2 + 1, 'new' FROM generate_series(1, 4) g;
@a BEGIN;
@a SELECT j.id, c.name FROM jobs j JOIN customers c ON c.id = j.owner_id WHERE j.state = 'new' ORDER BY j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED;
@b BEGIN;
@b SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
@b SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 2 OFFSET 1 FOR UPDATE SKIP LOCKED;
@b UPDATE jobs SET state = 'done' WHERE id = 2;
@b COMMIT;
@a SELECT id FROM jobs WHERE state = 'new' ORDER BY id FOR UPDATE NOWAIT;
@a COMMIT;
@a SELECT id, state FROM jobs ORDER BY id;

-- Every table of a join is read through the statement's snapshot: REPEATABLE READ keeps seeing
-- both as they were, READ COMMITTED sees what committed before each statement.
@a BEGIN ISOLATION LEVEL REPEATABLE READ;
@a SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name;
@b INSERT INTO orders VALUES (15, 3, 1.00, 'open');
@b UPDATE customers SET name = 'ada2' WHERE id = 1;
@a SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name;
@a COMMIT;
@a BEGIN;
@b BEGIN;
@b DELETE FROM orders WHERE id = 15;
@a SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (1, 3) ORDER BY o.id;
@b COMMIT;
@a SELECT c.name, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id IN (1, 3) ORDER BY o.id;
@a COMMIT;
