//! psql's describing commands (`\dt`, `\d`, `\d table`, `\di`, `\dn`, `\du`, `\l`, ...) against
//! terrarium and a real PostgreSQL 15, their outputs compared. psql answers each of them with
//! queries on `pg_catalog` (see protocol-spec/pg.md, "Catalogs"), so this checks the catalogs,
//! the functions and operators those queries use, and that the values make psql print the same.
//!
//! The real server is the one on 127.0.0.1:5432 (trust authentication, user `postgres`), or
//! `$TERRARIUM_DIFF_PG` (host:port). The tables are made there in a database of the test's own,
//! `terrarium_catalog_<pid>`, created first and dropped at the end, so other users of that
//! server neither disturb nor see them; psql connects to terrarium under the same database name
//! (terrarium has one store whatever the name, and lists the name it was given in `\l`).
//!
//! Without psql or a PostgreSQL to talk to the test is skipped, except under CI=true, where it
//! fails.

mod common;

use std::process::Command;

/// The same tables on both servers: primary keys (one of two columns), unique constraints, NOT
/// NULL, defaults of many kinds, serial and bigserial, varchar(n), char(n), numeric(p,s), a name
/// that must be quoted. (No CREATE INDEX: terrarium has none yet, so its indexes are those of
/// the constraints.) A few rows make `\dt+` and `\di+` count pages.
const SETUP: &str = r#"
CREATE TABLE accounts (id serial PRIMARY KEY, email varchar(120) NOT NULL UNIQUE,
    balance numeric(12,2) DEFAULT 0, active boolean NOT NULL DEFAULT true, note text);
CREATE TABLE items (sku bigint, shop int, qty smallint NOT NULL DEFAULT 1, price double precision,
    name char(8), PRIMARY KEY (sku, shop), UNIQUE (name));
CREATE TABLE plain (a int, b real);
CREATE TABLE defaults (a int DEFAULT 0, b int DEFAULT -1, c bigint DEFAULT 5, d smallint DEFAULT 2,
    e real DEFAULT 1.5, f double precision DEFAULT 0, g numeric DEFAULT 1.50, h numeric(10,2) DEFAULT 3,
    i text DEFAULT 'abc', j varchar(10) DEFAULT 'x', k char(3) DEFAULT 'ab', l boolean DEFAULT false,
    m timestamp DEFAULT now(), n timestamp DEFAULT current_timestamp, o int DEFAULT 1 + 2,
    p text DEFAULT 'it''s', q float8 DEFAULT 2.5, r int DEFAULT (7), s numeric DEFAULT -2.5,
    t bigint DEFAULT 3000000000, u text DEFAULT '', v int DEFAULT NULL, w varchar DEFAULT 'q');
CREATE TABLE "Mixed Case" ("Id" bigserial PRIMARY KEY, "user" text UNIQUE, ts timestamp);
CREATE TABLE events (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), day date NOT NULL DEFAULT CURRENT_DATE,
    span interval, payload jsonb, raw bytea, at timestamptz DEFAULT now(), lsn pg_lsn);
INSERT INTO accounts (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO items VALUES (1, 1, 3, 2.5, 'x');
"#;

/// Commands whose whole output (aligned, as a user sees it) and error text must be the same.
const EXACT: &[&str] = &[
    r"\dt",
    r"\d",
    r"\dt+",
    r"\di",
    r"\di+",
    r"\ds",
    r"\dv",
    r"\dn",
    r"\dn+",
    r"\d accounts",
    r"\d items",
    r"\d plain",
    r"\d defaults",
    r#"\d "Mixed Case""#,
    r"\d events",
    r"\d+ accounts",
    r"\d+ events",
    r"\d accounts_pkey",
    r"\d items_pkey",
    r"\d accounts_email_key",
    r"\d accounts_id_seq",
    r"\d acc*",
    r"\dt public.*",
    r"\dt+ acc*",
    r"\d nosuch",
];

/// Where psql connects: host, port, database.
#[derive(Clone)]
struct Target {
    host: String,
    port: String,
    db: String,
}

/// psql's stdout and stderr for `args`, without ~/.psqlrc.
fn psql(bin: &str, to: &Target, args: &[&str]) -> (String, String) {
    let out = Command::new(bin)
        .args(["-X", "-h", &to.host, "-p", &to.port, "-U", "postgres", "-d", &to.db])
        .args(args)
        // The output language and pager must not depend on who runs the test.
        .env("LC_ALL", "C")
        .env("PAGER", "")
        .env_remove("PGOPTIONS")
        .output()
        .expect("run psql");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The test's database on the real server, dropped when the test ends however it ends.
struct RealDatabase {
    bin: String,
    admin: Target,
    name: String,
}

impl Drop for RealDatabase {
    fn drop(&mut self) {
        psql(&self.bin, &self.admin, &["-q", "-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)]);
    }
}

/// Unaligned output cut to the records whose first field is in `keep` (plus the title and the
/// header line, and the continuation lines of a kept record whose value spans lines), without
/// the row-count footer. `\l` and `\du` list every database and role of the server, and the real
/// server has others than terrarium's (other tests' databases, the machine's own roles): only
/// the ones both must have are compared.
fn only_records(out: &str, keep: &[&str]) -> String {
    let mut kept = Vec::new();
    let mut in_header = true;
    let mut keeping = false;
    for line in out.lines() {
        let is_footer = line.starts_with('(') && line.ends_with(')') && line.contains(" row");
        if is_footer {
            continue;
        }
        if let Some((first, _)) = line.split_once('|') {
            if in_header {
                // The first line with fields is the header.
                in_header = false;
                keeping = true;
            } else {
                keeping = keep.contains(&first);
            }
        } else if in_header {
            keeping = true;
        }
        if keeping {
            kept.push(line);
        }
    }
    kept.join("\n")
}

#[test]
fn psql_describes_tables_as_postgres_does() {
    let Some(bin) = common::tool("psql") else { return };
    let Some(pg) = common::real_postgres() else { return };
    let (host, port) = pg.rsplit_once(':').expect("host:port");
    let name = format!("terrarium_catalog_{}", std::process::id());
    let admin = Target { host: host.to_string(), port: port.to_string(), db: "postgres".into() };
    // A database left by an earlier run with this pid (killed before its cleanup) goes first.
    psql(&bin, &admin, &["-q", "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]);
    let (_, err) = psql(&bin, &admin, &["-q", "-c", &format!("CREATE DATABASE {name}")]);
    assert!(err.is_empty(), "cannot create the test database: {err}");
    let _guard = RealDatabase { bin: bin.clone(), admin: admin.clone(), name: name.clone() };
    let real = Target { db: name.clone(), ..admin };

    let (_server, tport) = common::spawn_terrarium(&["--ephemeral"], "PostgreSQL");
    let terrarium = Target { host: "127.0.0.1".into(), port: tport.to_string(), db: name.clone() };

    for (who, to) in [("PostgreSQL", &real), ("terrarium", &terrarium)] {
        let (_, err) = psql(&bin, to, &["-q", "-v", "ON_ERROR_STOP=1", "-c", SETUP]);
        assert!(err.is_empty(), "setup on {who}: {err}");
    }

    let mut differences = Vec::new();
    let mut compare = |what: &str, want: String, got: String| {
        if want != got {
            differences.push(format!("{what}\n--- PostgreSQL\n{want}\n--- terrarium\n{got}\n"));
        }
    };
    for cmd in EXACT {
        let (want_out, want_err) = psql(&bin, &real, &["-c", cmd]);
        let (got_out, got_err) = psql(&bin, &terrarium, &["-c", cmd]);
        // Only the lookups that find nothing are errors on PostgreSQL (so two failed
        // connections never pass for agreement).
        assert!(want_err.is_empty() != (cmd.contains("nosuch") || *cmd == r"\dv"), "{cmd} on PostgreSQL: {want_err}");
        compare(cmd, format!("{want_out}{want_err}"), format!("{got_out}{got_err}"));
    }
    // Databases: PostgreSQL's three and this test's; roles: the bootstrap superuser.
    let databases = ["postgres", "template0", "template1", name.as_str()];
    for (cmd, keep) in [(r"\l", &databases[..]), (r"\du", &["postgres"][..])] {
        let (want_out, want_err) = psql(&bin, &real, &["-A", "-c", cmd]);
        let (got_out, got_err) = psql(&bin, &terrarium, &["-A", "-c", cmd]);
        assert!(want_err.is_empty() && got_err.is_empty(), "{cmd}: {want_err} / {got_err}");
        let (want, got) = (only_records(&want_out, keep), only_records(&got_out, keep));
        assert!(want.lines().count() > keep.len(), "{cmd} lists too little on PostgreSQL:\n{want_out}");
        compare(cmd, want, got);
    }
    assert!(differences.is_empty(), "psql's output differs:\n{}", differences.join("\n"));
}
