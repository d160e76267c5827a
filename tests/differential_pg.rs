//! Runs every scenario in tests/diff/pg against terrarium and a real PostgreSQL 15, and fails on
//! any result that differs: columns and type OIDs, rows, command tags, notices, SQLSTATEs and
//! messages, and the transaction status (see src/diff/pg.rs for the file format and markers).
//!
//! The real server is the one on 127.0.0.1:5432 (trust authentication, user `postgres` or
//! `$PGUSER`), or `$TERRARIUM_DIFF_PG` (host:port). The runner gives each file a database of
//! its own there, created and dropped around it, so this test may run beside anything else using
//! that server. Each file also gets a fresh in-process terrarium.
//!
//! Without a PostgreSQL to talk to the test is skipped, except under CI=true, where it fails.

mod common;

#[test]
fn scenarios_match_real_postgres() {
    let Some(pg) = common::real_postgres() else { return };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff/pg");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", dir.display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut failures, mut known, mut steps) = (0, 0, 0);
    for f in &files {
        // A fresh terrarium per file: terrarium has one database, and files reuse table names.
        let srv = common::TestServer::start();
        let report = rt
            .block_on(terrarium::diff::pg::run_file(f, &srv.pg.to_string(), &pg))
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        print!("{}", report.render());
        failures += report.failures();
        known += report.known();
        steps += report.steps;
    }
    println!(
        "differential (PostgreSQL): {} files, {steps} statements, {failures} differences, {known} known differences",
        files.len()
    );
    assert_eq!(failures, 0, "terrarium differs from PostgreSQL (see the report above)");
}
