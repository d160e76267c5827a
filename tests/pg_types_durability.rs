//! The column types added after the WAL was written (date, interval, uuid, bytea, json, jsonb)
//! go into the log as their text output and come back through their input functions at replay:
//! every value, edge cases included (BC dates, infinities, negative intervals, bytes that are not
//! UTF-8, jsonb with escapes), must read back identical after `kill -9`. Drives the real binary
//! with psql, as tests/pg_durability.rs does.

mod common;

use common::psql;

#[test]
fn new_types_survive_kill_9_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let (mut server, port) = common::spawn_terrarium(&["--data-dir", &data], "PostgreSQL");
    let create = "CREATE TABLE kinds (id int PRIMARY KEY, d date, i interval, u uuid, b bytea, j jsonb, s json)";
    if psql(port, create).is_none() {
        return; // psql missing outside CI (common::tool fails under CI=true)
    }
    psql(
        port,
        "INSERT INTO kinds VALUES \
         (1, '2024-01-02', '1 year 2 mons 3 days 04:05:06.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef00ff', \
          '{\"b\": [1, 2.50], \"a\": \"x\\ny \\u00e9\"}', '{\"k\" :  1, \"k\": 2}'), \
         (2, '0044-03-15 BC', '-1 days +02:00:00', NULL, '', 'null', '[]'), \
         (3, 'infinity', '-3 mons -00:00:00.000001', '00000000-0000-0000-0000-000000000000', '\\x0a5c27', '\"\"', NULL), \
         (4, NULL, NULL, NULL, NULL, NULL, NULL)",
    );
    psql(port, "UPDATE kinds SET i = i * 2, d = d + 1 WHERE id = 1");
    psql(port, "BEGIN; INSERT INTO kinds (id, d) VALUES (5, '2000-01-01'); COMMIT;");
    psql(port, "BEGIN; INSERT INTO kinds (id, d) VALUES (6, '2000-01-01'); ROLLBACK;");
    let select = "SELECT id, d, i, u, b, j, s FROM kinds ORDER BY id";
    let before = psql(port, select).unwrap();
    assert!(before.contains("2024-01-03|2 years 4 mons 6 days 08:10:13"), "{before}");
    assert!(before.contains("0044-03-15 BC|-1 days +02:00:00"), "{before}");

    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    let (_server, port) = common::spawn_terrarium(&["--data-dir", &data], "PostgreSQL");
    assert_eq!(psql(port, select).unwrap(), before);
    // Replayed values are values of their types again, not text: they compare and compute.
    assert_eq!(psql(port, "SELECT id FROM kinds WHERE d > '2023-12-31' ORDER BY id").unwrap(), "1\n3");
    assert_eq!(psql(port, "SELECT j -> 'b' ->> 1 FROM kinds WHERE id = 1").unwrap(), "2.50");
    assert_eq!(psql(port, "SELECT length(b) FROM kinds WHERE id = 1").unwrap(), "6");
}
