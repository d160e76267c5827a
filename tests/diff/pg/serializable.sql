-- SERIALIZABLE: write skew (two doctors) is caught at the second COMMIT.
@a CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL);
@a INSERT INTO doctors VALUES ('alice', true), ('bob', true);
@a BEGIN ISOLATION LEVEL SERIALIZABLE;
@b BEGIN ISOLATION LEVEL SERIALIZABLE;
@a SELECT count(*) FROM doctors WHERE on_call;
@b SELECT count(*) FROM doctors WHERE on_call;
@a UPDATE doctors SET on_call = false WHERE name = 'alice';
@b UPDATE doctors SET on_call = false WHERE name = 'bob';
@a COMMIT;
@b COMMIT;
@a SELECT name, on_call FROM doctors ORDER BY name;

-- Double booking: both see the seat free, both book it; the second COMMIT fails.
@a CREATE TABLE bookings (seat int, who text);
@a BEGIN ISOLATION LEVEL SERIALIZABLE;
@b BEGIN ISOLATION LEVEL SERIALIZABLE;
@a SELECT count(*) FROM bookings WHERE seat = 1;
@b SELECT count(*) FROM bookings WHERE seat = 1;
@a INSERT INTO bookings VALUES (1, 'ada');
@b INSERT INTO bookings VALUES (1, 'bob');
@a COMMIT;
@b COMMIT;
@a SELECT seat, who FROM bookings ORDER BY who;

-- No overlap, no conflict: each transaction reads and writes its own table.
@a CREATE TABLE left_t (v int);
@a CREATE TABLE right_t (v int);
@a BEGIN ISOLATION LEVEL SERIALIZABLE;
@b BEGIN ISOLATION LEVEL SERIALIZABLE;
@a SELECT count(*) FROM left_t;
@b SELECT count(*) FROM right_t;
@a INSERT INTO left_t VALUES (1);
@b INSERT INTO right_t VALUES (2);
@a COMMIT;
@b COMMIT;

-- A retry after 40001 succeeds, as the hint says.
@a BEGIN ISOLATION LEVEL SERIALIZABLE;
@a SELECT count(*) FROM doctors WHERE on_call;
@a UPDATE doctors SET on_call = true WHERE name = 'bob';
@a COMMIT;
@a SELECT name, on_call FROM doctors ORDER BY name;
