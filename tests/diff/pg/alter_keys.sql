-- pgbench's schema and what `pgbench -i` does after loading: storage parameters, timestamp
-- columns, and ALTER TABLE ... ADD PRIMARY KEY / UNIQUE built over rows already there.

CREATE TABLE branches (bid int NOT NULL, bbalance int, filler char(88)) WITH (fillfactor=100);
CREATE TABLE history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
INSERT INTO branches (bid, bbalance) VALUES (1, 0), (2, 0), (2, 5), (NULL, 7);

-- Two live rows with one key: the index cannot be built (checked before the NULL).
ALTER TABLE branches ADD PRIMARY KEY (bid);
DELETE FROM branches WHERE bbalance = 5;
-- A NULL in a key column.
ALTER TABLE branches ADD PRIMARY KEY (bid);
DELETE FROM branches WHERE bid IS NULL;
ALTER TABLE branches ADD PRIMARY KEY (bid);
-- The key is enforced from now on, with the constraint's name.
INSERT INTO branches (bid, bbalance) VALUES (1, 1);
UPDATE branches SET bid = 1 WHERE bid = 2;
INSERT INTO branches (bid, bbalance) VALUES (NULL, 1);
ALTER TABLE branches ADD PRIMARY KEY (bbalance);
ALTER TABLE branches ADD PRIMARY KEY (nosuch);
ALTER TABLE branches ADD UNIQUE (nosuch);

-- A UNIQUE constraint, and a named primary key.
ALTER TABLE branches ADD UNIQUE (bbalance);
INSERT INTO branches (bid, bbalance) VALUES (3, 0);
CREATE TABLE tellers (tid int NOT NULL, bid int, tbalance int) WITH (fillfactor=100);
INSERT INTO tellers VALUES (1, 1, 0), (2, 1, 0);
ALTER TABLE tellers ADD CONSTRAINT tellers_key PRIMARY KEY (tid);
INSERT INTO tellers VALUES (2, 1, 0);

-- timestamp: input forms, and now() cast to it when stored.
INSERT INTO history (tid, mtime) VALUES (1, '2024-05-01 10:20:30.5'), (2, '2024-02-29T01:02:03'), (3, '2023-12-31');
SELECT tid, mtime FROM history ORDER BY tid;
INSERT INTO history (tid, mtime) VALUES (4, 'not a time');
INSERT INTO history (tid, mtime) VALUES (5, '2023-02-29 00:00:00');
INSERT INTO history (tid, mtime) VALUES (6, CURRENT_TIMESTAMP);
SELECT count(*) FROM history WHERE mtime IS NOT NULL;
