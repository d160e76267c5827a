//! The Bloom-filter lesson, measured: "definitely not" versus "might be", the false-positive
//! rate climbing as a filter fills (against the formula), how to choose `k`, what a filter
//! saves over exact tracking, and then the same over `BF.*` on a server.
//!
//!     cargo run -q --example bloom_demo                                # in-process parts only
//!     cargo run -q --example bloom_demo -- --server redis://127.0.0.1:16379
//!
//! Part A uses `terrarium::bloom`, the code behind terrarium's `BF.*` commands, in this
//! process. Part B sends `BF.*` commands to the server given with `--server`; it skips itself
//! with a note if the server has no `BF.*` commands. Items are `user:0`, `user:1`, … and the
//! absent items `absent:0` … `absent:9999`; hashing is MurmurHash64A, so every number printed
//! is the same on every run and `demos/bloom-filters/expected.txt` can pin it.

use std::collections::BTreeMap;

use redis::{Connection, Value};
use terrarium::bloom::filter::{
    bits_per_entry, hash_count, LN2, LN2_SQUARED, OPT_FORCE64, OPT_NOROUND, OPT_NO_SCALING,
};
use terrarium::bloom::{Filter, ItemHash, ScalingBloom, Sizing};

/// The filter of parts A2–A5 and B2: 1000 items at 1%.
const CAPACITY: u64 = 1000;
const ERROR_RATE: f64 = 0.01;
/// How many never-added items each false-positive measurement checks.
const ABSENT_COUNT: usize = 10_000;
/// Part A4 fills the filter to three times its capacity, in steps of this many items.
const FILL_STEP: u64 = 250;
const FILL_MAX: u64 = 3 * CAPACITY;
/// The options BF.RESERVE … NONSCALING gives a filter (64-bit hash, no power-of-two rounding).
const NONSCALING: u32 = OPT_FORCE64 | OPT_NOROUND | OPT_NO_SCALING;
/// Every key part B touches starts with this, and is deleted first.
const KEY_PREFIX: &str = "demo:bloom:";

fn main() {
    let mut server = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--server", Some(url)) => server = Some(url),
            _ => {
                eprintln!("usage: bloom_demo [--server redis://HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    out("Bloom filters: \"definitely not\" versus \"might be\"");
    out("=================================================");
    out("");
    out("Part A: in this process, with terrarium::bloom (the code behind BF.*)");
    out("");
    let sizing = Sizing::compute(CAPACITY, ERROR_RATE, NONSCALING).expect("a valid sizing");
    a1_sizing(&sizing);
    a2_basic();
    a3_false_positive(&sizing);
    a4_climb(&sizing);
    a5_choose_k(&sizing);
    a6_storage();
    if let Some(url) = server {
        if let Err(e) = part_b(&url, &sizing) {
            eprintln!("bloom_demo: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints a line without trailing blanks, so that `expected.txt` holds none either.
fn out(line: &str) {
    println!("{}", line.trim_end());
}

fn user(i: u64) -> String {
    format!("user:{i}")
}

fn absent(i: usize) -> String {
    format!("absent:{i}")
}

fn hash(item: &str) -> ItemHash {
    ItemHash::of(item.as_bytes(), true)
}

/// The textbook false-positive rate of `n` items in `m` bits with `k` hashes.
fn formula(k: u32, n: u64, m: u64) -> f64 {
    (1.0 - (-(f64::from(k)) * n as f64 / m as f64).exp()).powi(k as i32)
}

/// Absent items the filter claims to hold.
fn false_positives(f: &Filter) -> usize {
    (0..ABSENT_COUNT).filter(|&i| f.check(hash(&absent(i)))).count()
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A horizontal bar chart of measured rates (`#`) with the formula's rate marked (`|`): one
/// row per `(n, measured, formula)`, one column per `per_column` of rate (described as
/// `column`), and an axis label every `label_every` columns.
fn chart(points: &[(u64, f64, f64)], per_column: f64, column: &str, label_every: usize) {
    let cols = |x: f64| (x / per_column).round() as usize;
    let width = points.iter().map(|p| cols(p.1).max(cols(p.2) + 1)).max().unwrap_or(0);
    let (mut axis, mut rule) = (String::from("       n   "), String::from("           "));
    for i in 0..=width.div_ceil(label_every) {
        let label = format!("{}%", 100.0 * per_column * (i * label_every) as f64);
        axis.push_str(&format!("{label:<label_every$}"));
        rule.push_str(&format!("+{}", "-".repeat(label_every - 1)));
    }
    out(&format!("   Measured (#) and formula (|), one column per {column}:"));
    out("");
    out(&axis);
    out(rule.trim_end_matches('-'));
    for &(n, measured, form) in points {
        let (bar, mark) = (cols(measured), cols(form));
        let line: String = (0..bar.max(mark + 1))
            .map(|c| {
                if c == mark {
                    '|'
                } else if c < bar {
                    '#'
                } else {
                    ' '
                }
            })
            .collect();
        out(&format!("   {n:>5}   {line}   {}", pct(measured)));
    }
    out("");
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(ch);
    }
    s
}

// ------------------------------------------------------------------------------------------------
// Part A: in-process.
// ------------------------------------------------------------------------------------------------

fn a1_sizing(s: &Sizing) {
    let bpe = bits_per_entry(ERROR_RATE);
    out(&format!("A1. Sizing a filter for {CAPACITY} items at a {ERROR_RATE} false-positive rate"));
    out("");
    out(&format!("   bits per item  −ln p / ln²2  = {:.5} / {LN2_SQUARED:.6} = {bpe:.5}", -ERROR_RATE.ln()));
    out(&format!("   hashes k       ⌈ln 2 × {bpe:.5}⌉ = ⌈{:.5}⌉ = {}", LN2 * bpe, hash_count(bpe).expect("small k")));
    out(&format!(
        "   bits m         ⌊{CAPACITY} × {bpe:.5}⌋ = {}, rounded up to whole 64-bit words = {} bits = {} bytes",
        (CAPACITY as f64 * bpe) as u64,
        s.bits,
        s.bytes
    ));
    out("");
    out("   Every item sets k bits, picked by double hashing: bit i is (a + i·b) mod m, where a and b are");
    out("   two MurmurHash64A values of the item. BF.RESERVE key 0.01 1000 NONSCALING builds this same filter.");
    out("");
}

/// One item's probes, each followed by `·` if the bit is clear.
fn probes(f: &Filter, item: &str) -> (String, bool) {
    let mut all = true;
    let mut shown = Vec::new();
    for x in f.probes(hash(item)) {
        let set = f.bit_array[(x / 8) as usize] & (1 << (x % 8)) != 0;
        all &= set;
        shown.push(format!("{x}{}", if set { "" } else { "·" }));
    }
    (shown.join(" "), all)
}

fn a2_basic() {
    // A RedisBloom chain, as BF.ADD would create it, to show the API the commands use.
    let mut chain = ScalingBloom::new(CAPACITY, ERROR_RATE, NONSCALING, 2).expect("valid parameters");
    let added = ["alice", "bob", "carol"];
    for item in added {
        assert_eq!(chain.add(item.as_bytes()), Ok(true), "a new item in an empty filter is new");
    }
    out("A2. \"Definitely not\" versus \"might be\"");
    out("");
    out(&format!("   added: {}", added.join(", ")));
    out("");
    out("   item      the bits it probes (· = bit clear)                  answer");
    let f = &chain.filters[0];
    for item in ["alice", "bob", "mallory", "trent", "carol", "oscar"] {
        let (shown, all) = probes(f, item);
        assert_eq!(all, chain.check(item.as_bytes()));
        let answer = if all { "might be in the set" } else { "definitely not in the set" };
        out(&format!("   {item:<9} {shown:<51} {answer}"));
    }
    out("");
    out("   One clear bit is proof: had the item been added, that bit would be set. All bits set is only");
    out("   a hint: other items may have set them. So a Bloom filter has no false negatives, only false");
    out("   positives.");
    out("");
}

/// Fills a filter with `user:0` … `user:999`, then finds and explains a false positive.
fn a3_false_positive(s: &Sizing) {
    let mut f = Filter::new(*s);
    for i in 0..CAPACITY {
        f.add(hash(&user(i)));
    }
    let held = (0..CAPACITY).filter(|&i| f.check(hash(&user(i)))).count();
    out(&format!("A3. A false positive, found and explained: the filter holds user:0 … user:{}", CAPACITY - 1));
    out("");
    out(&format!("   Added items the filter recognises: {held} of {CAPACITY} (never a false negative)."));
    let Some(fp) = (0..ABSENT_COUNT).map(absent).find(|a| f.check(hash(a))) else {
        out("   No absent item was reported present.");
        return;
    };
    let first_owner = |bit: u64| (0..CAPACITY).find(|&i| f.probes(hash(&user(i))).any(|x| x == bit)).map(user);
    out(&format!("   The first of absent:0, absent:1, … that it claims to hold: {fp}. Its bits, and who set them:"));
    out("");
    for x in f.probes(hash(&fp)) {
        out(&format!("     bit {x:>4}   set by {}", first_owner(x).unwrap_or_else(|| "nobody?".into())));
    }
    out("");
    out(&format!("   {fp} was never added; other items happened to cover all {} of its bits.", s.hashes));
    out("");
}

fn a4_climb(s: &Sizing) {
    let mut f = Filter::new(*s);
    let (k, m) = (s.hashes, s.bits);
    let mut rows = Vec::new();
    let mut n = 0;
    while n < FILL_MAX {
        for i in n..n + FILL_STEP {
            // Filter::add has no capacity check (the chain has it: BF.ADD on a full NONSCALING
            // filter is refused), so this filter can be filled past what it was sized for.
            f.add(hash(&user(i)));
        }
        n += FILL_STEP;
        let fps = false_positives(&f);
        let fill = f.bits_set() as f64 / m as f64;
        rows.push((n, f.bits_set(), fill, fps as f64 / ABSENT_COUNT as f64, formula(k, n, m), fill.powi(k as i32)));
    }
    out(&format!(
        "A4. The false-positive rate climbing as the filter fills ({} absent items checked at each step)",
        thousands(ABSENT_COUNT as u64)
    ));
    out("");
    out(&format!(
        "   m = {m} bits, k = {k}; formula = (1 − e^(−kn/m))^k; fill^k = the rate the bits set today predict"
    ));
    out("");
    out("       n   n/capacity   bits set    fill   measured   formula    fill^k");
    for &(n, set, fill, fp, form, fk) in &rows {
        out(&format!(
            "   {n:>5}   {:>10}   {set:>8}   {:>5.3}   {:>8}   {:>7}   {:>7}{}",
            format!("{:.2}", n as f64 / CAPACITY as f64),
            fill,
            pct(fp),
            pct(form),
            pct(fk),
            if n == CAPACITY { "   ← capacity" } else { "" }
        ));
    }
    out("");
    let points: Vec<(u64, f64, f64)> = rows.iter().map(|r| (r.0, r.3, r.4)).collect();
    chart(&points, 0.01, "1%", 10);
    out(&format!(
        "   At capacity the filter keeps its promise (about {}); filled three times over, nearly half of",
        pct(ERROR_RATE)
    ));
    out("   all absent items look present. A Bloom filter cannot be resized after the fact: its items are");
    out("   not stored, only their bits. A scaling filter (part B3) adds a new, larger filter instead.");
    out("");
}

fn a5_choose_k(s: &Sizing) {
    let m = s.bits;
    let best = (m as f64 / CAPACITY as f64) * std::f64::consts::LN_2;
    out(&format!("A5. Choosing k: {CAPACITY} items in the same {m} bits, with k from 1 to 14"));
    out("");
    out("    k   measured   formula");
    for k in 1..=14u32 {
        // Same bit array size, another hash count: only `hashes` changes.
        let mut f = Filter::new(Sizing { hashes: k, ..*s });
        for i in 0..CAPACITY {
            f.add(hash(&user(i)));
        }
        let fp = false_positives(&f) as f64 / ABSENT_COUNT as f64;
        let note = if k == s.hashes { "   ← ⌈ln 2 · bits per item⌉, RedisBloom's choice" } else { "" };
        out(&format!("   {k:>2}   {:>8}   {:>7}{note}", pct(fp), pct(formula(k, CAPACITY, m))));
    }
    out("");
    out("   Too few hashes and each probe is a weak test; too many and the bits fill up. The best k is");
    out(&format!(
        "   (m/n) · ln 2 = {:.2} · {:.4} = {best:.2}, where about half the bits are set.",
        m as f64 / CAPACITY as f64,
        std::f64::consts::LN_2
    ));
    out("");
}

fn a6_storage() {
    const USERS: u64 = 100_000_000;
    const ID_BYTES: u64 = 40;
    const MB: f64 = 1e6;
    const MIB: f64 = 1024.0 * 1024.0;
    let exact = USERS * ID_BYTES;
    out("A6. The notification service's storage math: has this campaign already reached this user?");
    out("");
    out(&format!(
        "   Exact tracking, {} users × {ID_BYTES} bytes (a 36-character UUID and a 4-byte length,",
        thousands(USERS)
    ));
    out(&format!(
        "   before any hash-table overhead) = {} bytes ≈ {:.1} GB. Even 8-byte integer ids: {:.0} MB.",
        thousands(exact),
        exact as f64 / 1e9,
        (USERS * 8) as f64 / MB
    ));
    out("");
    out("   A Bloom filter, m = −n ln p / ln²2 bits, whatever the ids look like:");
    out("");
    out("   error rate   bits/user    k         bytes         MB       MiB   smaller than exact");
    for p in [0.1, 0.01, 0.001, 0.0001] {
        let bpe = bits_per_entry(p);
        let bytes = (USERS as f64 * bpe / 8.0).round() as u64;
        out(&format!(
            "   {:>10}   {bpe:>9.3}   {:>2}   {:>14}   {:>7.1}   {:>7.1}   {:>5.0}×",
            format!("{p}"),
            hash_count(bpe).expect("small k"),
            thousands(bytes),
            bytes as f64 / MB,
            bytes as f64 / MIB,
            exact as f64 / bytes as f64
        ));
    }
    out("");
    // What a server would actually allocate: computed, not allocated (over BLOOM_CHAIN_BYTES_MAX
    // anyway for the tighter rates).
    let fixed = Sizing::compute(USERS, 0.01, NONSCALING).expect("valid sizing");
    let scaling = Sizing::compute(USERS, 0.005, OPT_FORCE64 | OPT_NOROUND).expect("valid sizing");
    out(&format!(
        "   BF.RESERVE campaign 0.01 100000000 NONSCALING allocates {} bytes ({:.1} MiB); without",
        thousands(fixed.bytes),
        fixed.bytes as f64 / MIB
    ));
    out(&format!(
        "   NONSCALING the first filter is built for 0.005, leaving room for later ones: {} bytes ({:.1} MiB).",
        thousands(scaling.bytes),
        scaling.bytes as f64 / MIB
    ));
    out("   The price of the 33× saving: about 1 user in 100 is wrongly skipped as already notified, and the");
    out("   filter cannot list who was notified, or forget one of them.");
    out("");
}

// ------------------------------------------------------------------------------------------------
// Part B: over BF.* on a server.
// ------------------------------------------------------------------------------------------------

/// A reply, or the text of an error reply (`ERR not found`).
fn call(con: &mut Connection, cmd: &redis::Cmd) -> Result<Value, String> {
    cmd.query::<Value>(con).map_err(|e| match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    })
}

fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// A reply as redis-cli prints it.
fn show(v: &Value, indent: usize) -> String {
    match v {
        Value::Nil => "(nil)".into(),
        Value::Int(i) => format!("(integer) {i}"),
        Value::Okay => "OK".into(),
        Value::SimpleString(s) => s.clone(),
        Value::BulkString(b) => format!("\"{}\"", String::from_utf8_lossy(b)),
        Value::Double(d) => format!("(double) {d}"),
        Value::Array(items) if items.is_empty() => "(empty array)".into(),
        Value::Array(items) => {
            let width = items.len().to_string().len();
            let pad = " ".repeat(indent);
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let lead = if i == 0 { String::new() } else { pad.clone() };
                    format!("{lead}{:>width$}) {}", i + 1, show(x, indent + width + 2))
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        other => format!("{other:?}"),
    }
}

/// Sends one command and prints it with its reply, as a redis-cli session would show them.
fn transcript(con: &mut Connection, args: &[&str]) -> Result<Value, String> {
    out(&format!("   > {}", args.join(" ")));
    let reply = call(con, &cmd(args));
    match &reply {
        Ok(v) => {
            for line in show(v, 0).lines() {
                out(&format!("   {line}"));
            }
        }
        Err(e) => out(&format!("   (error) {e}")),
    }
    reply
}

fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(items) => items.iter().flat_map(ints).collect(),
        Value::Int(i) => vec![*i],
        Value::Boolean(b) => vec![i64::from(*b)],
        _ => Vec::new(),
    }
}

fn server_false_positives(con: &mut Connection, key: &str) -> Result<usize, String> {
    let mut count = 0;
    for chunk in (0..ABSENT_COUNT).collect::<Vec<_>>().chunks(1000) {
        let items: Vec<String> = chunk.iter().map(|&i| absent(i)).collect();
        let reply = call(con, redis::cmd("BF.MEXISTS").arg(key).arg(&items))?;
        count += ints(&reply).iter().filter(|&&x| x == 1).count();
    }
    Ok(count)
}

/// `BF.INFO key` as field → integer.
fn info(con: &mut Connection, key: &str) -> Result<BTreeMap<String, i64>, String> {
    let reply = call(con, &cmd(&["BF.INFO", key]))?;
    let Value::Array(items) = reply else { return Err("BF.INFO: not an array".into()) };
    let mut map = BTreeMap::new();
    for pair in items.chunks(2) {
        let name = match &pair[0] {
            Value::SimpleString(s) => s.clone(),
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            _ => continue,
        };
        let value = pair.get(1).map(ints).and_then(|v| v.first().copied()).unwrap_or(0);
        map.insert(name, value);
    }
    Ok(map)
}

/// `BF.DEBUG key FILL` (a terrarium extension), or plain `BF.DEBUG key` with a note if the
/// server is a RedisBloom that does not have it. Prints each line.
fn debug_fill(con: &mut Connection, key: &str) -> Result<(), String> {
    let reply = match call(con, &cmd(&["BF.DEBUG", key, "FILL"])) {
        Ok(v) => {
            out(&format!("   > BF.DEBUG {key} FILL"));
            v
        }
        Err(e) => {
            out(&format!("   (BF.DEBUG … FILL is a terrarium extension; this server said: {e})"));
            out(&format!("   > BF.DEBUG {key}"));
            call(con, &cmd(&["BF.DEBUG", key]))?
        }
    };
    for line in show(&reply, 0).lines() {
        out(&format!("   {line}"));
    }
    Ok(())
}

fn part_b(url: &str, sizing: &Sizing) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| format!("{url}: {e}"))?;
    let mut con = client.get_connection().map_err(|e| format!("{url}: {e}"))?;
    out("Part B: the same over BF.* on the server");
    out("");
    if let Err(e) = call(&mut con, &cmd(&["BF.EXISTS", "demo:bloom:probe", "x"])) {
        out(&format!("   This server has no Bloom filter commands ({e});"));
        out("   skipping part B. Run it against terrarium, or a Redis with the RedisBloom module loaded.");
        return Ok(());
    }
    let keys: Vec<String> = ["basic", "fill", "scaling"].iter().map(|k| format!("{KEY_PREFIX}{k}")).collect();
    call(&mut con, redis::cmd("DEL").arg(&keys))?;
    let (basic, fill, scaling) = (&keys[0], &keys[1], &keys[2]);

    out("B1. \"Definitely not\" versus \"might be\", as commands");
    out("");
    transcript(&mut con, &["BF.RESERVE", basic, "0.01", "1000", "NONSCALING"])?;
    transcript(&mut con, &["BF.MADD", basic, "alice", "bob", "carol"])?;
    transcript(&mut con, &["BF.EXISTS", basic, "alice"])?;
    transcript(&mut con, &["BF.EXISTS", basic, "mallory"])?;
    transcript(&mut con, &["BF.MEXISTS", basic, "bob", "trent", "carol", "oscar"])?;
    transcript(&mut con, &["BF.ADD", basic, "alice"])?;
    transcript(&mut con, &["BF.INFO", basic])?;
    out("");
    out("   1 means \"might be\", 0 \"definitely not\"; BF.ADD answers 0 when the item (or a false");
    out("   positive) is already there. Size is in bytes: the 1200-byte bit array of A1, plus 96 bytes of");
    out("   RedisBloom's bookkeeping.");
    out("");

    out(&format!("B2. Filling {fill} (BF.RESERVE {fill} 0.01 1000 NONSCALING) with user:0 … user:{}", CAPACITY - 1));
    out("");
    call(&mut con, &cmd(&["BF.RESERVE", fill, "0.01", "1000", "NONSCALING"]))?;
    out("       n   BF.CARD   measured (BF.MEXISTS)   in-process, same items   formula");
    // The same items into an in-process filter of the same shape, to compare with the server.
    let mut local = Filter::new(*sizing);
    let mut points = Vec::new();
    let mut insert_fps = 0;
    let mut n = 0;
    while n < CAPACITY {
        let step = CAPACITY / 10;
        let items: Vec<String> = (n..n + step).map(user).collect();
        let reply = call(&mut con, redis::cmd("BF.MADD").arg(fill).arg(&items))?;
        insert_fps += ints(&reply).iter().filter(|&&x| x == 0).count();
        for item in &items {
            local.add(hash(item));
        }
        n += step;
        let card = ints(&call(&mut con, &cmd(&["BF.CARD", fill]))?).first().copied().unwrap_or(-1);
        let fp = server_false_positives(&mut con, fill)? as f64 / ABSENT_COUNT as f64;
        let form = formula(sizing.hashes, n, sizing.bits);
        out(&format!(
            "   {n:>5}   {card:>7}   {:>21}   {:>22}   {:>7}",
            pct(fp),
            pct(false_positives(&local) as f64 / ABSENT_COUNT as f64),
            pct(form)
        ));
        points.push((n, fp, form));
    }
    out("");
    out("   The server and the in-process filter answer alike: the same sizing, hash and bits. (Against a");
    out("   real RedisBloom too: terrarium's filters are bit-for-bit RedisBloom's.)");
    out("");
    chart(&points, 0.0005, "0.05%", 10);
    if insert_fps == 0 {
        out(&format!(
            "   BF.MADD answered 1 for all {CAPACITY} items, so BF.CARD is {CAPACITY} and the filter is full."
        ));
    } else {
        out(&format!(
            "   BF.MADD answered 0 for {insert_fps} of the {CAPACITY} new items: false positives at insert time,"
        ));
        out("   which BF.CARD does not count, so the filter still has room for that many more.");
    }
    out("");
    debug_fill(&mut con, fill)?;
    out("");
    out("   fill is the fraction of bits set, fpr = fill^k the false-positive rate those bits give.");
    out("   A NONSCALING filter refuses items once it holds its capacity:");
    out("");
    let mut next = CAPACITY;
    loop {
        let item = user(next);
        match call(&mut con, &cmd(&["BF.ADD", fill, &item])) {
            Ok(_) if next < CAPACITY + 100 => next += 1,
            Ok(_) => break,
            Err(_) => {
                if next > CAPACITY {
                    out(&format!(
                        "   (user:{CAPACITY} … user:{} were still taken, making up for the 0s above)",
                        next - 1
                    ));
                }
                transcript(&mut con, &["BF.ADD", fill, &item]).err();
                break;
            }
        }
    }
    out("");

    out(&format!(
        "B3. A scaling filter (BF.RESERVE {scaling} 0.01 1000, expansion 2) filled to {} items",
        3 * CAPACITY
    ));
    out("");
    call(&mut con, &cmd(&["BF.RESERVE", scaling, "0.01", "1000"]))?;
    out("       n   filters   capacity   bytes (BF.INFO Size)   measured   designed for (sum of filter rates)");
    let mut n = 0;
    while n < 3 * CAPACITY {
        let step = CAPACITY / 2;
        let items: Vec<String> = (n..n + step).map(user).collect();
        call(&mut con, redis::cmd("BF.MADD").arg(scaling).arg(&items))?;
        n += step;
        let inf = info(&mut con, scaling)?;
        let filters = inf.get("Number of filters").copied().unwrap_or(0);
        let bound: f64 = (0..filters).map(|i| ERROR_RATE * 0.5f64.powi(i as i32 + 1)).sum();
        let fps = server_false_positives(&mut con, scaling)?;
        out(&format!(
            "   {n:>5}   {filters:>7}   {:>8}   {:>20}   {:>8}   {:>7}",
            inf.get("Capacity").copied().unwrap_or(0),
            inf.get("Size").copied().unwrap_or(0),
            pct(fps as f64 / ABSENT_COUNT as f64),
            pct(bound)
        ));
    }
    let card = ints(&call(&mut con, &cmd(&["BF.CARD", scaling]))?).first().copied().unwrap_or(-1);
    out("");
    debug_fill(&mut con, scaling)?;
    out("");
    let one_filter = ScalingBloom::new(3 * CAPACITY, ERROR_RATE, NONSCALING, 2).expect("valid parameters");
    out(&format!(
        "   The second filter appears only when item {} arrives. BF.CARD says {card}, not {}: {} adds found",
        CAPACITY + 1,
        3 * CAPACITY,
        3 * CAPACITY as i64 - card
    ));
    out("   their item \"already there\" (false positives at insert time) and set no bits.");
    out("");
    out("   Instead of refusing or degrading, the chain adds a filter twice as large with half the error");
    out("   rate, so the rates add up to less than 1% (0.5% + 0.25% + …); with 10,000 samples the measured");
    out("   rate wanders about ±0.09% around the design figure. The costs: every lookup probes every filter");
    out(&format!(
        "   in the chain, and more memory than one filter sized right from the start (BF.RESERVE … 0.01 {}",
        3 * CAPACITY
    ));
    out(&format!("   NONSCALING: Size {} bytes).", thousands(one_filter.mem_usage())));
    call(&mut con, redis::cmd("DEL").arg(&keys))?;
    Ok(())
}
