//! Runs every scenario in tests/diff/redis (and tests/diff/redis-debug, whose scenarios need the
//! DEBUG command, which the private server enables and the shared one on 6379 does not) against
//! terrarium and a private real Redis, and fails on any byte that differs. The private redis-server runs on a free port with persistence off,
//! so scenarios may FLUSHALL freely and tests may run in parallel with other suites.
//!
//! Without `redis-server` installed the test is skipped, except under CI=true, where it fails.

mod common;

#[test]
fn scenarios_match_real_redis_byte_for_byte() {
    let Some(binary) = common::tool("redis-server") else { return };
    let redis = common::start_real_redis(&binary);
    let srv = common::TestServer::start();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["tests/diff/redis", "tests/diff/redis-debug"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() > 1, "no scenarios");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut failures = 0;
    let mut steps = 0;
    for f in &files {
        let report = rt
            .block_on(terrarium::diff::run_file(f, &srv.redis.to_string(), &format!("127.0.0.1:{}", redis.port)))
            .unwrap();
        print!("{}", report.render());
        failures += report.failures();
        steps += report.steps;
    }
    println!("differential: {} files, {} commands, {} differences", files.len(), steps, failures);
    assert_eq!(failures, 0, "terrarium differs from Redis (see the report above)");
}
