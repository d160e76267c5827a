//! RedisBloom's Bloom filter commands: BF.RESERVE, BF.ADD, BF.MADD, BF.INSERT, BF.EXISTS,
//! BF.MEXISTS, BF.INFO, BF.CARD, BF.SCANDUMP, BF.LOADCHUNK and BF.DEBUG.
//!
//! The filter itself is [`crate::bloom`]; this file parses arguments in the order RedisBloom's
//! `rebloom.c` does (so the same error wins when several apply) and shapes the replies.
//!
//! # Things RedisBloom does that look odd, kept on purpose
//!
//! * Its error texts are not uniform: BF.RESERVE says `ERR bad capacity`, BF.INSERT says
//!   `Bad capacity` with no `ERR` prefix, BF.SCANDUMP says `Second argument must be numeric` and
//!   BF.LOADCHUNK `ERR Second argument must be numeric`. Clients see exactly these.
//! * BF.RESERVE finds `NONSCALING` and `EXPANSION` anywhere in the argument vector, the key
//!   included, and ignores any other extra argument; BF.INSERT recognises its options by their
//!   first letter (`CAP 10` is CAPACITY, `ERR 0.1` is ERROR, `E 4` is EXPANSION).
//! * BF.EXISTS and BF.MEXISTS answer 0 for a key of another type instead of WRONGTYPE.
//! * Every command that opens the key for writing (RESERVE, ADD, MADD, INSERT, LOADCHUNK)
//!   counts as touching it for WATCH, even when it then fails or changes nothing: Redis
//!   signals every key a module opened for writing when the module closes it.
//!
//! RESP3 clients get booleans from the add and exists commands and maps from BF.INFO, as
//! RedisBloom replies to them.

use bytes::Bytes;

use super::zset::parse_score;
use super::{eq_ic, CmdError, CmdResult, Ctx, Handler};
use crate::bloom::filter::{OPT_FORCE64, OPT_NOROUND, OPT_NO_SCALING};
use crate::bloom::{
    AddError, CreateError, LoadError, ScalingBloom, DEFAULT_CAPACITY, DEFAULT_ERROR_RATE, DEFAULT_EXPANSION,
    ERROR_RATE_CAP,
};
use crate::kv::value::Value;
use crate::limits::{BLOOM_CAPACITY_MAX, BLOOM_EXPANSION_MAX};
use crate::resp::frame::fmt_g;
use crate::resp::Frame;

pub static COMMANDS: &[(&str, Handler)] = &[
    ("bf.reserve", bf_reserve),
    ("bf.add", bf_add),
    ("bf.madd", bf_madd),
    ("bf.insert", bf_insert),
    ("bf.exists", bf_exists),
    ("bf.mexists", bf_mexists),
    ("bf.info", bf_info),
    ("bf.card", bf_card),
    ("bf.scandump", bf_scandump),
    ("bf.loadchunk", bf_loadchunk),
    ("bf.debug", bf_debug),
];

// ------------------------------------------------------------------------------------------------
// Looking up a filter.
// ------------------------------------------------------------------------------------------------

/// What is at a key, as RedisBloom's `bfGetChain` classifies it.
enum Lookup<'a> {
    Missing,
    Found(&'a mut ScalingBloom),
    WrongType,
}

fn lookup<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Lookup<'a> {
    match ctx.get(key) {
        None => Lookup::Missing,
        Some(Value::Bloom(b)) => Lookup::Found(b),
        Some(_) => Lookup::WrongType,
    }
}

/// RedisBloom's `statusStrerror` for the two lookups that are errors.
fn not_found() -> CmdError {
    CmdError::new("ERR not found")
}

/// The reply to a lookup that did not find a filter.
fn lookup_error(l: &Lookup) -> CmdError {
    match l {
        Lookup::WrongType => CmdError::wrong_type(),
        Lookup::Found(_) => CmdError::new("ERR item exists"),
        Lookup::Missing => not_found(),
    }
}

fn create_error(e: CreateError) -> CmdError {
    match e {
        CreateError::TooBig => CmdError::new("ERR Insufficient memory to create filter"),
        CreateError::Invalid => CmdError::new("ERR could not create filter"),
    }
}

fn load_error(e: LoadError) -> CmdError {
    CmdError::new(match e {
        LoadError::BadData => "ERR received bad data",
        LoadError::NoLink => "ERR invalid offset - no link found",
        LoadError::TooBig => "ERR invalid chunk - Too big for current filter",
    })
}

/// Creates a filter at `key` (known to be missing) and stores it.
fn create(ctx: &mut Ctx, key: &Bytes, o: &CreateOptions) -> Result<(), CmdError> {
    let options = OPT_FORCE64 | OPT_NOROUND | if o.nonscaling { OPT_NO_SCALING } else { 0 };
    // Both numbers were range-checked by the parser: capacity in 1..=2^30, expansion in 0..=32768.
    let chain =
        ScalingBloom::new(o.capacity as u64, o.error_rate, options, o.expansion as u32).map_err(create_error)?;
    ctx.set(key.clone(), Value::Bloom(Box::new(chain)));
    Ok(())
}

/// An error rate as `RedisModule_StringToDouble` reads it: Redis's `string2d`, i.e. all of the
/// argument is a C `strtod` number (hexadecimal and `inf` included), not NaN, not out of range.
fn parse_error_rate(arg: &[u8]) -> Option<f64> {
    parse_score(arg)
}

/// RedisBloom's `RMUtil_ArgIndex`: the first argument (the key included) equal to `word`,
/// ignoring case.
fn arg_index(argv: &[Bytes], word: &str) -> Option<usize> {
    argv.iter().position(|a| eq_ic(a, word))
}

// ------------------------------------------------------------------------------------------------
// Creating and adding.
// ------------------------------------------------------------------------------------------------

/// How a filter is created when a command has to create one.
struct CreateOptions {
    error_rate: f64,
    capacity: i64,
    expansion: i64,
    nonscaling: bool,
}

impl CreateOptions {
    /// The module defaults, used by BF.ADD and BF.MADD and as BF.INSERT's starting point.
    fn defaults() -> CreateOptions {
        CreateOptions {
            error_rate: DEFAULT_ERROR_RATE,
            capacity: DEFAULT_CAPACITY,
            expansion: DEFAULT_EXPANSION,
            nonscaling: DEFAULT_EXPANSION == 0,
        }
    }
}

/// BF.RESERVE key error_rate capacity [EXPANSION expansion] [NONSCALING]
fn bf_reserve(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 7 {
        return Err(CmdError::wrong_arity("bf.reserve"));
    }
    let error_rate = match parse_error_rate(&argv[2]) {
        None => return Err(CmdError::new("ERR bad error rate")),
        Some(e) if !(e > 0.0 && e < 1.0) => {
            return Err(CmdError::new("ERR error rate must be in the range (0.000000, 1.000000)"))
        }
        Some(e) => e.min(ERROR_RATE_CAP),
    };
    let capacity = match crate::resp::codec::parse_i64(&argv[3]) {
        None => return Err(CmdError::new("ERR bad capacity")),
        Some(c) if !(1..=BLOOM_CAPACITY_MAX).contains(&c) => {
            return Err(CmdError::new(format!("ERR capacity must be in the range [1, {BLOOM_CAPACITY_MAX}]")))
        }
        Some(c) => c,
    };
    let mut nonscaling = DEFAULT_EXPANSION == 0 || arg_index(argv, "NONSCALING").is_some();
    let mut expansion = DEFAULT_EXPANSION;
    let ex = arg_index(argv, "EXPANSION");
    if ex == Some(argv.len() - 1) {
        return Err(CmdError::new("ERR no expansion"));
    }
    if let Some(i) = ex {
        expansion = crate::resp::codec::parse_i64(&argv[i + 1]).ok_or_else(|| CmdError::new("ERR bad expansion"))?;
        if expansion == 0 {
            nonscaling = true;
        } else if nonscaling {
            return Err(CmdError::new("Nonscaling filters cannot expand"));
        }
        if !(0..=BLOOM_EXPANSION_MAX).contains(&expansion) {
            return Err(CmdError::new(format!("ERR expansion must be in the range [0, {BLOOM_EXPANSION_MAX}]")));
        }
    }
    let key = &argv[1];
    ctx.touch(key);
    match lookup(ctx, key) {
        Lookup::Missing => {}
        other => return Err(lookup_error(&other)),
    }
    create(ctx, key, &CreateOptions { error_rate, capacity, expansion, nonscaling })?;
    Ok(Frame::ok())
}

/// The common part of BF.ADD, BF.MADD and BF.INSERT (RedisBloom's `bfInsertCommon`). Items are
/// added in order; a full non-scaling filter ends the loop with an error in that item's place.
fn insert(
    ctx: &mut Ctx,
    key: &Bytes,
    items: &[Bytes],
    o: &CreateOptions,
    autocreate: bool,
) -> Result<Vec<Frame>, CmdError> {
    ctx.touch(key);
    match lookup(ctx, key) {
        Lookup::Found(_) => {}
        Lookup::Missing if autocreate => create(ctx, key, o)?,
        other => return Err(lookup_error(&other)),
    }
    let Lookup::Found(chain) = lookup(ctx, key) else { return Err(not_found()) };
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        match chain.add(item) {
            Ok(added) => replies.push(Frame::Boolean(added)),
            Err(AddError::Full) => {
                replies.push(Frame::error("ERR non scaling filter is full"));
                break;
            }
            Err(AddError::Failed) => replies.push(Frame::error("ERR problem inserting into filter")),
        }
    }
    Ok(replies)
}

/// BF.ADD key item
fn bf_add(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut replies = insert(ctx, &argv[1], &argv[2..], &CreateOptions::defaults(), true)?;
    Ok(replies.pop().unwrap_or(Frame::Null))
}

/// BF.MADD key item [item ...]
fn bf_madd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Array(insert(ctx, &argv[1], &argv[2..], &CreateOptions::defaults(), true)?))
}

/// BF.INSERT key [CAPACITY capacity] [ERROR error] [EXPANSION expansion] [NOCREATE] [NONSCALING]
/// ITEMS item [item ...]
fn bf_insert(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let arity = || CmdError::wrong_arity("bf.insert");
    let mut o = CreateOptions::defaults();
    let mut autocreate = true;
    let mut items_at = None;
    let mut pos = 2;
    // RedisBloom looks only at the first letter (and a second or third to tell ERROR from
    // EXPANSION and NOCREATE from NONSCALING), so abbreviations work, as they do there.
    while pos < argv.len() && items_at.is_none() {
        let arg = &argv[pos];
        let letter = |i: usize| arg.get(i).map(u8::to_ascii_lowercase);
        match letter(0) {
            Some(b'i') => {
                pos += 1;
                items_at = Some(pos);
            }
            Some(b'e') => {
                pos += 1;
                let value = argv.get(pos).ok_or_else(arity)?;
                if letter(1) == Some(b'r') {
                    o.error_rate = match parse_error_rate(value) {
                        Some(e) if e > 0.0 && e < 1.0 => e.min(ERROR_RATE_CAP),
                        _ => return Err(CmdError::new("Bad error rate")),
                    };
                } else {
                    o.expansion = match crate::resp::codec::parse_i64(value) {
                        Some(x) if (0..=BLOOM_EXPANSION_MAX).contains(&x) => x,
                        _ => return Err(CmdError::new("Bad expansion")),
                    };
                }
                pos += 1;
            }
            Some(b'c') => {
                pos += 1;
                let value = argv.get(pos).ok_or_else(arity)?;
                o.capacity = match crate::resp::codec::parse_i64(value) {
                    Some(c) if (1..=BLOOM_CAPACITY_MAX).contains(&c) => c,
                    _ => return Err(CmdError::new("Bad capacity")),
                };
                pos += 1;
            }
            Some(b'n') => {
                if letter(2) == Some(b'c') {
                    autocreate = false;
                } else {
                    o.nonscaling = true;
                }
                pos += 1;
            }
            _ => return Err(CmdError::new("Unknown argument received")),
        }
    }
    if o.expansion == 0 {
        o.nonscaling = true;
    }
    let items_at = match items_at {
        Some(i) if i < argv.len() => i,
        _ => return Err(arity()),
    };
    Ok(Frame::Array(insert(ctx, &argv[1], &argv[items_at..], &o, autocreate)?))
}

// ------------------------------------------------------------------------------------------------
// Queries.
// ------------------------------------------------------------------------------------------------

/// Whether each item may be in the filter; a missing key (or one of another type) has none.
fn exists_each(ctx: &mut Ctx, key: &[u8], items: &[Bytes]) -> Vec<Frame> {
    let chain = match lookup(ctx, key) {
        Lookup::Found(c) => Some(&*c),
        _ => None,
    };
    items.iter().map(|i| Frame::Boolean(chain.is_some_and(|c| c.check(i)))).collect()
}

/// BF.EXISTS key item
fn bf_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(exists_each(ctx, &argv[1], &argv[2..]).pop().unwrap_or(Frame::Null))
}

/// BF.MEXISTS key item [item ...]
fn bf_mexists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Frame::Array(exists_each(ctx, &argv[1], &argv[2..])))
}

/// BF.INFO key [CAPACITY | SIZE | FILTERS | ITEMS | EXPANSION]
fn bf_info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity("bf.info"));
    }
    let resp3 = ctx.resp3();
    let chain = match lookup(ctx, &argv[1]) {
        Lookup::Found(c) => c,
        other => return Err(lookup_error(&other)),
    };
    let expansion = if chain.is_scaling() { Frame::Integer(i64::from(chain.growth)) } else { Frame::Null };
    let fields = [
        ("capacity", "Capacity", Frame::Integer(chain.capacity() as i64)),
        ("size", "Size", Frame::Integer(chain.mem_usage() as i64)),
        ("filters", "Number of filters", Frame::Integer(chain.filters.len() as i64)),
        ("items", "Number of items inserted", Frame::Integer(chain.size as i64)),
        ("expansion", "Expansion rate", expansion),
    ];
    let Some(wanted) = argv.get(2) else {
        return Ok(Frame::Map(fields.into_iter().map(|(_, label, v)| (Frame::Simple(label.into()), v)).collect()));
    };
    let Some((_, label, value)) = fields.into_iter().find(|(word, _, _)| eq_ic(wanted, word)) else {
        return Err(CmdError::new("Invalid information value"));
    };
    // One field: a one-entry map for RESP3, a one-element array (no label) for RESP2.
    Ok(if resp3 { Frame::Map(vec![(Frame::Simple(label.into()), value)]) } else { Frame::Array(vec![value]) })
}

/// BF.CARD key
fn bf_card(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    match lookup(ctx, &argv[1]) {
        Lookup::Found(c) => Ok(Frame::Integer(c.size as i64)),
        Lookup::Missing => Ok(Frame::Integer(0)),
        other => Err(lookup_error(&other)),
    }
}

// ------------------------------------------------------------------------------------------------
// Dump and restore.
// ------------------------------------------------------------------------------------------------

/// BF.SCANDUMP key iterator
///
/// Iterator 0 answers `[1, header]`; each later call answers `[next, chunk]` from the cursor
/// the previous call returned, and `[0, ""]` at the end.
fn bf_scandump(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let chain = match lookup(ctx, &argv[1]) {
        Lookup::Found(c) => c,
        other => return Err(lookup_error(&other)),
    };
    let iter =
        crate::resp::codec::parse_i64(&argv[2]).ok_or_else(|| CmdError::new("Second argument must be numeric"))?;
    let (next, data) = if iter == 0 {
        (1, Bytes::from(chain.encode_header()))
    } else {
        let (next, chunk) = chain.chunk(iter);
        (next, Bytes::copy_from_slice(chunk))
    };
    Ok(Frame::Array(vec![Frame::Integer(next), Frame::Bulk(data)]))
}

/// BF.LOADCHUNK key iterator data
///
/// Feeds back what BF.SCANDUMP produced: iterator 1 with the header creates the filter (the key
/// must not exist), the later chunks fill in its bits.
fn bf_loadchunk(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let iter =
        crate::resp::codec::parse_i64(&argv[2]).ok_or_else(|| CmdError::new("ERR Second argument must be numeric"))?;
    let key = &argv[1];
    let data = &argv[3];
    ctx.touch(key);
    match lookup(ctx, key) {
        Lookup::Missing if iter == 1 => {
            let chain = ScalingBloom::from_header(data).map_err(load_error)?;
            ctx.set(key.clone(), Value::Bloom(Box::new(chain)));
        }
        Lookup::Found(chain) => chain.load_chunk(iter, data).map_err(load_error)?,
        other => return Err(lookup_error(&other)),
    }
    Ok(Frame::ok())
}

// ------------------------------------------------------------------------------------------------
// Inspection.
// ------------------------------------------------------------------------------------------------

/// BF.DEBUG key [FILL]
///
/// RedisBloom's format: `size:<items>`, then one line per sub-filter, oldest first:
/// `bytes:144 bits:1152 hashes:8 hashwidth:64 capacity:100 size:3 ratio:0.005`, where `size` is
/// the items in that filter and `ratio` its error rate. `FILL` (a terrarium extension) appends
/// ` bits_set:<n> fill:<set/bits> fpr:<fill^hashes>` to each sub-filter line: how many bits are
/// set, the fraction set, and the false-positive rate that fraction gives today.
fn bf_debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let fill = match argv.get(2) {
        None => false,
        Some(a) if argv.len() == 3 && eq_ic(a, "FILL") => true,
        Some(_) => return Err(CmdError::wrong_arity("bf.debug")),
    };
    let chain = match lookup(ctx, &argv[1]) {
        Lookup::Found(c) => c,
        other => return Err(lookup_error(&other)),
    };
    let hashwidth = if chain.options & OPT_FORCE64 != 0 { 64 } else { 32 };
    let mut lines = vec![Frame::bulk(format!("size:{}", chain.size))];
    for f in &chain.filters {
        let s = &f.sizing;
        let bits = if s.bits != 0 { s.bits } else { 1u64 << s.n2 };
        let mut line = format!(
            "bytes:{} bits:{} hashes:{} hashwidth:{} capacity:{} size:{} ratio:{}",
            s.bytes,
            bits,
            s.hashes,
            hashwidth,
            s.entries,
            f.size,
            fmt_g(s.error, 6)
        );
        if fill {
            let set = f.bits_set();
            let ratio = set as f64 / bits as f64;
            let fpr = ratio.powi(s.hashes as i32);
            line.push_str(&format!(" bits_set:{set} fill:{} fpr:{}", fmt_g(ratio, 6), fmt_g(fpr, 6)));
        }
        lines.push(Frame::bulk(line));
    }
    Ok(Frame::Array(lines))
}
