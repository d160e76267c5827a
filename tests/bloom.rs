//! BF.* over a real socket, byte for byte. No RedisBloom is installed next to the reference
//! Redis, so the expected numbers come from RedisBloom's formulas and from its own C code
//! (sizing, hashing, header bytes) compiled as an oracle; see `src/bloom/` for the unit tests
//! that pin them.

mod common;

use std::net::TcpStream;

use common::*;

/// Sends one command and checks the whole reply.
fn expect(s: &mut TcpStream, args: &[&str], reply: &str) {
    roundtrip(s, &cmd(args), reply.as_bytes());
}

fn err(msg: &str) -> String {
    format!("-{msg}\r\n")
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn reserve_then_info_reports_redisbloom_numbers() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    expect(&mut s, &["BF.RESERVE", "k", "0.01", "1000"], "+OK\r\n");
    expect(&mut s, &["BF.RESERVE", "k", "0.01", "1000"], &err("ERR item exists"));
    expect(
        &mut s,
        &["BF.INFO", "k"],
        "*10\r\n+Capacity\r\n:1000\r\n+Size\r\n:1480\r\n+Number of filters\r\n:1\r\n\
         +Number of items inserted\r\n:0\r\n+Expansion rate\r\n:2\r\n",
    );
    expect(&mut s, &["BF.INFO", "k", "capacity"], "*1\r\n:1000\r\n");
    expect(&mut s, &["BF.INFO", "k", "SIZE"], "*1\r\n:1480\r\n");
    expect(&mut s, &["BF.INFO", "k", "FILTERS"], "*1\r\n:1\r\n");
    expect(&mut s, &["BF.INFO", "k", "ITEMS"], "*1\r\n:0\r\n");
    expect(&mut s, &["BF.INFO", "k", "EXPANSION"], "*1\r\n:2\r\n");
    expect(&mut s, &["BF.INFO", "k", "bogus"], &err("Invalid information value"));
    expect(&mut s, &["BF.INFO", "k", "a", "b"], &err("ERR wrong number of arguments for 'bf.info' command"));
    expect(&mut s, &["BF.INFO", "nokey"], &err("ERR not found"));

    // More sizes from the design notes: 0.01/10000 non-scaling, 0.001/500, expansion 4.
    expect(&mut s, &["BF.RESERVE", "ns", "0.01", "10000", "NONSCALING"], "+OK\r\n");
    expect(
        &mut s,
        &["BF.INFO", "ns"],
        "*10\r\n+Capacity\r\n:10000\r\n+Size\r\n:12080\r\n+Number of filters\r\n:1\r\n\
         +Number of items inserted\r\n:0\r\n+Expansion rate\r\n$-1\r\n",
    );
    expect(&mut s, &["BF.INFO", "ns", "expansion"], "*1\r\n$-1\r\n");
    expect(&mut s, &["BF.RESERVE", "small", "0.001", "500", "EXPANSION", "4"], "+OK\r\n");
    expect(&mut s, &["BF.INFO", "small", "size"], "*1\r\n:1088\r\n");
    expect(&mut s, &["BF.INFO", "small", "expansion"], "*1\r\n:4\r\n");
    // EXPANSION 0 means non-scaling.
    expect(&mut s, &["BF.RESERVE", "zero", "0.01", "100", "EXPANSION", "0"], "+OK\r\n");
    expect(&mut s, &["BF.INFO", "zero", "expansion"], "*1\r\n$-1\r\n");
    expect(&mut s, &["TYPE", "k"], "+MBbloom--\r\n");
    expect(&mut s, &["OBJECT", "ENCODING", "k"], "$3\r\nraw\r\n");
}

#[test]
fn reserve_argument_errors_match_redisbloom() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let cases: &[(&[&str], &str)] = &[
        (&["BF.RESERVE", "k", "abc", "100"], "ERR bad error rate"),
        (&["BF.RESERVE", "k", "1e-400", "100"], "ERR bad error rate"),
        (&["BF.RESERVE", "k", " 0.01", "100"], "ERR bad error rate"),
        (&["BF.RESERVE", "k", "0", "100"], "ERR error rate must be in the range (0.000000, 1.000000)"),
        (&["BF.RESERVE", "k", "1", "100"], "ERR error rate must be in the range (0.000000, 1.000000)"),
        (&["BF.RESERVE", "k", "inf", "100"], "ERR error rate must be in the range (0.000000, 1.000000)"),
        (&["BF.RESERVE", "k", "0.01", "1.5"], "ERR bad capacity"),
        (&["BF.RESERVE", "k", "0.01", "0"], "ERR capacity must be in the range [1, 1073741824]"),
        (&["BF.RESERVE", "k", "0.01", "1073741825"], "ERR capacity must be in the range [1, 1073741824]"),
        (&["BF.RESERVE", "k", "0.01", "100", "EXPANSION"], "ERR no expansion"),
        (&["BF.RESERVE", "k", "0.01", "100", "EXPANSION", "x"], "ERR bad expansion"),
        (&["BF.RESERVE", "k", "0.01", "100", "EXPANSION", "2", "NONSCALING"], "Nonscaling filters cannot expand"),
        (&["BF.RESERVE", "k", "0.01", "100", "NONSCALING", "EXPANSION", "-1"], "Nonscaling filters cannot expand"),
        (&["BF.RESERVE", "k", "0.01", "100", "EXPANSION", "-1"], "ERR expansion must be in the range [0, 32768]"),
        (&["BF.RESERVE", "k", "0.01", "100", "EXPANSION", "32769"], "ERR expansion must be in the range [0, 32768]"),
        (&["BF.RESERVE", "k", "0.01"], "ERR wrong number of arguments for 'bf.reserve' command"),
        (
            &["BF.RESERVE", "k", "0.01", "100", "a", "b", "c", "d"],
            "ERR wrong number of arguments for 'bf.reserve' command",
        ),
    ];
    for (args, msg) in cases {
        expect(&mut s, args, &err(msg));
    }
    expect(&mut s, &["EXISTS", "k"], ":0\r\n");
    // NONSCALING without EXPANSION is fine, and EXPANSION 0 with NONSCALING too; other extra
    // arguments are ignored, as RedisBloom ignores them.
    expect(&mut s, &["BF.RESERVE", "a", "0.01", "100", "NONSCALING", "EXPANSION", "0"], "+OK\r\n");
    expect(&mut s, &["BF.RESERVE", "b", "0.01", "100", "whatever"], "+OK\r\n");
    // Error rates are read with strtod, so hexadecimal works as in RedisBloom (0x1p-7 = 0.0078125).
    expect(&mut s, &["BF.RESERVE", "hex", "0x1p-7", "100"], "+OK\r\n");
    // An error rate above 0.25 is capped (the first filter then gets 0.125).
    expect(&mut s, &["BF.RESERVE", "c", "0.9", "100"], "+OK\r\n");
    // 0.125 for 100 items: ⌊100 × 4.328⌋ = 432 → 448 bits; ln2 × 4.328 lands a hair above 3.
    let line = "bytes:56 bits:448 hashes:4 hashwidth:64 capacity:100 size:0 ratio:0.125";
    expect(&mut s, &["BF.DEBUG", "c"], &format!("*2\r\n$6\r\nsize:0\r\n${}\r\n{line}\r\n", line.len()));
    // RedisBloom finds NONSCALING anywhere in argv, the key included.
    expect(&mut s, &["BF.RESERVE", "nonscaling", "0.01", "100"], "+OK\r\n");
    expect(&mut s, &["BF.INFO", "nonscaling", "expansion"], "*1\r\n$-1\r\n");
    expect(&mut s, &["SET", "str", "x"], "+OK\r\n");
    expect(&mut s, &["BF.RESERVE", "str", "0.01", "100"], &err(WRONGTYPE));
    // A filter too big for terrarium's memory limit fails like a failed allocation.
    expect(&mut s, &["BF.RESERVE", "huge", "1e-10", "1073741824"], &err("ERR Insufficient memory to create filter"));
}

#[test]
fn add_exists_madd_mexists_card() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    expect(&mut s, &["BF.EXISTS", "f", "apple"], ":0\r\n");
    expect(&mut s, &["BF.CARD", "f"], ":0\r\n");
    expect(&mut s, &["BF.ADD", "f", "apple"], ":1\r\n");
    expect(&mut s, &["BF.ADD", "f", "apple"], ":0\r\n");
    expect(&mut s, &["BF.MADD", "f", "banana", "cherry", "apple"], "*3\r\n:1\r\n:1\r\n:0\r\n");
    expect(&mut s, &["BF.EXISTS", "f", "banana"], ":1\r\n");
    expect(&mut s, &["BF.EXISTS", "f", "durian"], ":0\r\n");
    expect(
        &mut s,
        &["BF.MEXISTS", "f", "apple", "banana", "cherry", "durian", "elderberry", "fig", "grape"],
        "*7\r\n:1\r\n:1\r\n:1\r\n:0\r\n:0\r\n:0\r\n:0\r\n",
    );
    expect(&mut s, &["BF.MEXISTS", "nokey", "a", "b"], "*2\r\n:0\r\n:0\r\n");
    expect(&mut s, &["BF.CARD", "f"], ":3\r\n");
    // The auto-created filter: 0.01 / 100 / expansion 2 → 240 bytes (the redis.io example).
    expect(
        &mut s,
        &["BF.INFO", "f"],
        "*10\r\n+Capacity\r\n:100\r\n+Size\r\n:240\r\n+Number of filters\r\n:1\r\n\
         +Number of items inserted\r\n:3\r\n+Expansion rate\r\n:2\r\n",
    );
    // Wrong types: adds and CARD refuse, EXISTS/MEXISTS answer 0 as RedisBloom does.
    expect(&mut s, &["LPUSH", "l", "x"], ":1\r\n");
    expect(&mut s, &["BF.ADD", "l", "x"], &err(WRONGTYPE));
    expect(&mut s, &["BF.MADD", "l", "x"], &err(WRONGTYPE));
    expect(&mut s, &["BF.CARD", "l"], &err(WRONGTYPE));
    expect(&mut s, &["BF.INFO", "l"], &err(WRONGTYPE));
    expect(&mut s, &["BF.EXISTS", "l", "x"], ":0\r\n");
    expect(&mut s, &["BF.MEXISTS", "l", "x"], "*1\r\n:0\r\n");
    expect(&mut s, &["LPUSH", "f", "x"], &err(WRONGTYPE));
    // SCAN's TYPE filter matches the module type name case-insensitively, as Redis does.
    expect(&mut s, &["SCAN", "0", "TYPE", "mbbloom--"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n");
    expect(&mut s, &["SCAN", "0", "TYPE", "MBbloom--"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n");
    // Arity comes from the command table, with the lowercase name.
    expect(&mut s, &["BF.ADD", "f"], &err("ERR wrong number of arguments for 'bf.add' command"));
    expect(&mut s, &["BF.ADD", "f", "a", "b"], &err("ERR wrong number of arguments for 'bf.add' command"));
    expect(&mut s, &["BF.MADD", "f"], &err("ERR wrong number of arguments for 'bf.madd' command"));
    expect(&mut s, &["BF.EXISTS", "f"], &err("ERR wrong number of arguments for 'bf.exists' command"));
    expect(&mut s, &["BF.CARD"], &err("ERR wrong number of arguments for 'bf.card' command"));
    // Keyspace commands see the filter as any other key.
    expect(&mut s, &["RENAME", "f", "g"], "+OK\r\n");
    expect(&mut s, &["BF.EXISTS", "g", "cherry"], ":1\r\n");
    expect(&mut s, &["COPY", "g", "h"], ":1\r\n");
    expect(&mut s, &["BF.EXISTS", "h", "cherry"], ":1\r\n");
    expect(&mut s, &["DEL", "g"], ":1\r\n");
    expect(&mut s, &["BF.EXISTS", "g", "cherry"], ":0\r\n");
}

#[test]
fn a_full_nonscaling_filter_refuses_new_items() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    // Capacity 5: the sixth new item is refused and ends the reply (RedisBloom stops there too).
    expect(&mut s, &["BF.RESERVE", "n", "0.01", "5", "NONSCALING"], "+OK\r\n");
    expect(
        &mut s,
        &["BF.MADD", "n", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"],
        "*6\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n-ERR non scaling filter is full\r\n",
    );
    expect(&mut s, &["BF.ADD", "n", "a9"], &err("ERR non scaling filter is full"));
    // Items already in the filter still answer 0, not an error.
    expect(&mut s, &["BF.ADD", "n", "a0"], ":0\r\n");
    expect(&mut s, &["BF.CARD", "n"], ":5\r\n");
    expect(&mut s, &["BF.INFO", "n", "filters"], "*1\r\n:1\r\n");
}

#[test]
fn a_scaling_filter_grows_by_its_expansion() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    let mut args = vec!["BF.MADD".to_string(), "g".to_string()];
    args.extend((0..700).map(|i| format!("item{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    send(&mut s, &cmd(&args));
    // 700 replies of ":0\r\n" or ":1\r\n" after "*700\r\n".
    let reply = read_exact_len(&mut s, 6 + 700 * 4);
    let ones = reply.windows(4).filter(|w| w == b":1\r\n").count();
    assert_eq!(ones, 696, "RedisBloom also reports 4 of these 700 as already present");
    // 100 + 200 + 400 items; 144 + 312 + 696 bytes of bits + 32 + 3 × 64 → 1376.
    expect(
        &mut s,
        &["BF.INFO", "g"],
        "*10\r\n+Capacity\r\n:700\r\n+Size\r\n:1376\r\n+Number of filters\r\n:3\r\n\
         +Number of items inserted\r\n:696\r\n+Expansion rate\r\n:2\r\n",
    );
    let lines = [
        "size:696",
        "bytes:144 bits:1152 hashes:8 hashwidth:64 capacity:100 size:100 ratio:0.005",
        "bytes:312 bits:2496 hashes:9 hashwidth:64 capacity:200 size:200 ratio:0.0025",
        "bytes:696 bits:5568 hashes:10 hashwidth:64 capacity:400 size:396 ratio:0.00125",
    ];
    let mut want = format!("*{}\r\n", lines.len());
    for l in lines {
        want.push_str(&format!("${}\r\n{l}\r\n", l.len()));
    }
    expect(&mut s, &["BF.DEBUG", "g"], &want);
    // Every added item is still found: a Bloom filter has no false negatives.
    let mut args = vec!["BF.MEXISTS".to_string(), "g".to_string()];
    args.extend((0..700).map(|i| format!("item{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut want = "*700\r\n".to_string();
    want.push_str(&":1\r\n".repeat(700));
    expect(&mut s, &args, &want);
}

#[test]
fn insert_options_and_errors() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    expect(&mut s, &["BF.INSERT", "i", "NOCREATE", "ITEMS", "a"], &err("ERR not found"));
    expect(&mut s, &["EXISTS", "i"], ":0\r\n");
    expect(
        &mut s,
        &["BF.INSERT", "i", "CAPACITY", "1000", "ERROR", "0.001", "EXPANSION", "4", "ITEMS", "a", "b", "a"],
        "*3\r\n:1\r\n:1\r\n:0\r\n",
    );
    // 0.0005 for 1000 items: ⌊15820.28⌋ → 15872 bits = 1984 bytes; + 96.
    expect(&mut s, &["BF.INFO", "i", "size"], "*1\r\n:2080\r\n");
    expect(&mut s, &["BF.INFO", "i", "expansion"], "*1\r\n:4\r\n");
    // Options on an existing filter are ignored; NOCREATE just requires it to exist.
    expect(&mut s, &["BF.INSERT", "i", "NOCREATE", "CAPACITY", "5", "ITEMS", "c"], "*1\r\n:1\r\n");
    expect(&mut s, &["BF.INFO", "i", "capacity"], "*1\r\n:1000\r\n");
    // RedisBloom reads options by their first letters.
    expect(&mut s, &["BF.INSERT", "j", "cap", "10", "err", "0.1", "nonscaling", "i", "x"], "*1\r\n:1\r\n");
    expect(&mut s, &["BF.INFO", "j", "capacity"], "*1\r\n:10\r\n");
    expect(&mut s, &["BF.INFO", "j", "expansion"], "*1\r\n$-1\r\n");
    expect(&mut s, &["BF.INSERT", "z", "EXPANSION", "0", "ITEMS", "x"], "*1\r\n:1\r\n");
    expect(&mut s, &["BF.INFO", "z", "expansion"], "*1\r\n$-1\r\n");
    let cases: &[(&[&str], &str)] = &[
        (&["BF.INSERT", "e", "ERROR", "2", "ITEMS", "a"], "Bad error rate"),
        (&["BF.INSERT", "e", "ERROR", "x", "ITEMS", "a"], "Bad error rate"),
        (&["BF.INSERT", "e", "CAPACITY", "0", "ITEMS", "a"], "Bad capacity"),
        (&["BF.INSERT", "e", "CAPACITY", "x", "ITEMS", "a"], "Bad capacity"),
        (&["BF.INSERT", "e", "EXPANSION", "-1", "ITEMS", "a"], "Bad expansion"),
        (&["BF.INSERT", "e", "BOGUS", "1", "ITEMS", "a"], "Unknown argument received"),
        (&["BF.INSERT", "e", "ITEMS"], "ERR wrong number of arguments for 'bf.insert' command"),
        (&["BF.INSERT", "e", "CAPACITY", "10"], "ERR wrong number of arguments for 'bf.insert' command"),
        (&["BF.INSERT", "e", "NOCREATE", "ERROR"], "ERR wrong number of arguments for 'bf.insert' command"),
        (&["BF.INSERT", "e", "ITEMS"], "ERR wrong number of arguments for 'bf.insert' command"),
    ];
    for (args, msg) in cases {
        expect(&mut s, args, &err(msg));
    }
    expect(&mut s, &["EXISTS", "e"], ":0\r\n");
    expect(&mut s, &["SET", "str", "x"], "+OK\r\n");
    expect(&mut s, &["BF.INSERT", "str", "ITEMS", "a"], &err(WRONGTYPE));
}

#[test]
fn resp3_replies_are_booleans_and_maps() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    send(&mut s, &cmd(&["HELLO", "3"]));
    // Drain the HELLO map: read until the connection has nothing more for a moment.
    s.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = std::io::Read::read(&mut s, &mut buf) {
        if n == 0 {
            break;
        }
    }
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    expect(&mut s, &["BF.ADD", "r", "x"], "#t\r\n");
    expect(&mut s, &["BF.ADD", "r", "x"], "#f\r\n");
    expect(&mut s, &["BF.EXISTS", "r", "y"], "#f\r\n");
    expect(&mut s, &["BF.MADD", "r", "x", "y"], "*2\r\n#f\r\n#t\r\n");
    expect(&mut s, &["BF.MEXISTS", "r", "x", "q"], "*2\r\n#t\r\n#f\r\n");
    expect(
        &mut s,
        &["BF.INFO", "r"],
        "%5\r\n+Capacity\r\n:100\r\n+Size\r\n:240\r\n+Number of filters\r\n:1\r\n\
         +Number of items inserted\r\n:2\r\n+Expansion rate\r\n:2\r\n",
    );
    expect(&mut s, &["BF.INFO", "r", "items"], "%1\r\n+Number of items inserted\r\n:2\r\n");
    expect(&mut s, &["BF.RESERVE", "n", "0.1", "10", "NONSCALING"], "+OK\r\n");
    expect(&mut s, &["BF.INFO", "n", "expansion"], "%1\r\n+Expansion rate\r\n_\r\n");
}

#[test]
fn debug_shows_each_filter_and_its_fill() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    expect(&mut s, &["BF.ADD", "d", "hello"], ":1\r\n");
    let l0 = "bytes:144 bits:1152 hashes:8 hashwidth:64 capacity:100 size:1 ratio:0.005";
    expect(&mut s, &["BF.DEBUG", "d"], &format!("*2\r\n$6\r\nsize:1\r\n${}\r\n{l0}\r\n", l0.len()));
    // FILL: "hello" set 8 of 1152 bits; (8/1152)^8 is today's false-positive rate.
    let l1 = format!("{l0} bits_set:8 fill:0.00694444 fpr:5.40879e-18");
    expect(&mut s, &["BF.DEBUG", "d", "fill"], &format!("*2\r\n$6\r\nsize:1\r\n${}\r\n{l1}\r\n", l1.len()));
    expect(&mut s, &["BF.DEBUG", "d", "x"], &err("ERR wrong number of arguments for 'bf.debug' command"));
    expect(&mut s, &["BF.DEBUG", "nokey"], &err("ERR not found"));
}

#[test]
fn scandump_and_loadchunk_round_trip() {
    let srv = TestServer::start();
    let mut c = srv.client();
    let items: Vec<String> = (0..500).map(|i| format!("member:{i}")).collect();
    let _: Vec<bool> = redis::cmd("BF.MADD").arg("src").arg(&items).query(&mut c).unwrap();
    let mut chunks: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut iter = 0i64;
    loop {
        let (next, data): (i64, Vec<u8>) = redis::cmd("BF.SCANDUMP").arg("src").arg(iter).query(&mut c).unwrap();
        if next == 0 {
            assert!(data.is_empty());
            break;
        }
        chunks.push((next, data));
        iter = next;
    }
    // Header (20 + 3 × 53 bytes) then one chunk per filter: 100 + 200 + 400 items' worth.
    let lens: Vec<usize> = chunks.iter().map(|(_, d)| d.len()).collect();
    assert_eq!(lens, [179, 144, 312, 696]);
    assert_eq!(chunks.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 145, 457, 1153]);
    for (i, data) in &chunks {
        let ok: String = redis::cmd("BF.LOADCHUNK").arg("dst").arg(*i).arg(data.as_slice()).query(&mut c).unwrap();
        assert_eq!(ok, "OK");
    }
    let info_src: Vec<redis::Value> = redis::cmd("BF.INFO").arg("src").query(&mut c).unwrap();
    let info_dst: Vec<redis::Value> = redis::cmd("BF.INFO").arg("dst").query(&mut c).unwrap();
    assert_eq!(info_src, info_dst);
    let found: Vec<bool> = redis::cmd("BF.MEXISTS").arg("dst").arg(&items).query(&mut c).unwrap();
    assert!(found.iter().all(|&f| f));
    for (i, data) in &chunks[1..] {
        let (_, again): (i64, Vec<u8>) =
            redis::cmd("BF.SCANDUMP").arg("dst").arg(*i - data.len() as i64).query(&mut c).unwrap();
        assert_eq!(&again, data, "the copy dumps the same bytes");
    }

    // The header of a default filter holding "hello", byte for byte as RedisBloom writes it.
    let _: bool = redis::cmd("BF.ADD").arg("h").arg("hello").query(&mut c).unwrap();
    let (one, header): (i64, Vec<u8>) = redis::cmd("BF.SCANDUMP").arg("h").arg(0).query(&mut c).unwrap();
    assert_eq!(one, 1);
    let hex: String = header.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "0100000000000000010000000500000002000000900000000000000080040000000000000100000000000000\
         7b14ae47e17a743fe9862fb2350e264008000000640000000000000000"
    );
}

#[test]
fn scandump_and_loadchunk_errors() {
    let srv = TestServer::start();
    let mut s = srv.connect();
    expect(&mut s, &["BF.SCANDUMP", "nokey", "0"], &err("ERR not found"));
    expect(&mut s, &["BF.ADD", "k", "x"], ":1\r\n");
    expect(&mut s, &["BF.SCANDUMP", "k", "abc"], &err("Second argument must be numeric"));
    expect(&mut s, &["BF.SCANDUMP", "k", "-3"], "*2\r\n:0\r\n$0\r\n\r\n");
    expect(&mut s, &["BF.SCANDUMP", "k", "145"], "*2\r\n:0\r\n$0\r\n\r\n");
    expect(&mut s, &["BF.LOADCHUNK", "k", "abc", "x"], &err("ERR Second argument must be numeric"));
    expect(&mut s, &["BF.LOADCHUNK", "new", "2", "x"], &err("ERR not found"));
    expect(&mut s, &["BF.LOADCHUNK", "new", "1", "garbage"], &err("ERR received bad data"));
    expect(&mut s, &["EXISTS", "new"], ":0\r\n");
    expect(&mut s, &["BF.LOADCHUNK", "k", "1", "garbage"], &err("ERR received bad data"));
    expect(&mut s, &["BF.LOADCHUNK", "k", "1", "x"], &err("ERR invalid offset - no link found"));
    expect(&mut s, &["BF.LOADCHUNK", "k", "146", "x"], &err("ERR invalid offset - no link found"));
    expect(&mut s, &["BF.LOADCHUNK", "k", "3", "xy"], "+OK\r\n");
    expect(&mut s, &["SET", "str", "x"], "+OK\r\n");
    expect(&mut s, &["BF.SCANDUMP", "str", "0"], &err(WRONGTYPE));
    expect(&mut s, &["BF.LOADCHUNK", "str", "1", "x"], &err(WRONGTYPE));
}

#[test]
fn bf_writes_touch_watched_keys_and_queue_in_multi() {
    let srv = TestServer::start();
    let mut a = srv.connect();
    let mut b = srv.connect();
    expect(&mut a, &["BF.ADD", "w", "x"], ":1\r\n");
    // An add that changes nothing still touches the key, as Redis signals every key a module
    // opened for writing.
    expect(&mut a, &["WATCH", "w"], "+OK\r\n");
    expect(&mut b, &["BF.ADD", "w", "x"], ":0\r\n");
    expect(&mut a, &["MULTI"], "+OK\r\n");
    expect(&mut a, &["BF.EXISTS", "w", "x"], "+QUEUED\r\n");
    expect(&mut a, &["EXEC"], "*-1\r\n");
    // Reads do not.
    expect(&mut a, &["WATCH", "w"], "+OK\r\n");
    expect(&mut b, &["BF.EXISTS", "w", "x"], ":1\r\n");
    expect(&mut b, &["BF.INFO", "w", "items"], "*1\r\n:1\r\n");
    expect(&mut a, &["MULTI"], "+OK\r\n");
    expect(&mut a, &["BF.ADD", "w", "y"], "+QUEUED\r\n");
    expect(&mut a, &["BF.CARD", "w"], "+QUEUED\r\n");
    expect(&mut a, &["EXEC"], "*2\r\n:1\r\n:2\r\n");
}
