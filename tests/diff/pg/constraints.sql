-- CHECK and FOREIGN KEY constraints: their names, their errors (23514, 23503 with PostgreSQL's
-- DETAILs), the referential actions, and what DDL they refuse.

-- CHECK: column and table level, named and unnamed. An unnamed one is named after the single
-- column it mentions (`t_col_check`), else after the table (`t_check`); a second one on the same
-- column gets a number.
CREATE TABLE accounts (
    id int PRIMARY KEY,
    owner text NOT NULL,
    balance int CHECK (balance >= 0),
    kind text CONSTRAINT kind_known CHECK (kind IN ('checking', 'savings')),
    lo int,
    hi int,
    CHECK (lo <= hi),
    CHECK (lo > -100),
    CHECK (lo > -1000)
);
INSERT INTO accounts VALUES (1, 'ada', 100, 'checking', 1, 2);
INSERT INTO accounts VALUES (2, 'bob', -5, 'checking', 1, 2);
INSERT INTO accounts VALUES (2, 'bob', 5, 'brokerage', 1, 2);
INSERT INTO accounts VALUES (2, 'bob', 5, 'savings', 3, 2);
INSERT INTO accounts VALUES (2, 'bob', 5, 'savings', -500, 2);
INSERT INTO accounts VALUES (2, 'bob', 5, 'savings', -5000, 2);
-- NULL passes a CHECK; NOT NULL is checked before CHECK.
INSERT INTO accounts VALUES (2, 'bob', NULL, NULL, NULL, NULL);
INSERT INTO accounts VALUES (3, NULL, -1, 'x', 1, 2);
UPDATE accounts SET balance = balance - 150 WHERE id = 1;
UPDATE accounts SET balance = balance - 50 WHERE id = 1 RETURNING balance;
-- Checks run in name order: both fail here, accounts_balance_check is reported.
UPDATE accounts SET balance = -1, kind = 'x' WHERE id = 1;
SELECT id, owner, balance, kind FROM accounts ORDER BY id;
-- Several failing rows: the first one written fails the statement, which is undone whole.
INSERT INTO accounts VALUES (10, 'c', 1, 'savings', 1, 1), (11, 'd', -1, 'savings', 1, 1);
SELECT count(*) FROM accounts;

-- What a CHECK expression may not be.
CREATE TABLE bad (a int CHECK (a));
CREATE TABLE bad (a int CHECK (nope > 0));
CREATE TABLE bad (a int CHECK (a > (SELECT 1)));
CREATE TABLE bad (a int CHECK (sum(a) > 0));
CREATE TABLE bad (a int CONSTRAINT c1 CHECK (a > 0), b int CONSTRAINT c1 CHECK (b > 0));

-- ALTER TABLE ADD CHECK looks at the rows already there.
ALTER TABLE accounts ADD CHECK (balance < 40);
ALTER TABLE accounts ADD CONSTRAINT small CHECK (balance < 1000);
INSERT INTO accounts VALUES (4, 'eve', 2000, 'savings', 1, 2);
ALTER TABLE accounts DROP CONSTRAINT small;
INSERT INTO accounts VALUES (4, 'eve', 2000, 'savings', 1, 2);
ALTER TABLE accounts DROP CONSTRAINT small;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS small;
ALTER TABLE accounts ADD COLUMN fee int DEFAULT 5 CHECK (fee > 10);
ALTER TABLE accounts ADD COLUMN fee int DEFAULT 15 CHECK (fee > 10);
INSERT INTO accounts (id, owner, fee) VALUES (5, 'fay', 1);
SELECT id, fee FROM accounts ORDER BY id;

-- FOREIGN KEY: column REFERENCES (to the primary key or named columns) and table-level.
CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, name text);
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer int REFERENCES customers,
    email text REFERENCES customers (email),
    note text
);
INSERT INTO customers VALUES (1, 'a@x', 'ada'), (2, 'b@x', 'bob'), (3, 'c@x', 'cy');
INSERT INTO orders VALUES (10, 1, 'a@x', 'first');
INSERT INTO orders VALUES (11, 5, NULL, 'no such customer');
INSERT INTO orders VALUES (11, 1, 'z@x', 'no such email');
-- A NULL key is not checked (MATCH SIMPLE).
INSERT INTO orders VALUES (11, NULL, NULL, 'anonymous');
INSERT INTO orders VALUES (12, 2, 'b@x', 'second'), (13, 2, NULL, 'third');
UPDATE orders SET customer = 9 WHERE id = 12;
UPDATE orders SET note = 'still fine' WHERE id = 12;
-- Deleting or re-keying a referenced row (NO ACTION).
DELETE FROM customers WHERE id = 1;
UPDATE customers SET id = 100 WHERE id = 2;
UPDATE customers SET name = 'Bob' WHERE id = 2;
UPDATE customers SET email = 'c2@x' WHERE id = 3;
DELETE FROM customers WHERE id = 3;
-- Deleting the child first, in one transaction, makes the parent deletable.
BEGIN;
DELETE FROM orders WHERE customer = 1;
DELETE FROM customers WHERE id = 1;
SELECT id FROM customers ORDER BY id;
ROLLBACK;
SELECT id, customer, email FROM orders ORDER BY id;

-- Multi-column keys; MATCH FULL.
CREATE TABLE regions (country text, code text, PRIMARY KEY (country, code));
CREATE TABLE shops (
    id int PRIMARY KEY,
    country text,
    code text,
    FOREIGN KEY (country, code) REFERENCES regions
);
CREATE TABLE depots (
    id int PRIMARY KEY,
    country text,
    code text,
    CONSTRAINT depot_region FOREIGN KEY (country, code) REFERENCES regions (country, code) MATCH FULL
);
INSERT INTO regions VALUES ('fr', 'idf'), ('de', 'by');
INSERT INTO shops VALUES (1, 'fr', 'idf'), (2, 'de', NULL);
INSERT INTO shops VALUES (3, 'fr', 'by');
INSERT INTO depots VALUES (1, 'de', 'by'), (2, NULL, NULL);
INSERT INTO depots VALUES (3, 'de', NULL);
INSERT INTO depots VALUES (3, 'xx', 'yy');
DELETE FROM regions WHERE country = 'de';

-- Errors when defining a foreign key.
CREATE TABLE bad (id int, c int REFERENCES nosuch);
CREATE TABLE bad (id int, c int REFERENCES customers (nosuch));
CREATE TABLE bad (id int, FOREIGN KEY (nosuch) REFERENCES customers);
CREATE TABLE bad (id int, c int REFERENCES customers (name));
CREATE TABLE bad (id int, c int, d int, FOREIGN KEY (c, d) REFERENCES customers);
CREATE TABLE bad (id int, c text REFERENCES customers);
CREATE TABLE bad (id int, c int REFERENCES accounts (lo));
CREATE TABLE nokey (a int);
CREATE TABLE bad (id int, c int REFERENCES nokey);

-- ON DELETE CASCADE / SET NULL / SET DEFAULT / RESTRICT, ON UPDATE CASCADE.
CREATE TABLE authors (id int PRIMARY KEY, name text);
CREATE TABLE books (
    id int PRIMARY KEY,
    author int REFERENCES authors ON DELETE CASCADE ON UPDATE CASCADE,
    title text
);
CREATE TABLE reviews (
    id int PRIMARY KEY,
    book int REFERENCES books ON DELETE CASCADE,
    stars int CHECK (stars BETWEEN 1 AND 5)
);
CREATE TABLE loans (id int PRIMARY KEY, book int REFERENCES books ON DELETE SET NULL);
CREATE TABLE shelves (id int PRIMARY KEY, book int DEFAULT 0 REFERENCES books ON DELETE SET DEFAULT);
CREATE TABLE awards (id int PRIMARY KEY, book int REFERENCES books ON DELETE RESTRICT);
INSERT INTO authors VALUES (1, 'le guin'), (2, 'herbert'), (3, 'banks');
INSERT INTO books VALUES (0, NULL, 'placeholder'), (10, 1, 'earthsea'), (11, 1, 'dispossessed'),
    (20, 2, 'dune'), (30, 3, 'excession');
INSERT INTO reviews VALUES (100, 10, 5), (101, 10, 4), (102, 20, 5);
INSERT INTO loans VALUES (1, 11), (2, 20);
INSERT INTO shelves VALUES (1, 11), (2, 20);
INSERT INTO awards VALUES (1, 30);
-- Deleting author 1 deletes their books, the books' reviews, empties the loan, re-shelves.
DELETE FROM authors WHERE id = 1;
SELECT id, author, title FROM books ORDER BY id;
SELECT id, book FROM reviews ORDER BY id;
SELECT id, book FROM loans ORDER BY id;
SELECT id, book FROM shelves ORDER BY id;
-- ON UPDATE CASCADE follows the key.
UPDATE authors SET id = 22 WHERE id = 2;
SELECT id, author, title FROM books ORDER BY id;
-- RESTRICT stops a cascade that reaches it, and the whole statement is undone.
DELETE FROM authors WHERE id = 3;
SELECT id, author FROM books ORDER BY id;
-- SET DEFAULT to a key that does not exist fails.
DELETE FROM books WHERE id = 0;
DELETE FROM shelves WHERE id = 2;
DELETE FROM books WHERE id = 20;
SELECT id, book FROM loans ORDER BY id;
-- ON DELETE SET NULL on a NOT NULL column fails as an UPDATE would.
CREATE TABLE pins (id int PRIMARY KEY, book int NOT NULL REFERENCES books ON DELETE SET NULL);
INSERT INTO pins VALUES (1, 30);
DELETE FROM awards;
DELETE FROM books WHERE id = 30;

-- A self-referencing table: rows of one statement may reference each other.
CREATE TABLE staff (id int PRIMARY KEY, boss int REFERENCES staff ON DELETE CASCADE);
INSERT INTO staff VALUES (1, NULL), (2, 1), (3, 2), (4, 2);
INSERT INTO staff VALUES (5, 6), (6, 5);
INSERT INTO staff VALUES (7, 8);
DELETE FROM staff WHERE id = 2;
SELECT id, boss FROM staff ORDER BY id;

-- Savepoints undo a constraint failure only.
BEGIN;
INSERT INTO orders VALUES (20, 3, NULL, 'ok');
SAVEPOINT s;
INSERT INTO orders VALUES (21, 42, NULL, 'bad');
ROLLBACK TO SAVEPOINT s;
INSERT INTO orders VALUES (22, 3, NULL, 'ok too');
COMMIT;
SELECT id, customer FROM orders WHERE id >= 20 ORDER BY id;

-- DROP TABLE of a referenced table: 2BP01, unless the referencing tables go too, or CASCADE.
DROP TABLE customers;
DROP TABLE regions, shops, depots;
DROP TABLE books;
DROP TABLE books CASCADE;
INSERT INTO reviews VALUES (103, 999, 3);
DROP TABLE staff;
-- TRUNCATE of a referenced table.
TRUNCATE authors;
TRUNCATE customers, orders;
SELECT count(*) FROM orders;
-- Dropping the key a foreign key uses.
ALTER TABLE customers DROP CONSTRAINT customers_email_key;
ALTER TABLE customers DROP CONSTRAINT nosuch;
ALTER TABLE customers DROP CONSTRAINT customers_email_key CASCADE;
INSERT INTO orders VALUES (1, 1, 'nobody@x', 'email no longer checked');
ALTER TABLE orders DROP CONSTRAINT orders_customer_fkey;
INSERT INTO orders VALUES (2, 999, NULL, 'customer no longer checked');

-- ALTER TABLE ADD FOREIGN KEY checks the rows already there.
ALTER TABLE orders ADD FOREIGN KEY (customer) REFERENCES customers;
ALTER TABLE orders ADD CONSTRAINT orders_cust FOREIGN KEY (customer) REFERENCES customers NOT VALID;
INSERT INTO orders VALUES (3, 998, NULL, 'checked again');
ALTER TABLE orders ADD COLUMN region text REFERENCES customers (email);

-- CHECK expressions with functions, LIKE and IS NOT NULL; rows from INSERT ... SELECT.
CREATE TABLE users (
    id int PRIMARY KEY,
    name varchar(20) CHECK (length(name) > 2),
    email text CHECK (email LIKE '%@%'),
    age int CONSTRAINT adult CHECK (age IS NOT NULL AND age >= 18)
);
INSERT INTO users VALUES (1, 'ada', 'a@x', 30);
INSERT INTO users VALUES (2, 'al', 'a@x', 30);
INSERT INTO users VALUES (2, 'alan', 'ax', 30);
INSERT INTO users VALUES (2, 'alan', 'a@x', NULL);
INSERT INTO users SELECT id + 10, name, email, age - 20 FROM users;
INSERT INTO users SELECT id + 10, name, email, age FROM users;
SELECT id, name FROM users ORDER BY id;
-- A foreign key to a unique index's column, between varchar and text.
CREATE TABLE handles (h text);
CREATE UNIQUE INDEX handles_h ON handles (h);
CREATE TABLE posts (id int PRIMARY KEY, by_handle varchar(10) REFERENCES handles (h));
INSERT INTO handles VALUES ('ada');
INSERT INTO posts VALUES (1, 'ada');
INSERT INTO posts VALUES (2, 'bob');
INSERT INTO posts SELECT 3, h FROM handles;
-- Updating a key to itself is no change; a key change is checked.
UPDATE handles SET h = h;
UPDATE handles SET h = 'ADA';
DELETE FROM posts;
UPDATE handles SET h = 'ADA';
-- Keys of several types.
CREATE TABLE big (id bigint PRIMARY KEY);
CREATE TABLE small (id smallint PRIMARY KEY, big_id int REFERENCES big);
INSERT INTO big VALUES (5000000000), (7);
INSERT INTO small VALUES (1, 7);
INSERT INTO small VALUES (2, 8);
-- Constraint names given to UNIQUE and PRIMARY KEY, and deferrable ones by ALTER TABLE.
CREATE TABLE named (a int CONSTRAINT named_a_pk PRIMARY KEY, b int CONSTRAINT b_once UNIQUE, c int);
INSERT INTO named VALUES (1, 1, 1), (2, 1, 2);
INSERT INTO named VALUES (1, 3, 1);
ALTER TABLE named ADD CONSTRAINT c_once UNIQUE (c) DEFERRABLE INITIALLY DEFERRED;
BEGIN;
INSERT INTO named VALUES (3, 3, 1);
UPDATE named SET c = 5 WHERE a = 3;
COMMIT;
SELECT a, b, c FROM named ORDER BY a;
-- Rows referencing each other all deleted by one statement leave nothing behind (NO ACTION
-- looks at the end of the statement).
CREATE TABLE ring (id int PRIMARY KEY, next int);
INSERT INTO ring VALUES (1, NULL), (2, 1), (3, 2);
ALTER TABLE ring ADD FOREIGN KEY (next) REFERENCES ring;
UPDATE ring SET next = 3 WHERE id = 1;
DELETE FROM ring WHERE id = 2;
DELETE FROM ring;
INSERT INTO ring VALUES (1, 1) RETURNING id, next;
INSERT INTO ring VALUES (2, 5) RETURNING id, next;
-- ON UPDATE SET NULL / SET DEFAULT / RESTRICT.
CREATE TABLE dept (id int PRIMARY KEY);
CREATE TABLE emp_n (id int, dept int DEFAULT 0 REFERENCES dept ON UPDATE SET NULL);
CREATE TABLE emp_d (id int, dept int DEFAULT 0 REFERENCES dept ON UPDATE SET DEFAULT);
CREATE TABLE emp_r (id int, dept int REFERENCES dept ON UPDATE RESTRICT);
INSERT INTO dept VALUES (0), (1), (2), (3);
INSERT INTO emp_n VALUES (1, 1);
INSERT INTO emp_d VALUES (1, 2);
INSERT INTO emp_r VALUES (1, 3);
UPDATE dept SET id = 11 WHERE id = 1;
UPDATE dept SET id = 12 WHERE id = 2;
UPDATE dept SET id = 13 WHERE id = 3;
UPDATE dept SET id = 10 WHERE id = 0;
SELECT 'n', id, dept FROM emp_n UNION ALL SELECT 'd', id, dept FROM emp_d UNION ALL SELECT 'r', id, dept FROM emp_r ORDER BY 1;
