"""The course's transaction lessons, run step by step on two sessions, A and B.

Each lesson prints a timeline: which session runs what, what it gets back, which statement has to
wait for the other session and which one fails with which SQLSTATE. The same script runs against
terrarium and against a real PostgreSQL 15 and prints the same timeline (expected.txt was written
from the real server). Nothing printed depends on the server: no transaction ids, no process ids,
no timestamps, only what the lesson is about.
"""
import argparse
import threading
import time

import psycopg

ap = argparse.ArgumentParser()
ap.add_argument("--target", required=True, help="postgres://user@host:port/db")
ap.add_argument("--check", action="store_true")
args = ap.parse_args()

# How long a statement may run before the timeline calls it "waiting". Lock waits here last until
# the other session acts, so any value well above a round trip and well below deadlock_timeout (1 s)
# tells the two apart.
WAIT_PROBE_S = 0.3


def fmt(v):
    return "NULL" if v is None else str(v)


class Session:
    """One connection, in manual-commit mode, printing what it does."""

    def __init__(self, name):
        self.name = name
        self.conn = psycopg.connect(args.target, autocommit=True)
        self.pending = None

    def _run(self, sql):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                if cur.description is not None:
                    rows = cur.fetchall()
                    return "ok", " | ".join(", ".join(fmt(v) for v in r) for r in rows) or "(no rows)"
                return "ok", cur.statusmessage
        except psycopg.Error as e:
            return "error", f"ERROR {e.sqlstate}: {e.diag.message_primary}"

    def __call__(self, sql):
        """Runs `sql`; if it is still running after WAIT_PROBE_S, reports that it waits and
        leaves it running (collect it with `done`)."""
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("r", self._run(sql)))
        t.start()
        t.join(WAIT_PROBE_S)
        if t.is_alive():
            print(f"  {self.name}: {sql}  ... waits")
            self.pending = (sql, t, box)
            return None
        kind, text = box["r"]
        print(f"  {self.name}: {sql}  -> {text}")
        return text

    def done(self):
        """Waits for the statement left running and prints its outcome."""
        sql, t, box = self.pending
        t.join()
        self.pending = None
        kind, text = box["r"]
        print(f"  {self.name}: ... {sql.split()[0]} finished -> {text}")
        return text

    def value(self, sql):
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]


def lesson(title):
    print()
    print(f"== {title}")


A, B = Session("A"), Session("B")


def reset():
    A("DROP TABLE IF EXISTS accounts")
    A("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)")
    A("INSERT INTO accounts VALUES (1, 'alice', 100), (2, 'bob', 50)")


print("Transactions, two sessions side by side. Each line: session: statement -> result.")

lesson("1. Atomicity: a transfer that fails half-way leaves nothing behind")
reset()
A("BEGIN")
A("UPDATE accounts SET balance = balance - 30 WHERE id = 1")
A("UPDATE accounts SET balance = balance + 30 / 0 WHERE id = 2")
A("SELECT balance FROM accounts WHERE id = 1")
A("COMMIT")
A("SELECT id, balance FROM accounts ORDER BY id")

lesson("2. READ COMMITTED: no dirty reads, but a second read may see a new commit")
reset()
A("BEGIN ISOLATION LEVEL READ COMMITTED")
B("BEGIN")
B("UPDATE accounts SET balance = 0 WHERE id = 1")
A("SELECT balance FROM accounts WHERE id = 1")
B("COMMIT")
A("SELECT balance FROM accounts WHERE id = 1")
A("COMMIT")

lesson("3. REPEATABLE READ: one snapshot for the whole transaction, no phantoms")
reset()
A("BEGIN ISOLATION LEVEL REPEATABLE READ")
A("SELECT count(*), sum(balance) FROM accounts")
B("INSERT INTO accounts VALUES (3, 'carol', 70)")
B("UPDATE accounts SET balance = 999 WHERE id = 1")
A("SELECT count(*), sum(balance) FROM accounts")
A("COMMIT")
A("SELECT count(*), sum(balance) FROM accounts")

lesson("4. Lost update: REPEATABLE READ refuses the second writer")
reset()
A("BEGIN ISOLATION LEVEL REPEATABLE READ")
B("BEGIN ISOLATION LEVEL REPEATABLE READ")
A("SELECT balance FROM accounts WHERE id = 1")
B("SELECT balance FROM accounts WHERE id = 1")
A("UPDATE accounts SET balance = balance + 10 WHERE id = 1")
B("UPDATE accounts SET balance = balance + 20 WHERE id = 1")
A("COMMIT")
B.done()
B("ROLLBACK")
A("SELECT balance FROM accounts WHERE id = 1")

lesson("5. Write skew: two doctors go off call; SERIALIZABLE catches it")
A("DROP TABLE IF EXISTS doctors")
A("CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL)")
A("INSERT INTO doctors VALUES ('alice', true), ('bob', true)")
A("BEGIN ISOLATION LEVEL SERIALIZABLE")
B("BEGIN ISOLATION LEVEL SERIALIZABLE")
A("SELECT count(*) FROM doctors WHERE on_call")
B("SELECT count(*) FROM doctors WHERE on_call")
A("UPDATE doctors SET on_call = false WHERE name = 'alice'")
B("UPDATE doctors SET on_call = false WHERE name = 'bob'")
A("COMMIT")
B("COMMIT")
A("SELECT name, on_call FROM doctors ORDER BY name")

lesson("6. MVCC: every row version carries xmin and xmax")
reset()
A("BEGIN")
xid = A.value("SELECT txid_current()")
A("UPDATE accounts SET balance = 1 WHERE id = 1")
print(f"  A: the new version's xmin is A's transaction id: {A.value('SELECT xmin::text::bigint FROM accounts WHERE id = 1') == xid}")
print(f"  B: still sees the old version, whose xmax is A's transaction id: {B.value('SELECT xmax::text::bigint FROM accounts WHERE id = 1') == xid}")
B("SELECT balance FROM accounts WHERE id = 1")
A("COMMIT")
B("SELECT balance, xmax FROM accounts WHERE id = 1")

lesson("7. Deadlock: each waits for the other; after deadlock_timeout one is chosen to fail")
reset()
A("BEGIN")
B("BEGIN")
A("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
B("UPDATE accounts SET balance = balance - 1 WHERE id = 2")
A("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
B("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
A.done()
A("ROLLBACK")
B("COMMIT")
A("SELECT id, balance FROM accounts ORDER BY id")
print("  lesson: take locks in one order (ORDER BY id ... FOR UPDATE) and this cannot happen")

lesson("8. Savepoints: undo part of a transaction")
reset()
A("BEGIN")
A("INSERT INTO accounts VALUES (3, 'carol', 10)")
A("SAVEPOINT before_dave")
A("INSERT INTO accounts VALUES (3, 'dave', 20)")
A("SELECT count(*) FROM accounts")
A("ROLLBACK TO SAVEPOINT before_dave")
A("INSERT INTO accounts VALUES (4, 'dave', 20)")
A("COMMIT")
A("SELECT id, owner FROM accounts ORDER BY id")

lesson("9. The WAL: every commit moves the log sequence number forward")
before = A.value("SELECT pg_current_wal_lsn()")
A("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
after = A.value("SELECT pg_current_wal_lsn()")
grew = A.value(f"SELECT pg_wal_lsn_diff('{after}', '{before}') > 0")
print(f"  A: pg_current_wal_lsn() moved forward after the commit: {grew}")

lesson("10. Retry on 40001: application code that always succeeds in the end")
A("DROP TABLE IF EXISTS counter")
A("CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)")
A("INSERT INTO counter VALUES (1, 0)")


def increment(conn, tries_log):
    for attempt in range(1, 50):
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                    cur.execute("SELECT n FROM counter WHERE id = 1")
                    n = cur.fetchone()[0]
                    time.sleep(0.02)
                    cur.execute(f"UPDATE counter SET n = {n + 1} WHERE id = 1")
            tries_log.append(attempt)
            return
        except psycopg.errors.SerializationFailure:
            continue
    raise SystemExit("gave up")


conns = [psycopg.connect(args.target, autocommit=True) for _ in range(4)]
tries = []
threads = [threading.Thread(target=lambda c=c: [increment(c, tries) for _ in range(5)]) for c in conns]
for t in threads:
    t.start()
for t in threads:
    t.join()
final = A.value("SELECT n FROM counter WHERE id = 1")
print(f"  4 clients x 5 serializable increments with retry: counter = {final}, retries needed: {sum(tries) > len(tries)}")
if not args.check:
    print(f"    attempts per increment: {sorted(tries)}")
for c in conns:
    c.close()
A("DROP TABLE accounts")
A("DROP TABLE doctors")
A("DROP TABLE counter")
