"""psycopg 3 against a PostgreSQL server: prints what it sees, so the output of terrarium and of the
real PostgreSQL can be diffed line by line (clients/python/run_pg.sh does that).

    python3 psycopg_check.py PORT
"""
import sys

import psycopg

port = int(sys.argv[1])
conn = psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True)
c = conn


def show(label, value):
    print(f"{label}: {value!r}")


c.execute("DROP TABLE IF EXISTS psy_accounts")
c.execute("CREATE TABLE psy_accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric, ok boolean, score double precision)")
# Parameters of every common type, sent the way psycopg sends them (binary where it chooses to).
c.execute("INSERT INTO psy_accounts VALUES (%s, %s, %s, %s, %s)", (1, "ada", 100, True, 1.5))
with c.cursor() as cur:
    cur.executemany("INSERT INTO psy_accounts (id, owner, balance) VALUES (%s, %s, %s)", [(2, "bob", 50), (3, "cy", 0)])
with c.cursor() as cur:
    cur.execute("SELECT id, owner, ok, score FROM psy_accounts ORDER BY id")
    show("rows", cur.fetchall())
    show("columns", [d.name for d in cur.description])
    # Prepared automatically after a few executions (Parse once, Bind/Execute after).
    for i in range(1, 8):
        cur.execute("SELECT owner FROM psy_accounts WHERE id = %s", (i % 3 + 1,))
        row = cur.fetchone()
    show("prepared", row)
    cur.execute("SELECT id FROM psy_accounts WHERE id > %s ORDER BY id LIMIT %s", (1, 10))
    show("limit", cur.fetchall())
    cur.execute("SELECT count(*) FROM psy_accounts WHERE ok = %s", (True,), binary=True)
    show("binary", cur.fetchall())
# Transactions: a commit, a rollback, and an error inside a block.
with c.transaction():
    c.execute("UPDATE psy_accounts SET score = 2.5 WHERE id = %s", (2,))
try:
    with c.transaction():
        c.execute("UPDATE psy_accounts SET score = 99 WHERE id = 1")
        raise RuntimeError("roll back")
except RuntimeError:
    pass
try:
    c.execute("INSERT INTO psy_accounts (id, owner) VALUES (1, 'dup')")
except psycopg.Error as e:
    show("error", (e.sqlstate, e.diag.message_primary, e.diag.message_detail))
try:
    c.execute("SELECT nosuch FROM psy_accounts")
except psycopg.Error as e:
    show("error", (e.sqlstate, e.diag.message_primary))
show("after", c.execute("SELECT id, score FROM psy_accounts ORDER BY id").fetchall())
show("status", c.info.transaction_status.name)
c.execute("DROP TABLE psy_accounts")
conn.close()
