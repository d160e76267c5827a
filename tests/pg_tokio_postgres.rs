//! tokio-postgres, unmodified, against terrarium's PostgreSQL wire server, and the same checks
//! against the real PostgreSQL on 127.0.0.1:5432.
//!
//! Each check writes a transcript — one line per observation (values with their types, row
//! counts, SQLSTATEs) — and runs once against a terrarium started for it and once against a
//! database of its own on the real server (`terrarium_tokio_<pid>_<check>`, dropped afterwards, so
//! parallel tests never meet). The two transcripts must be equal. When 5432 does not answer the
//! comparison is skipped with a message, unless CI=true, where that fails the test. Checks also
//! assert the lines that matter directly, so a run without the real server still tests something.
//!
//! tokio-postgres exercises the extended protocol the way most drivers do: Parse + Describe +
//! Sync to prepare, then Bind with binary parameters and binary result formats for every column,
//! one Sync per query, several queries in flight at once on one connection.

mod common;

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, IsolationLevel, NoTls, Row, SimpleQueryMessage};

/// Where a check runs: a port and a database name.
#[derive(Clone, Debug)]
struct Target {
    port: u16,
    db: String,
}

impl Target {
    async fn connect(&self) -> Client {
        connect(self.port, &self.db).await.unwrap_or_else(|e| panic!("connect to {self:?}: {e}"))
    }
}

async fn connect(port: u16, db: &str) -> Result<Client, tokio_postgres::Error> {
    let conninfo = format!("host=127.0.0.1 port={port} user=postgres dbname={db} connect_timeout=10");
    let (client, connection) = tokio_postgres::connect(&conninfo, NoTls).await?;
    tokio::spawn(async move {
        // The connection ends with an error when a test drops a client mid-query; nothing to do.
        let _ = connection.await;
    });
    Ok(client)
}

const REAL_PORT: u16 = 5432;

/// A database of this check's own on the real server, or None (with a message) when it is not
/// running outside CI.
async fn real_target(check: &str) -> Option<(Client, Target)> {
    let admin = match connect(REAL_PORT, "postgres").await {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the real PostgreSQL on 127.0.0.1:{REAL_PORT} is required under CI=true: {e}");
            }
            eprintln!("skipping the comparison of {check} with PostgreSQL: 127.0.0.1:{REAL_PORT} is unreachable ({e})");
            return None;
        }
    };
    let db = format!("terrarium_tokio_{}_{check}", std::process::id());
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).await.expect("drop old database");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create database");
    Some((admin, Target { port: REAL_PORT, db }))
}

/// Runs `check` against a fresh terrarium and against the real PostgreSQL, asserts that the two
/// transcripts are equal, and returns terrarium's.
async fn compare<F, Fut>(name: &str, check: F) -> Vec<String>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Vec<String>> + Send + 'static,
{
    let (_server, port) = common::spawn_terrarium(&["--ephemeral"], "PostgreSQL");
    let ours = tokio::spawn(check(Target { port, db: "postgres".into() }))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    eprintln!("{name}:\n  {}", ours.join("\n  "));
    let Some((admin, real)) = real_target(name).await else { return ours };
    let theirs = tokio::spawn(check(real.clone())).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", real.db)).await.expect("drop database");
    let theirs = theirs.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    if ours != theirs {
        let mut report = String::new();
        for i in 0..ours.len().max(theirs.len()) {
            let (a, b) = (ours.get(i).map(String::as_str), theirs.get(i).map(String::as_str));
            let mark = if a == b { ' ' } else { '!' };
            report.push_str(&format!(
                "{mark} terrarium:  {}\n{mark} postgresql: {}\n",
                a.unwrap_or("-"),
                b.unwrap_or("-")
            ));
        }
        panic!("{name}: terrarium and PostgreSQL differ\n{report}");
    }
    ours
}

// ------------------------------------------------------------------------------------------------
// Showing values: every column read through the FromSql of its type
// ------------------------------------------------------------------------------------------------

/// `numeric` in its binary form, read and written by this test's own code (tokio-postgres has no
/// numeric type without an extra crate): base-10000 digits, a weight, a sign and a display scale.
#[derive(Debug, Clone, PartialEq)]
struct Numeric(String);

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let word = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
            let b = raw.get(2 * i..2 * i + 2).ok_or("numeric too short")?;
            Ok(u16::from_be_bytes([b[0], b[1]]))
        };
        let ndigits = word(0)? as usize;
        let weight = word(1)? as i16 as i32;
        let sign = word(2)?;
        let dscale = word(3)? as usize;
        if sign == 0xC000 {
            return Ok(Numeric("NaN".into()));
        }
        let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Result<_, _>>()?;
        let group = |i: i32| if i >= 0 && (i as usize) < digits.len() { digits[i as usize] } else { 0 };
        let mut s = String::new();
        if sign == 0x4000 {
            s.push('-');
        }
        if weight < 0 {
            s.push('0');
        } else {
            s.push_str(&group(0).to_string());
            for i in 1..=weight {
                s.push_str(&format!("{:04}", group(i)));
            }
        }
        if dscale > 0 {
            let mut frac = String::new();
            let mut i = weight + 1;
            while frac.len() < dscale {
                frac.push_str(&format!("{:04}", group(i)));
                i += 1;
            }
            s.push('.');
            s.push_str(&frac[..dscale]);
        }
        Ok(Numeric(s))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let (negative, body) = match self.0.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.0.as_str()),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return Err(format!("not a plain decimal: {}", self.0).into());
        }
        // Whole groups of four digits on each side of the point.
        let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let frac_padded = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let mut digits: Vec<u16> = int
            .as_bytes()
            .chunks(4)
            .chain(frac_padded.as_bytes().chunks(4))
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        let mut weight = (int.len() / 4) as i16 - 1;
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        out.put_u16(digits.len() as u16);
        out.put_i16(weight);
        out.put_u16(if negative && !digits.is_empty() { 0x4000 } else { 0 });
        out.put_u16(frac.len() as u16);
        digits.iter().for_each(|d| out.put_u16(*d));
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

/// Any value's bytes, for the types this file does not decode.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// One column of a row as `type=value`, decoded from the binary format tokio-postgres asked for.
fn show(row: &Row, i: usize) -> String {
    fn get<'a, T: FromSql<'a> + std::fmt::Debug>(row: &'a Row, i: usize) -> String {
        match row.try_get::<_, Option<T>>(i) {
            Ok(Some(v)) => format!("{v:?}"),
            Ok(None) => "NULL".into(),
            Err(e) => format!("<{e}>"),
        }
    }
    let ty = row.columns()[i].type_().clone();
    let value = match ty {
        Type::BOOL => get::<bool>(row, i),
        Type::INT2 => get::<i16>(row, i),
        Type::INT4 => get::<i32>(row, i),
        Type::INT8 => get::<i64>(row, i),
        Type::FLOAT4 => get::<f32>(row, i),
        Type::FLOAT8 => get::<f64>(row, i),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get::<String>(row, i),
        Type::NUMERIC => match row.try_get::<_, Option<Numeric>>(i) {
            Ok(Some(n)) => n.0,
            Ok(None) => "NULL".into(),
            Err(e) => format!("<{e}>"),
        },
        _ => match row.try_get::<_, Option<Raw>>(i) {
            Ok(Some(r)) => format!("{:02x?}", r.0),
            Ok(None) => "NULL".into(),
            Err(e) => format!("<{e}>"),
        },
    };
    format!("{}={value}", ty.name())
}

fn show_row(row: &Row) -> String {
    let names: Vec<String> = row.columns().iter().map(|c| c.name().to_string()).collect();
    let values: Vec<String> = (0..row.len()).map(|i| show(row, i)).collect();
    format!("[{}] {}", names.join(","), values.join(" "))
}

fn show_rows(rows: &[Row]) -> String {
    rows.iter().map(show_row).collect::<Vec<_>>().join(" | ")
}

fn show_simple(messages: &[SimpleQueryMessage]) -> String {
    messages
        .iter()
        .map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                let v: Vec<String> = (0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect();
                format!("row({})", v.join(","))
            }
            SimpleQueryMessage::CommandComplete(n) => format!("complete({n})"),
            SimpleQueryMessage::RowDescription(cols) => {
                format!("columns({})", cols.iter().map(|c| c.name()).collect::<Vec<_>>().join(","))
            }
            _ => "other".into(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error as the transcript shows it: SQLSTATE, message, and detail when there is one.
fn show_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let detail = db.detail().map(|d| format!(" DETAIL {d}")).unwrap_or_default();
            format!("ERROR {} {}{detail}", db.code().code(), db.message())
        }
        None => format!("client error: {e}"),
    }
}

fn outcome<T, F: FnOnce(T) -> String>(r: Result<T, tokio_postgres::Error>, ok: F) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => show_error(&e),
    }
}

// ------------------------------------------------------------------------------------------------
// The checks
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_queries_and_binary_results() {
    let t = compare("simple", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        let r = client
            .simple_query(
                "CREATE TABLE kv (id int PRIMARY KEY, name text NOT NULL, score float8, ok boolean); \
                 INSERT INTO kv VALUES (1, 'one', 1.5, true), (2, 'two', NULL, false); \
                 SELECT id, name, score, ok FROM kv ORDER BY id",
            )
            .await;
        out.push(outcome(r, |m| show_simple(&m)));
        out.push(outcome(client.simple_query("").await, |m| format!("empty: {}", show_simple(&m))));
        // Every column comes back in binary; tokio-postgres decodes each by its type.
        let r = client
            .query(
                "SELECT 1::int2 AS a, 2 AS b, 3::int8 AS c, 'x' AS d, true AS e, 1.25::float8 AS f, \
                 0.5::float4 AS g, 12.340::numeric AS h, -0.0012::numeric AS i, 10000::numeric AS j, \
                 NULL::int4 AS k, 'v'::varchar AS l",
                &[],
            )
            .await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT id, name, score, ok FROM kv ORDER BY id DESC", &[]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT count(*), sum(id), max(name) FROM kv", &[]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT pg_sleep(0)", &[]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        out
    })
    .await;
    assert_eq!(
        t[0],
        "complete(0) complete(2) columns(id,name,score,ok) row(1,one,1.5,t) row(2,two,NULL,f) complete(2)"
    );
    assert!(t[2].contains("numeric=12.340 numeric=-0.0012 numeric=10000"), "{}", t[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_parameters_and_nulls() {
    let t = compare("params", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        client
            .batch_execute(
                "CREATE TABLE typed (id serial PRIMARY KEY, a smallint, b integer, c bigint, d text, e boolean, \
                 f double precision, g real, h numeric, i varchar(10))",
            )
            .await
            .expect("create");
        let insert = client
            .prepare("INSERT INTO typed (a, b, c, d, e, f, g, h, i) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .await
            .expect("prepare insert");
        out.push(format!("insert params: {:?}", insert.params().iter().map(|t| t.name()).collect::<Vec<_>>()));
        let n = client
            .execute(
                &insert,
                &[
                    &7i16,
                    &-70000i32,
                    &9_000_000_000i64,
                    &"héllo",
                    &true,
                    &2.5f64,
                    &0.25f32,
                    &Numeric("-123.4500".into()),
                    &"short",
                ],
            )
            .await;
        out.push(outcome(n, |n| format!("inserted {n}")));
        let none: [&(dyn ToSql + Sync); 9] = [
            &None::<i16>,
            &None::<i32>,
            &None::<i64>,
            &None::<String>,
            &None::<bool>,
            &None::<f64>,
            &None::<f32>,
            &None::<Numeric>,
            &None::<String>,
        ];
        out.push(outcome(client.execute(&insert, &none).await, |n| format!("inserted {n}")));
        let n = client
            .execute(
                &insert,
                &[&i16::MIN, &i32::MAX, &i64::MIN, &"", &false, &-1e300f64, &1.5f32, &Numeric("0".into()), &"x"],
            )
            .await;
        out.push(outcome(n, |n| format!("inserted {n}")));
        let select =
            client.prepare("SELECT a, b, c, d, e, f, g, h, i FROM typed WHERE id = $1").await.expect("prepare");
        out.push(format!("select params: {:?}", select.params().iter().map(|t| t.name()).collect::<Vec<_>>()));
        out.push(format!(
            "select columns: {:?}",
            select.columns().iter().map(|c| c.type_().name()).collect::<Vec<_>>()
        ));
        for id in 1..=4 {
            out.push(outcome(client.query(&select, &[&id]).await, |rows| format!("id {id}: {}", show_rows(&rows))));
        }
        // Parameters compared with columns take the columns' types.
        let r = client
            .query("SELECT id FROM typed WHERE b = $1 OR c = $2 ORDER BY id", &[&i32::MAX, &9_000_000_000i64])
            .await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT id FROM typed WHERE d = $1 AND e = $2", &[&"héllo", &true]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT id FROM typed WHERE a IS NULL ORDER BY id LIMIT $1", &[&5i64]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        // Casts give parameters their types.
        let r = client.query("SELECT $1::int4 + 1 AS n, $2::text AS s", &[&41i32, &"t"]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        // A value of the wrong Rust type is refused by the driver before anything is sent.
        let r = client.query(&select, &[&"1"]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        // Text that does not read as the column's type.
        let r = client.query("SELECT id FROM typed WHERE b = $1::text::int4", &[&"nope"]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        out
    })
    .await;
    assert!(t.iter().any(|l| l.contains("numeric=-123.4500")), "{t:#?}");
    assert!(t.iter().any(|l| l == "inserted 1"), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_query_one_execute_and_row_counts() {
    let t = compare("counts", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        client.batch_execute("CREATE TABLE c (id int PRIMARY KEY, v int NOT NULL)").await.expect("create");
        let r = client.execute("INSERT INTO c VALUES (1, 10), (2, 20), (3, 30), (4, 40)", &[]).await;
        out.push(outcome(r, |n| format!("insert {n}")));
        let r = client.execute("UPDATE c SET v = v + $1 WHERE id > $2", &[&1i32, &2i32]).await;
        out.push(outcome(r, |n| format!("update {n}")));
        let r = client.execute("DELETE FROM c WHERE id = $1", &[&4i32]).await;
        out.push(outcome(r, |n| format!("delete {n}")));
        let r = client.execute("UPDATE c SET v = 0 WHERE id = 99", &[]).await;
        out.push(outcome(r, |n| format!("update none {n}")));
        let r = client.execute("SELECT * FROM c", &[]).await;
        out.push(outcome(r, |n| format!("select via execute {n}")));
        let r = client.query_one("SELECT v FROM c WHERE id = $1", &[&3i32]).await;
        out.push(outcome(r, |row| format!("query_one {}", show_row(&row))));
        let r = client.query_one("SELECT v FROM c WHERE id = $1", &[&99i32]).await;
        out.push(outcome(r, |row| format!("query_one {}", show_row(&row))));
        let r = client.query_one("SELECT v FROM c", &[]).await;
        out.push(outcome(r, |row| format!("query_one {}", show_row(&row))));
        let r = client.query_opt("SELECT v FROM c WHERE id = $1", &[&99i32]).await;
        out.push(outcome(r, |row| format!("query_opt {:?}", row.map(|r| show_row(&r)))));
        let r = client.query("INSERT INTO c VALUES ($1, $2) RETURNING id, v * 2 AS twice", &[&5i32, &50i32]).await;
        out.push(outcome(r, |rows| format!("returning {}", show_rows(&rows))));
        let r = client.query("UPDATE c SET v = v + 1 WHERE id <= $1 RETURNING id, v", &[&2i32]).await;
        out.push(outcome(r, |rows| format!("returning {}", show_rows(&rows))));
        let r = client.query("DELETE FROM c WHERE id = 5 RETURNING *", &[]).await;
        out.push(outcome(r, |rows| format!("returning {}", show_rows(&rows))));
        // A prepared statement, reused many times.
        let st = client.prepare("SELECT v FROM c WHERE id = $1").await.expect("prepare");
        let mut seen = Vec::new();
        for id in [1i32, 2, 3, 1, 9] {
            seen.push(outcome(client.query(&st, &[&id]).await, |rows| show_rows(&rows)));
        }
        out.push(format!("reused: {}", seen.join(" ; ")));
        out
    })
    .await;
    assert_eq!(t[0], "insert 4");
    assert_eq!(t[1], "update 2");
    assert_eq!(t[2], "delete 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_savepoints() {
    let t = compare("txn", |t| async move {
        let mut client = t.connect().await;
        let mut out = Vec::new();
        client.batch_execute("CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)").await.expect("create");
        client.execute("INSERT INTO acct VALUES (1, 100), (2, 0)", &[]).await.expect("insert");
        let count = |rows: Vec<Row>| show_rows(&rows);

        // Committed.
        let tx = client.transaction().await.expect("begin");
        tx.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1", &[]).await.expect("debit");
        tx.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2", &[]).await.expect("credit");
        tx.commit().await.expect("commit");
        out.push(outcome(client.query("SELECT id, bal FROM acct ORDER BY id", &[]).await, count));

        // Rolled back explicitly, and by drop.
        let tx = client.transaction().await.expect("begin");
        tx.execute("UPDATE acct SET bal = 0", &[]).await.expect("update");
        out.push(outcome(tx.query("SELECT sum(bal) FROM acct", &[]).await, count));
        tx.rollback().await.expect("rollback");
        {
            let tx = client.transaction().await.expect("begin");
            tx.execute("DELETE FROM acct", &[]).await.expect("delete");
        }
        out.push(outcome(client.query("SELECT id, bal FROM acct ORDER BY id", &[]).await, count));

        // Savepoints through nested transactions.
        let mut tx = client.transaction().await.expect("begin");
        tx.execute("INSERT INTO acct VALUES (3, 3)", &[]).await.expect("insert 3");
        {
            let sp = tx.transaction().await.expect("savepoint");
            sp.execute("INSERT INTO acct VALUES (4, 4)", &[]).await.expect("insert 4");
            sp.rollback().await.expect("rollback to savepoint");
        }
        {
            let mut sp = tx.savepoint("named").await.expect("savepoint");
            sp.execute("INSERT INTO acct VALUES (5, 5)", &[]).await.expect("insert 5");
            let inner = sp.transaction().await.expect("inner savepoint");
            // An error inside the inner savepoint spoils only it.
            let e = inner.execute("INSERT INTO acct VALUES (5, 50)", &[]).await;
            out.push(outcome(e, |n| format!("inserted {n}")));
            inner.rollback().await.expect("rollback inner");
            sp.commit().await.expect("release");
        }
        tx.commit().await.expect("commit");
        out.push(outcome(client.query("SELECT id, bal FROM acct ORDER BY id", &[]).await, count));

        // An error aborts the block; later statements get 25P02 until ROLLBACK.
        let tx = client.transaction().await.expect("begin");
        out.push(outcome(tx.execute("INSERT INTO acct VALUES (1, 1)", &[]).await, |n| n.to_string()));
        out.push(outcome(tx.query("SELECT 1", &[]).await, count));
        let r = tx.commit().await;
        out.push(outcome(r, |_| "commit of a failed block reported success".into()));
        out.push(outcome(client.query("SELECT count(*) FROM acct", &[]).await, count));
        out
    })
    .await;
    assert_eq!(t[0], "[id,bal] int4=1 int4=70 | [id,bal] int4=2 int4=30");
    assert!(t.iter().any(|l| l.starts_with("ERROR 25P02")), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstates() {
    let t = compare("errors", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        client.batch_execute("CREATE TABLE u (id int PRIMARY KEY, name text UNIQUE)").await.expect("create");
        client.execute("INSERT INTO u VALUES (1, 'a')", &[]).await.expect("insert");
        let e = client.execute("INSERT INTO u VALUES ($1, $2)", &[&1i32, &"b"]).await.unwrap_err();
        out.push(format!("code {:?}", e.code().map(|c| c.code())));
        out.push(show_error(&e));
        let e = client.execute("INSERT INTO u VALUES (2, 'a')", &[]).await.unwrap_err();
        out.push(show_error(&e));
        for sql in ["SELEC 1", "SELECT FROM WHERE", "SELECT * FROM nowhere", "SELECT nope FROM u", "SELECT 1/0"] {
            out.push(format!("{sql}: {}", outcome(client.query(sql, &[]).await, |r| show_rows(&r))));
        }
        // The same through the simple protocol.
        for sql in ["SELEC 1", "INSERT INTO u VALUES (3, NULL), (3, NULL)", "SELECT 'abc'::int4"] {
            out.push(format!("{sql}: {}", outcome(client.simple_query(sql).await, |m| show_simple(&m))));
        }
        // The session is fine afterwards.
        out.push(outcome(client.query("SELECT count(*) FROM u", &[]).await, |r| show_rows(&r)));
        out
    })
    .await;
    assert_eq!(t[0], "code Some(\"23505\")");
    assert!(t.iter().any(|l| l.starts_with("SELEC 1: ERROR 42601")), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeatable_read_conflict_is_40001() {
    let t = compare("serialization", |t| async move {
        let mut a = t.connect().await;
        let b = t.connect().await;
        let mut out = Vec::new();
        a.batch_execute("CREATE TABLE rr (id int PRIMARY KEY, v int)").await.expect("create");
        a.execute("INSERT INTO rr VALUES (1, 0)", &[]).await.expect("insert");
        let tx = a.build_transaction().isolation_level(IsolationLevel::RepeatableRead).start().await.expect("begin");
        out.push(outcome(tx.query("SELECT v FROM rr WHERE id = 1", &[]).await, |r| show_rows(&r)));
        out.push(outcome(b.execute("UPDATE rr SET v = v + 1 WHERE id = 1", &[]).await, |n| format!("b updated {n}")));
        // The snapshot still shows the old value; writing the row fails.
        out.push(outcome(tx.query("SELECT v FROM rr WHERE id = 1", &[]).await, |r| show_rows(&r)));
        let e = tx.execute("UPDATE rr SET v = v + 10 WHERE id = 1", &[]).await;
        out.push(outcome(e, |n| format!("a updated {n}")));
        drop(tx);
        out.push(outcome(a.query("SELECT v FROM rr", &[]).await, |r| show_rows(&r)));
        out
    })
    .await;
    assert!(t[3].starts_with("ERROR 40001 could not serialize access due to concurrent update"), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_on_one_client() {
    let t = compare("pipeline", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        client.batch_execute("CREATE TABLE p (id int PRIMARY KEY, v text)").await.expect("create");
        let st = client.prepare("INSERT INTO p VALUES ($1, $2)").await.expect("prepare");
        // tokio-postgres writes every request before reading any reply; each has its own Sync, so
        // the failing one in the middle spoils nothing else.
        let (a, b, c, d, e, f) = tokio::join!(
            client.execute(&st, &[&1i32, &"one"]),
            client.execute(&st, &[&2i32, &"two"]),
            client.execute(&st, &[&1i32, &"dup"]),
            client.query("SELECT id, v FROM p ORDER BY id", &[]),
            client.execute(&st, &[&3i32, &"three"]),
            client.query_one("SELECT count(*) FROM p", &[]),
        );
        out.push(outcome(a, |n| n.to_string()));
        out.push(outcome(b, |n| n.to_string()));
        out.push(outcome(c, |n| n.to_string()));
        out.push(outcome(d, |r| show_rows(&r)));
        out.push(outcome(e, |n| n.to_string()));
        out.push(outcome(f, |r| show_row(&r)));
        // Fifty more at once, from tasks sharing the client.
        let client = std::sync::Arc::new(client);
        let tasks: Vec<_> = (0..50i32)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client.query_one("SELECT $1::int4 * 2 AS n", &[&i]).await.map(|r| r.get::<_, i32>(0))
                })
            })
            .collect();
        let mut many = Vec::new();
        for t in tasks {
            many.push(t.await.expect("task").expect("query"));
        }
        out.push(format!("50 in flight: {}", many == (0..50).map(|i| i * 2).collect::<Vec<_>>()));
        out
    })
    .await;
    assert_eq!(
        t[..3],
        [
            "1".to_string(),
            "1".into(),
            "ERROR 23505 duplicate key value violates unique constraint \"p_pkey\" DETAIL Key (id)=(1) already exists."
                .into()
        ]
    );
}

/// Sends CancelRequests until `task` ends: a cancel that arrives before the statement has
/// started cancels nothing (on PostgreSQL too), which a loaded machine can make happen.
async fn cancel_until_done<T>(token: &tokio_postgres::CancelToken, mut task: tokio::task::JoinHandle<T>) -> T {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.expect("send the cancel request");
        if let Ok(done) = tokio::time::timeout(Duration::from_secs(1), &mut task).await {
            return done.expect("task");
        }
    }
    panic!("the statement was never cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_pg_sleep() {
    let t = compare("cancel", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        let token = client.cancel_token();
        let started = std::time::Instant::now();
        let sleeper = tokio::spawn(async move {
            let r = client.query("SELECT pg_sleep(20)", &[]).await.map(|_| ());
            (r, client)
        });
        let (r, client) = cancel_until_done(&token, sleeper).await;
        out.push(outcome(r, |_| "slept".into()));
        out.push(format!("cancelled quickly: {}", started.elapsed() < Duration::from_secs(10)));
        // The same through the simple protocol, then the session goes on.
        let token = client.cancel_token();
        let sleeper = tokio::spawn(async move {
            let r = client.simple_query("SELECT pg_sleep(20)").await.map(|_| ());
            (r, client)
        });
        let (r, client) = cancel_until_done(&token, sleeper).await;
        out.push(outcome(r, |_| "slept".into()));
        out.push(outcome(client.query_one("SELECT 1 AS alive", &[]).await, |r| show_row(&r)));
        out
    })
    .await;
    assert_eq!(t[0], "ERROR 57014 canceling statement due to user request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_lock_makes_the_second_writer_wait() {
    let t = compare("rowlock", |t| async move {
        let mut a = t.connect().await;
        let b = t.connect().await;
        let mut out = Vec::new();
        a.batch_execute("CREATE TABLE lk (id int PRIMARY KEY, v int)").await.expect("create");
        a.execute("INSERT INTO lk VALUES (1, 0), (2, 0)", &[]).await.expect("insert");
        let tx = a.transaction().await.expect("begin");
        out.push(outcome(tx.execute("UPDATE lk SET v = v + 1 WHERE id = 1", &[]).await, |n| format!("a {n}")));
        let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let r = b.execute("UPDATE lk SET v = v + 10 WHERE id = 1", &[]).await;
            let _ = done_tx.send(());
            (r, b)
        });
        // Another row is not locked.
        tokio::time::sleep(Duration::from_millis(400)).await;
        out.push(format!("b still waiting: {}", done_rx.try_recv().is_err()));
        out.push(outcome(tx.execute("UPDATE lk SET v = v + 1 WHERE id = 2", &[]).await, |n| format!("a {n}")));
        tx.commit().await.expect("commit");
        let (r, b) = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("b finishes").expect("task");
        out.push(outcome(r, |n| format!("b {n}")));
        out.push(outcome(b.query("SELECT id, v FROM lk ORDER BY id", &[]).await, |r| show_rows(&r)));
        out
    })
    .await;
    assert_eq!(t[1], "b still waiting: true");
    assert_eq!(t[4], "[id,v] int4=1 int4=11 | [id,v] int4=2 int4=1");
}

/// A parameter sent as the given bytes whatever type the statement has for it: the binary
/// form of date, interval and uuid, which tokio-postgres only encodes with optional features.
#[derive(Debug)]
struct RawParam(Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_intervals_uuids_byteas_and_jsonb_in_binary() {
    let t = compare("newtypes", |t| async move {
        let client = t.connect().await;
        let mut out = Vec::new();
        client
            .batch_execute(
                "CREATE TABLE kinds (id int PRIMARY KEY, d date, i interval, u uuid, b bytea, j jsonb, s json); \
                 INSERT INTO kinds VALUES (1, '2024-01-02', '1 year 2 mons 3 days 04:05:06.5', \
                 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', '{\"b\": 1, \"a\": [true]}', '{\"k\" : 1}'), \
                 (2, '1999-12-31', '-1 days +02:00:00', NULL, '', 'null', NULL)",
            )
            .await
            .expect("create and insert");
        // Every column comes back in binary: date as days since 2000-01-01, interval as
        // microseconds, days and months, uuid as 16 bytes, bytea raw, jsonb with a version byte.
        let select = client.prepare("SELECT d, i, u, b, j, s FROM kinds WHERE id = $1").await.expect("prepare");
        out.push(format!(
            "columns: {:?}",
            select.columns().iter().map(|c| (c.type_().name(), c.type_().oid())).collect::<Vec<_>>()
        ));
        for id in 1..=2 {
            out.push(outcome(client.query(&select, &[&id]).await, |rows| show_rows(&rows)));
        }
        let r = client.query_one("SELECT b FROM kinds WHERE id = 1", &[]).await;
        out.push(outcome(r, |row| format!("bytea as Vec<u8>: {:02x?}", row.get::<_, Vec<u8>>(0))));
        // Binary parameters of each type, inferred from the columns.
        let insert = client.prepare("INSERT INTO kinds VALUES ($1, $2, $3, $4, $5)").await.expect("prepare insert");
        out.push(format!("insert params: {:?}", insert.params().iter().map(|t| t.name()).collect::<Vec<_>>()));
        let mut interval = 5_400_000_000i64.to_be_bytes().to_vec();
        interval.extend_from_slice(&2i32.to_be_bytes());
        interval.extend_from_slice(&1i32.to_be_bytes());
        let uuid: Vec<u8> = (0u8..16).collect();
        let n = client
            .execute(
                &insert,
                &[
                    &3i32,
                    &RawParam((-1i32).to_be_bytes().to_vec()),
                    &RawParam(interval),
                    &RawParam(uuid),
                    &vec![0u8, 255],
                ],
            )
            .await;
        out.push(outcome(n, |n| format!("inserted {n}")));
        let r = client.simple_query("SELECT d, i, u, b FROM kinds WHERE id = 3").await;
        out.push(outcome(r, |m| show_simple(&m)));
        // A parameter compared with a uuid column takes its type; text parameters are read by the
        // type's input function at Bind.
        let uuid = RawParam((0u8..16).collect());
        let r = client.query("SELECT id FROM kinds WHERE u = $1", &[&uuid]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client
            .query(
                "SELECT $1::date + 1 AS next, $2::jsonb -> 'a' AS a",
                &[&RawParam(0i32.to_be_bytes().to_vec()), &{
                    let mut j = vec![1u8];
                    j.extend_from_slice(b"{\"a\": [1,  2]}");
                    RawParam(j)
                }],
            )
            .await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        let r = client.query("SELECT $1::text::uuid", &[&"not-a-uuid"]).await;
        out.push(outcome(r, |rows| show_rows(&rows)));
        out
    })
    .await;
    assert_eq!(
        t[0],
        "columns: [(\"date\", 1082), (\"interval\", 1186), (\"uuid\", 2950), (\"bytea\", 17), (\"jsonb\", 3802), (\"json\", 114)]"
    );
    // 2024-01-02 is day 8767 (0x223f) after 2000-01-01; the interval is 14706500000 µs (0x36c9361a0), 3 days, 14 months.
    assert!(t[1].starts_with("[d,i,u,b,j,s] date=[00, 00, 22, 3f] interval=[00, 00, 00, 03, 6c, 93, 61, a0, 00, 00, 00, 03, 00, 00, 00, 0e]"), "{}", t[1]);
    assert!(t[1].contains("uuid=[a0, ee, bc, 99,"), "{}", t[1]);
    assert_eq!(t[3], "bytea as Vec<u8>: [de, ad, be, ef]");
    assert_eq!(t[6], "columns(d,i,u,b) row(1999-12-31,1 mon 2 days 01:30:00,00010203-0405-0607-0809-0a0b0c0d0e0f,\\x00ff) complete(1)");
}
