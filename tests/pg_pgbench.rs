//! pgbench against terrarium: `pgbench -i -s 1` (DROP / CREATE TABLE ... WITH (fillfactor=100),
//! TRUNCATE and COPY FREEZE inside a transaction, VACUUM ANALYZE, ALTER TABLE ... ADD PRIMARY KEY)
//! and then its built-in TPC-B-like script over both protocols, on a durable store that is then
//! restarted: every transaction must succeed, the balances must agree, and the loaded data, its
//! primary keys and the history must come back from the WAL.
//!
//! Skipped when pgbench (or psql) is not installed, except under CI=true, where that fails.

mod common;

use std::process::Command;

fn run(tool: &str, port: u16, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

fn psql(port: u16, sql: &str) -> String {
    run("psql", port, &["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]).trim().to_string()
}

#[test]
fn pgbench_initialises_and_runs_tpcb_on_a_durable_store() {
    let (Some(pgbench), Some(_)) = (common::tool("pgbench"), common::tool("psql")) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let (server, port) = common::spawn_terrarium(&["--data-dir", data_dir], "PostgreSQL");

    let init = run(&pgbench, port, &["-i", "-s", "1", "postgres"]);
    assert!(init.contains("creating primary keys...") && init.contains("done in"), "{init}");
    assert_eq!(psql(port, "SELECT count(*) FROM pgbench_accounts"), "100000");

    for mode in ["simple", "extended"] {
        let out = run(&pgbench, port, &["-t", "20", "-c", "2", "-M", mode, "postgres"]);
        assert!(out.contains("number of transactions actually processed: 40/40"), "{mode}:\n{out}");
        assert!(out.contains("number of failed transactions: 0"), "{mode}:\n{out}");
    }
    // pgbench truncates the history before each run; the balances keep every run's deltas.
    assert_eq!(psql(port, "SELECT count(*) FROM pgbench_history"), "40");
    let sums = |port| {
        ["pgbench_accounts", "pgbench_tellers", "pgbench_branches"]
            .map(|t| psql(port, &format!("SELECT sum({}balance) FROM {t}", &t[8..9])))
    };
    let before = sums(port);
    assert!(before.iter().all(|s| *s == before[0]), "balances disagree: {before:?}");

    // Everything, primary keys included, comes back from the WAL.
    drop(server);
    let (_server, port) = common::spawn_terrarium(&["--data-dir", data_dir], "PostgreSQL");
    assert_eq!(psql(port, "SELECT count(*) FROM pgbench_accounts"), "100000");
    assert_eq!(sums(port), before);
    assert_eq!(psql(port, "SELECT count(*) FROM pgbench_history WHERE mtime IS NOT NULL"), "40");
    let dup = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-c"])
        .arg("INSERT INTO pgbench_branches (bid, bbalance) VALUES (1, 0)")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&dup.stderr);
    assert!(err.contains("duplicate key value violates unique constraint \"pgbench_branches_pkey\""), "{err}");
    let out = run(&pgbench, port, &["-t", "10", "-c", "2", "-M", "extended", "postgres"]);
    assert!(out.contains("number of failed transactions: 0"), "{out}");
}
