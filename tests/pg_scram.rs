//! With `--requirepass`, PostgreSQL clients authenticate with SCRAM-SHA-256: psql and
//! tokio-postgres with the right password get in, a wrong one gets PostgreSQL's FATAL 28P01.

mod common;

use std::process::Command;

fn psql(port: u16, password: &str, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-X", "-A", "-t", "-c", sql])
        .env("PGPASSWORD", password)
        .output()
        .expect("psql")
}

#[test]
fn scram_lets_the_right_password_in_and_refuses_a_wrong_one() {
    let Some(_) = common::tool("psql") else { return };
    let (_t, port) = common::spawn_terrarium(&["--ephemeral", "--requirepass", "s3cr3t"], "PostgreSQL");
    let ok = psql(port, "s3cr3t", "SELECT 1 + 1");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "2");
    let bad = psql(port, "nope", "SELECT 1");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("password authentication failed for user \"postgres\""), "{err}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let conf = format!("host=127.0.0.1 port={port} user=postgres password=s3cr3t");
        let (client, conn) =
            tokio_postgres::connect(&conf, tokio_postgres::NoTls).await.expect("SCRAM with tokio-postgres");
        tokio::spawn(conn);
        let row = client.query_one("SELECT 40 + 2", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
        let wrong = format!("host=127.0.0.1 port={port} user=postgres password=wrong");
        let e = tokio_postgres::connect(&wrong, tokio_postgres::NoTls).await.err().expect("refused");
        assert_eq!(e.code().map(|c| c.code()), Some("28P01"), "{e}");
    });
}
