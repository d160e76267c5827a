//! Durability of the PostgreSQL store: every COMMIT acknowledged to a client survives `kill -9`,
//! nothing uncommitted does, and `--ephemeral` writes nothing. Drives the real binary with psql.

mod common;

use std::process::Command;

/// Starts `terrarium up` on free ports and returns it with its PostgreSQL port.
fn spawn(extra: &[&str]) -> (common::Spawned, u16) {
    common::spawn_terrarium(extra, "PostgreSQL")
}

fn psql(port: u16, sql: &str) -> Option<String> {
    let psql = common::tool("psql")?;
    let out = Command::new(psql)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-A", "-t", "-q", "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn acknowledged_commits_survive_kill_9_and_uncommitted_work_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut server, port) = spawn(&["--data-dir", &data]);
    let Some(_) = psql(port, "CREATE TABLE ledger (id serial PRIMARY KEY, who text NOT NULL, amount numeric)") else {
        return; // psql missing outside CI (common::tool fails under CI=true)
    };
    for i in 1..=40 {
        psql(port, &format!("INSERT INTO ledger (who, amount) VALUES ('u{i}', {i}.50)"));
    }
    psql(port, "UPDATE ledger SET amount = amount * 2 WHERE id <= 10");
    psql(port, "DELETE FROM ledger WHERE id > 35");
    // A multi-statement transaction, and one rolled back.
    psql(port, "BEGIN; INSERT INTO ledger (who, amount) VALUES ('tx', 1); SAVEPOINT s; INSERT INTO ledger (who, amount) VALUES ('undone', 2); ROLLBACK TO SAVEPOINT s; COMMIT;");
    psql(port, "BEGIN; INSERT INTO ledger (who, amount) VALUES ('never', 3); ROLLBACK;");
    let before = psql(port, "SELECT count(*), sum(amount) FROM ledger").unwrap();
    let rows_before = psql(port, "SELECT id, who, amount FROM ledger ORDER BY id").unwrap();

    // kill -9: no shutdown path runs.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    let (_server, port) = spawn(&["--data-dir", &data]);
    assert_eq!(psql(port, "SELECT count(*), sum(amount) FROM ledger").unwrap(), before);
    assert_eq!(psql(port, "SELECT id, who, amount FROM ledger ORDER BY id").unwrap(), rows_before);
    assert_eq!(psql(port, "SELECT count(*) FROM ledger WHERE who IN ('undone', 'never')").unwrap(), "0");
    // The sequence carries on past every id in the table (like PostgreSQL's, it may skip values
    // after a crash, never reuse one), and the primary key still holds.
    let id: i64 = psql(port, "INSERT INTO ledger (who) VALUES ('after') RETURNING id").unwrap().parse().unwrap();
    assert!(id > 41, "{id}");
}

#[test]
fn ephemeral_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (_server, port) = spawn(&["--ephemeral", "--data-dir", data.to_str().unwrap()]);
    if psql(port, "CREATE TABLE t (a int)").is_none() {
        return;
    }
    psql(port, "INSERT INTO t VALUES (1)");
    assert!(!data.exists(), "--ephemeral created {}", data.display());
}

#[test]
fn altered_tables_come_back_altered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut server, port) = spawn(&["--data-dir", &data]);
    if psql(port, "CREATE TABLE a (id int PRIMARY KEY)").is_none() {
        return;
    }
    psql(port, "INSERT INTO a VALUES (1)");
    psql(port, "ALTER TABLE a ADD COLUMN tag text DEFAULT 'old'");
    psql(port, "INSERT INTO a VALUES (2, 'new')");
    psql(port, "TRUNCATE a");
    psql(port, "INSERT INTO a VALUES (3, 'kept')");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);
    let (_server, port) = spawn(&["--data-dir", &data]);
    assert_eq!(psql(port, "SELECT id, tag FROM a ORDER BY id").unwrap(), "3|kept");
}
