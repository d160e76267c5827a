-- DEFERRABLE constraints and SET CONSTRAINTS: deferred foreign key and unique checks run at
-- COMMIT, and a failing one makes COMMIT answer the error and end the transaction.

CREATE TABLE teams (id int PRIMARY KEY, name text);
CREATE TABLE players (
    id int PRIMARY KEY,
    team int REFERENCES teams DEFERRABLE INITIALLY DEFERRED,
    captain_of int CONSTRAINT captain_fk REFERENCES teams DEFERRABLE,
    squad int CONSTRAINT squad_fk REFERENCES teams
);
INSERT INTO teams VALUES (1, 'red');

-- INITIALLY DEFERRED: the child may come before its parent inside a transaction.
BEGIN;
INSERT INTO players VALUES (10, 2, NULL, NULL);
INSERT INTO teams VALUES (2, 'blue');
COMMIT;
-- ... and COMMIT fails (and ends the transaction) if the parent never came.
BEGIN;
INSERT INTO players VALUES (11, 3, NULL, NULL);
SELECT count(*) FROM players;
COMMIT;
SELECT count(*) FROM players;
COMMIT;
-- Outside a transaction block the statement's own transaction checks at its end.
INSERT INTO players VALUES (11, 3, NULL, NULL);

-- DEFERRABLE (INITIALLY IMMEDIATE) is checked at the end of each statement unless deferred.
INSERT INTO players VALUES (12, 1, 9, NULL);
BEGIN;
SET CONSTRAINTS captain_fk DEFERRED;
INSERT INTO players VALUES (12, 1, 9, NULL);
INSERT INTO teams VALUES (9, 'green');
COMMIT;
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO players VALUES (13, 1, 8, NULL);
-- SET CONSTRAINTS ... IMMEDIATE checks what was deferred, now.
SET CONSTRAINTS ALL IMMEDIATE;
SELECT 1;
ROLLBACK;
BEGIN;
SET CONSTRAINTS captain_fk, players_team_fkey DEFERRED;
INSERT INTO players VALUES (13, 7, 7, NULL);
INSERT INTO teams VALUES (7, 'white');
SET CONSTRAINTS captain_fk IMMEDIATE;
COMMIT;
SELECT id, team, captain_of FROM players ORDER BY id;

-- A constraint that is not deferrable cannot be deferred; unknown names.
BEGIN;
SET CONSTRAINTS squad_fk DEFERRED;
ROLLBACK;
BEGIN;
SET CONSTRAINTS teams_pkey DEFERRED;
ROLLBACK;
BEGIN;
SET CONSTRAINTS nosuch DEFERRED;
ROLLBACK;
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO players VALUES (14, NULL, NULL, 99);
ROLLBACK;
SET CONSTRAINTS ALL DEFERRED;
SET CONSTRAINTS public.captain_fk IMMEDIATE;

-- Deleting a parent is checked at COMMIT for a deferred NO ACTION key, so the child may be
-- removed, or the key re-inserted, later in the transaction.
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
DELETE FROM teams WHERE id = 2;
DELETE FROM players WHERE team = 2;
COMMIT;
BEGIN;
DELETE FROM teams WHERE id = 7;
INSERT INTO teams VALUES (7, 'white again');
COMMIT;
BEGIN;
DELETE FROM teams WHERE id = 7;
COMMIT;
SELECT id FROM teams ORDER BY id;
-- The deferred check forgets rows gone since.
BEGIN;
INSERT INTO players VALUES (20, 50, NULL, NULL);
DELETE FROM players WHERE id = 20;
COMMIT;
-- A savepoint rolled back takes its deferred checks with it.
BEGIN;
SAVEPOINT s;
INSERT INTO players VALUES (21, 51, NULL, NULL);
ROLLBACK TO SAVEPOINT s;
COMMIT;
BEGIN;
SAVEPOINT s;
INSERT INTO players VALUES (21, 51, NULL, NULL);
RELEASE SAVEPOINT s;
COMMIT;

-- Definitions: INITIALLY DEFERRED alone implies DEFERRABLE; NOT DEFERRABLE with it does not go.
CREATE TABLE d1 (id int PRIMARY KEY, t int REFERENCES teams INITIALLY DEFERRED);
BEGIN;
INSERT INTO d1 VALUES (1, 42);
COMMIT;
CREATE TABLE d2 (id int PRIMARY KEY, t int, FOREIGN KEY (t) REFERENCES teams NOT DEFERRABLE INITIALLY DEFERRED);

-- A deferrable unique constraint is checked at the end of the statement, so keys can be
-- shifted in one UPDATE, and at COMMIT when deferred.
CREATE TABLE seats (n int UNIQUE DEFERRABLE, who text);
CREATE TABLE rows_ (n int UNIQUE, who text);
INSERT INTO seats VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO rows_ VALUES (1, 'a'), (2, 'b'), (3, 'c');
UPDATE seats SET n = n + 1;
UPDATE rows_ SET n = n + 1;
SELECT n, who FROM seats ORDER BY n;
INSERT INTO seats VALUES (2, 'dup');
BEGIN;
SET CONSTRAINTS seats_n_key DEFERRED;
INSERT INTO seats VALUES (2, 'dup');
UPDATE seats SET n = 1 WHERE who = 'dup';
COMMIT;
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO seats VALUES (3, 'dup again');
COMMIT;
SELECT n, who FROM seats ORDER BY n;
-- A deferrable unique constraint cannot be referenced, nor be an ON CONFLICT arbiter.
CREATE TABLE refs (n int REFERENCES seats (n));
INSERT INTO seats VALUES (9, 'x') ON CONFLICT (n) DO NOTHING;
INSERT INTO seats VALUES (9, 'x') ON CONFLICT DO NOTHING;
CREATE TABLE dpk (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED);
BEGIN;
INSERT INTO dpk VALUES (1), (1);
SELECT count(*) FROM dpk;
COMMIT;
CREATE TABLE dref (id int REFERENCES dpk);
