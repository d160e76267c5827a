-- Subqueries: IN / NOT IN, EXISTS, scalar subqueries in the select list and WHERE, correlated
-- ones, subqueries in FROM, WITH, UNION / INTERSECT / EXCEPT with ORDER BY and LIMIT, subqueries
-- in UPDATE / DELETE / INSERT, and what each sees of other transactions (one snapshot for all).

CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, branch text, balance int);
CREATE TABLE transfers (id int PRIMARY KEY, src int, dst int, amount int);
INSERT INTO accounts VALUES (1, 'ada', 'north', 100), (2, 'bob', 'south', 50), (3, 'cy', 'north', 0),
    (4, 'dee', NULL, 75), (5, 'eve', 'south', NULL);
INSERT INTO transfers VALUES (1, 1, 2, 10), (2, 1, 3, 5), (3, 2, 1, 20), (4, 4, 9, 1), (5, NULL, 1, 3);

-- IN and NOT IN (NULLs make NOT IN unknown).
SELECT owner FROM accounts WHERE id IN (SELECT src FROM transfers) ORDER BY owner;
SELECT owner FROM accounts WHERE id NOT IN (SELECT dst FROM transfers) ORDER BY owner;
SELECT owner FROM accounts WHERE id NOT IN (SELECT src FROM transfers);
SELECT owner FROM accounts WHERE id NOT IN (SELECT src FROM transfers WHERE src IS NOT NULL) ORDER BY owner;
SELECT owner FROM accounts WHERE id IN (SELECT src FROM transfers WHERE amount > 100);
SELECT owner FROM accounts WHERE id NOT IN (SELECT src FROM transfers WHERE amount > 100) ORDER BY id;
SELECT id, id IN (SELECT dst FROM transfers) AS received, balance NOT IN (SELECT amount FROM transfers) AS odd FROM accounts ORDER BY id;
SELECT owner FROM accounts WHERE branch IN (SELECT branch FROM accounts WHERE balance >= 75) ORDER BY owner;
SELECT owner FROM accounts WHERE id = ANY (SELECT dst FROM transfers) ORDER BY owner;
SELECT owner FROM accounts WHERE balance > ALL (SELECT amount FROM transfers WHERE src = 1) ORDER BY owner;

-- EXISTS, correlated.
SELECT a.owner FROM accounts a WHERE EXISTS (SELECT 1 FROM transfers t WHERE t.src = a.id) ORDER BY a.owner;
SELECT a.owner FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.src = a.id OR t.dst = a.id) ORDER BY a.owner;
SELECT owner FROM accounts WHERE EXISTS (SELECT 1 FROM transfers WHERE amount > 1000);
SELECT owner, EXISTS (SELECT * FROM transfers WHERE dst = accounts.id) AS has_incoming FROM accounts ORDER BY id;

-- Scalar subqueries in the select list and WHERE.
SELECT (SELECT max(id) FROM accounts);
SELECT (SELECT max(id) FROM accounts) AS top, (SELECT count(*) FROM transfers) AS n;
SELECT owner FROM accounts WHERE balance = (SELECT max(balance) FROM accounts);
SELECT owner, balance - (SELECT min(balance) FROM accounts) AS above_min FROM accounts WHERE balance IS NOT NULL ORDER BY id;
SELECT a.owner, (SELECT sum(t.amount) FROM transfers t WHERE t.src = a.id) AS sent FROM accounts a ORDER BY a.id;
SELECT a.owner, (SELECT count(*) FROM transfers t WHERE t.dst = a.id) AS received FROM accounts a ORDER BY received DESC, a.owner;
SELECT owner FROM accounts a WHERE balance > (SELECT avg(balance) FROM accounts b WHERE b.branch = a.branch) ORDER BY owner;
SELECT (SELECT owner FROM accounts WHERE id = 42);
SELECT (SELECT owner FROM accounts WHERE id = t.src) AS who, amount FROM transfers t ORDER BY t.id;
SELECT (SELECT id FROM accounts);
SELECT (SELECT id, owner FROM accounts WHERE id = 1);
SELECT owner FROM accounts WHERE id = (SELECT src FROM transfers);
SELECT owner FROM accounts WHERE id IN (SELECT src, dst FROM transfers);
SELECT owner FROM accounts WHERE id IN (SELECT owner FROM accounts);
SELECT owner FROM accounts a WHERE EXISTS (SELECT 1 FROM transfers t WHERE t.nosuch = a.id);
SELECT owner FROM accounts a WHERE EXISTS (SELECT 1 FROM transfers t WHERE t.src = b.id);

-- Deeper: a subquery inside a correlated one reaching two levels out, subqueries in ORDER BY
-- and HAVING, and what EXISTS and IN give for nothing.
SELECT a.owner FROM accounts a WHERE EXISTS (SELECT 1 FROM transfers t WHERE t.src = a.id
    AND EXISTS (SELECT 1 FROM accounts b WHERE b.id = t.dst AND b.branch = a.branch)) ORDER BY 1;
SELECT owner FROM accounts a ORDER BY (SELECT count(*) FROM transfers t WHERE t.src = a.id) DESC, owner;
SELECT branch, count(*) FROM accounts GROUP BY branch HAVING count(*) > (SELECT count(*) FROM transfers WHERE amount > 10) ORDER BY 1;
SELECT EXISTS (SELECT 1 WHERE false), NOT EXISTS (SELECT 1), (SELECT 1 WHERE false) IS NULL;
SELECT 5 IN (SELECT 5), 5 NOT IN (SELECT NULL::int), NULL::int IN (SELECT 1 WHERE false);
SELECT t.id, (SELECT owner FROM accounts a WHERE a.id = t.dst) AS to_whom FROM transfers t ORDER BY t.id;
SELECT id FROM accounts WHERE id < ANY (SELECT dst FROM transfers) ORDER BY id;
SELECT CASE WHEN EXISTS (SELECT 1 FROM transfers WHERE src = 1) THEN 'sender' ELSE 'quiet' END;

-- Subqueries in FROM.
SELECT s.branch, s.total FROM (SELECT branch, sum(balance) AS total FROM accounts GROUP BY branch) AS s ORDER BY s.branch NULLS FIRST;
SELECT * FROM (SELECT id, owner FROM accounts WHERE balance > 10) rich ORDER BY id DESC;
SELECT count(*) FROM (SELECT DISTINCT branch FROM accounts) b;
SELECT x.n, x.o FROM (SELECT id, owner FROM accounts) AS x(n, o) WHERE x.n <= 2 ORDER BY x.n;
SELECT s.owner, t.amount FROM (SELECT id, owner FROM accounts) s JOIN transfers t ON t.src = s.id ORDER BY t.id;
SELECT * FROM (SELECT 1 AS one, 'two' AS two) AS c;
SELECT * FROM (SELECT id FROM accounts);
SELECT * FROM (SELECT id FROM accounts) s(a, b);
SELECT * FROM (VALUES (1, 'one'), (2, 'two')) AS v(n, word) ORDER BY n DESC;

-- WITH.
WITH rich AS (SELECT id, owner FROM accounts WHERE balance >= 75) SELECT owner FROM rich ORDER BY owner;
WITH rich AS (SELECT id FROM accounts WHERE balance >= 75), sent AS (SELECT src, sum(amount) AS total FROM transfers GROUP BY src)
    SELECT r.id, s.total FROM rich r LEFT JOIN sent s ON s.src = r.id ORDER BY r.id;
WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM a, b;
WITH t(k, v) AS (SELECT id, owner FROM accounts) SELECT v FROM t WHERE k = 3;
WITH counts AS (SELECT branch, count(*) AS n FROM accounts GROUP BY branch) SELECT branch FROM counts WHERE n = (SELECT max(n) FROM counts) ORDER BY branch;
WITH ids AS (SELECT id FROM accounts) SELECT owner FROM accounts WHERE id IN (SELECT id FROM ids WHERE id > 3) ORDER BY owner;
WITH c AS (SELECT 1), c AS (SELECT 2) SELECT * FROM c;
WITH c AS (SELECT * FROM d), d AS (SELECT 1) SELECT * FROM c;
WITH t(a, b, c) AS (SELECT 1, 2) SELECT * FROM t;

-- UNION, INTERSECT, EXCEPT.
SELECT src FROM transfers UNION SELECT dst FROM transfers ORDER BY 1;
SELECT src FROM transfers UNION ALL SELECT dst FROM transfers ORDER BY src NULLS FIRST;
SELECT id FROM accounts INTERSECT SELECT dst FROM transfers ORDER BY id;
SELECT id FROM accounts EXCEPT SELECT src FROM transfers ORDER BY id DESC;
SELECT branch FROM accounts EXCEPT ALL SELECT 'north' ORDER BY 1;
SELECT branch FROM accounts INTERSECT ALL SELECT branch FROM accounts WHERE id > 1 ORDER BY 1;
SELECT 1 AS n UNION SELECT 2 UNION SELECT 1 ORDER BY n DESC LIMIT 1;
SELECT owner AS who FROM accounts WHERE id < 3 UNION ALL SELECT 'zed' ORDER BY who LIMIT 2 OFFSET 1;
(SELECT id FROM accounts ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM transfers ORDER BY id DESC LIMIT 1);
SELECT 1 UNION SELECT 2.5 ORDER BY 1;
SELECT 'a' UNION SELECT 'b' ORDER BY 1;
SELECT id, owner FROM accounts WHERE id = 1 UNION SELECT src, NULL FROM transfers WHERE id = 2;
SELECT count(*) FROM (SELECT src FROM transfers UNION SELECT dst FROM transfers) u;
SELECT 1 UNION SELECT 1, 2;
SELECT 1 INTERSECT SELECT 1, 2;
SELECT 1 EXCEPT SELECT 1, 2;
SELECT 1 UNION SELECT 'a';
SELECT id FROM accounts UNION SELECT owner FROM accounts;
SELECT 1 UNION SELECT true;
SELECT id FROM accounts UNION SELECT src FROM transfers ORDER BY id + 1;
SELECT id FROM accounts UNION SELECT src FROM transfers ORDER BY accounts.id;
SELECT id FROM accounts UNION SELECT src FROM transfers ORDER BY nosuch;
SELECT 1 UNION SELECT 2::bigint ORDER BY 1;
SELECT owner FROM accounts UNION SELECT NULL ORDER BY 1 NULLS FIRST;
SELECT 1 AS x UNION SELECT 2 INTERSECT SELECT 2 ORDER BY 1;
VALUES (1, 'one'), (2, NULL) ORDER BY 1 DESC;
VALUES (1), ('x');
VALUES (1, 2), (3);

-- Subqueries in writes.
UPDATE accounts SET balance = balance + 1 WHERE id IN (SELECT dst FROM transfers WHERE amount >= 10);
UPDATE accounts a SET balance = (SELECT count(*) FROM transfers t WHERE t.src = a.id) WHERE a.balance IS NULL;
DELETE FROM transfers WHERE src NOT IN (SELECT id FROM accounts) RETURNING id;
INSERT INTO transfers VALUES ((SELECT max(id) + 1 FROM transfers), 3, 1, 7);
INSERT INTO transfers SELECT id + 100, id, 1, 1 FROM accounts WHERE branch = 'north';
SELECT id, owner, balance FROM accounts ORDER BY id;
SELECT id, src, dst, amount FROM transfers ORDER BY id;

-- One snapshot for the whole statement: a subquery does not see what another transaction
-- committed after the snapshot, in REPEATABLE READ for the whole transaction.
@a BEGIN ISOLATION LEVEL REPEATABLE READ;
@a SELECT count(*) FROM accounts WHERE id IN (SELECT dst FROM transfers);
@b INSERT INTO transfers VALUES (50, 1, 5, 2);
@a SELECT count(*) FROM accounts WHERE id IN (SELECT dst FROM transfers);
@a SELECT (SELECT count(*) FROM transfers), (SELECT max(id) FROM transfers);
@a COMMIT;
@a SELECT count(*) FROM accounts WHERE id IN (SELECT dst FROM transfers);
-- An uncommitted row of another session is invisible to subqueries too; our own is visible.
@b BEGIN;
@b INSERT INTO transfers VALUES (51, 2, 4, 9);
@a SELECT owner FROM accounts WHERE id IN (SELECT dst FROM transfers WHERE id > 49) ORDER BY owner;
@b SELECT owner FROM accounts WHERE id IN (SELECT dst FROM transfers WHERE id > 49) ORDER BY owner;
@b ROLLBACK;

-- SERIALIZABLE: tables read through subqueries count as read (write skew across two tables).
@a BEGIN ISOLATION LEVEL SERIALIZABLE;
@b BEGIN ISOLATION LEVEL SERIALIZABLE;
@a SELECT count(*) FROM accounts WHERE id IN (SELECT src FROM transfers);
@b SELECT count(*) FROM transfers WHERE src IN (SELECT id FROM accounts WHERE balance > 0);
@a INSERT INTO transfers VALUES (60, 3, 2, 1);
@b UPDATE accounts SET balance = 0 WHERE id = 4;
@a COMMIT;
@b COMMIT;

-- A write whose WHERE holds a subquery waits for a row another transaction holds, then updates
-- the newest version.
@a BEGIN;
@a UPDATE accounts SET balance = balance + 100 WHERE id = 1;
@b & UPDATE accounts SET balance = balance * 2 WHERE id IN (SELECT src FROM transfers WHERE amount >= 5);
@a COMMIT;
@b wait
@a SELECT id, balance FROM accounts WHERE id IN (SELECT src FROM transfers) ORDER BY id;
-- SELECT ... FOR UPDATE with a subquery in WHERE locks only the rows it returns.
@a BEGIN;
@a SELECT id FROM accounts WHERE balance = (SELECT max(balance) FROM accounts) FOR UPDATE;
@b SELECT id FROM accounts WHERE id NOT IN (SELECT id FROM accounts WHERE balance = (SELECT max(balance) FROM accounts)) ORDER BY id FOR UPDATE NOWAIT;
@b SELECT id FROM accounts ORDER BY balance DESC NULLS LAST LIMIT 1 FOR UPDATE NOWAIT;
@a ROLLBACK;
