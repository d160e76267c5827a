//! `json` and `jsonb`: a parser that reports errors with PostgreSQL's DETAIL texts, and the
//! printer for jsonb's normalised form.
//!
//! `json` keeps the text it was given (checked by this parser); `jsonb` keeps the normalised text
//! PostgreSQL prints for it (`{"a": 1, "b": [true, null]}`: one space after each `:` and `,`;
//! object keys sorted by length and then bytewise, a repeated key keeping its last value; numbers
//! as `numeric` prints them, so `1e2` is `100` and `2.50` stays `2.50`; `\u` escapes decoded).
//! Values compare in PostgreSQL's jsonb order (see [`compare`]).

use std::cmp::Ordering;

use super::InputError;

/// How deeply arrays and objects may nest. PostgreSQL's limit is its stack (`max_stack_depth`,
/// 2 MB: some thousands of levels); a fixed count keeps the recursion below (parsing, printing,
/// comparing) well inside a 2 MB thread stack even in a debug build.
pub const JSON_NESTING_DEPTH_MAX: usize = 256;

/// A parsed JSON value and the byte range of the input it was read from (for `json`, whose
/// operators hand back the text as written).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: (usize, usize),
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// As written for `json`, as `numeric` prints it once normalised for `jsonb`.
    Number(String),
    /// The string's value, escapes decoded.
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    pub fn new(kind: Kind) -> Node {
        Node { span: (0, 0), kind }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Punct(u8),
    String(String),
    Number(String),
    True,
    False,
    Null,
    End,
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    /// jsonb decodes `\u` escapes and so cannot hold `\u0000`; json keeps its text and may.
    jsonb: bool,
}

fn syntax(detail: String) -> InputError {
    InputError::new("22P02", "invalid input syntax for type json").detail(detail)
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        let b = self.src.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    /// The text of a token that starts at `start` and runs to the end of its alphanumeric run,
    /// as PostgreSQL quotes an invalid token.
    fn invalid_from(&self, start: usize, at: usize) -> InputError {
        let b = self.src.as_bytes();
        let mut end = at.max(start + 1).min(b.len());
        while end < b.len() && is_alnum(b[end]) {
            end += 1;
        }
        while !self.src.is_char_boundary(end) {
            end += 1;
        }
        syntax(format!("Token \"{}\" is invalid.", &self.src[start..end]))
    }

    /// The next token and where it started.
    fn next(&mut self) -> Result<(Token, usize), InputError> {
        self.skip_ws();
        let b = self.src.as_bytes();
        let start = self.pos;
        let Some(&c) = b.get(start) else { return Ok((Token::End, start)) };
        match c {
            b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                self.pos += 1;
                Ok((Token::Punct(c), start))
            }
            b'"' => self.string().map(|s| (Token::String(s), start)),
            b'-' | b'0'..=b'9' => {
                let mut p = start + usize::from(c == b'-');
                let digits = |p: &mut usize| {
                    let s = *p;
                    while *p < b.len() && b[*p].is_ascii_digit() {
                        *p += 1;
                    }
                    *p > s
                };
                let mut ok = if b.get(p) == Some(&b'0') {
                    p += 1;
                    true
                } else {
                    digits(&mut p)
                };
                if ok && b.get(p) == Some(&b'.') {
                    p += 1;
                    ok = digits(&mut p);
                }
                if ok && matches!(b.get(p), Some(b'e' | b'E')) {
                    p += 1;
                    if matches!(b.get(p), Some(b'+' | b'-')) {
                        p += 1;
                    }
                    ok = digits(&mut p);
                }
                if !ok || (p < b.len() && is_alnum(b[p])) {
                    return Err(self.invalid_from(start, p));
                }
                self.pos = p;
                Ok((Token::Number(self.src[start..p].to_string()), start))
            }
            _ => {
                let mut p = start;
                while p < b.len() && is_alnum(b[p]) {
                    p += 1;
                }
                if p == start {
                    return Err(self.invalid_from(start, start + 1));
                }
                self.pos = p;
                match &self.src[start..p] {
                    "true" => Ok((Token::True, start)),
                    "false" => Ok((Token::False, start)),
                    "null" => Ok((Token::Null, start)),
                    word => Err(syntax(format!("Token \"{word}\" is invalid."))),
                }
            }
        }
    }

    /// A string token from its opening quote: its decoded value.
    fn string(&mut self) -> Result<String, InputError> {
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut p = start + 1;
        let mut out = String::new();
        let mut high: Option<u32> = None;
        loop {
            let Some(&c) = b.get(p) else {
                return Err(syntax(format!("Token \"{}\" is invalid.", &self.src[start..])));
            };
            if high.is_some() && c != b'\\' {
                return Err(syntax("Unicode low surrogate must follow a high surrogate.".into()));
            }
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = b.get(p + 1) else {
                        return Err(syntax(format!("Token \"{}\" is invalid.", &self.src[start..])));
                    };
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e as char),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = self.src.get(p + 2..p + 6).filter(|h| h.bytes().all(|x| x.is_ascii_hexdigit()));
                            let Some(hex) = hex else {
                                return Err(syntax("\"\\u\" must be followed by four hexadecimal digits.".into()));
                            };
                            let code = u32::from_str_radix(hex, 16).expect("four hex digits");
                            p += 4;
                            match (code, high.take()) {
                                (0xD800..=0xDBFF, None) => high = Some(code),
                                (0xD800..=0xDBFF, Some(_)) => {
                                    return Err(syntax(
                                        "Unicode high surrogate must not follow a high surrogate.".into(),
                                    ))
                                }
                                (0xDC00..=0xDFFF, Some(h)) => {
                                    let cp = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                                    out.push(char::from_u32(cp).expect("a valid surrogate pair"));
                                }
                                (0xDC00..=0xDFFF, None) | (_, Some(_)) => {
                                    return Err(syntax("Unicode low surrogate must follow a high surrogate.".into()))
                                }
                                (0, None) if self.jsonb => {
                                    return Err(InputError::new("22P05", "unsupported Unicode escape sequence")
                                        .detail("\\u0000 cannot be converted to text."))
                                }
                                (c, None) => out.push(char::from_u32(c).unwrap_or('\u{fffd}')),
                            }
                        }
                        _ => {
                            let mut end = p + 2;
                            while !self.src.is_char_boundary(end) {
                                end += 1;
                            }
                            return Err(syntax(format!("Escape sequence \"{}\" is invalid.", &self.src[p..end])));
                        }
                    }
                    p += 2;
                }
                c if c < 0x20 => {
                    return Err(syntax(format!("Character with value 0x{c:02x} must be escaped.")));
                }
                _ => {
                    let ch = self.src[p..].chars().next().expect("inside the string");
                    out.push(ch);
                    p += ch.len_utf8();
                }
            }
        }
        if high.is_some() {
            return Err(syntax("Unicode low surrogate must follow a high surrogate.".into()));
        }
        self.pos = p + 1;
        Ok(out)
    }

    fn found(&self, t: &Token, at: usize) -> String {
        match t {
            Token::End => String::new(),
            _ => self.src[at..self.pos].to_string(),
        }
    }

    fn unexpected(&self, t: &Token, at: usize, expected: &str) -> InputError {
        match t {
            Token::End => syntax("The input string ended unexpectedly.".into()),
            _ => syntax(format!("Expected {expected}, but found \"{}\".", self.found(t, at))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, InputError> {
        let (t, at) = self.next()?;
        self.value_from(t, at, depth)
    }

    fn value_from(&mut self, t: Token, at: usize, depth: usize) -> Result<Node, InputError> {
        if depth > JSON_NESTING_DEPTH_MAX {
            return Err(InputError::new("54001", "stack depth limit exceeded"));
        }
        let kind = match t {
            Token::Null => Kind::Null,
            Token::True => Kind::Bool(true),
            Token::False => Kind::Bool(false),
            Token::Number(n) => Kind::Number(n),
            Token::String(s) => Kind::String(s),
            Token::Punct(b'[') => {
                let mut items = Vec::new();
                let (mut t, mut tat) = self.next()?;
                if t != Token::Punct(b']') {
                    loop {
                        items.push(self.value_from(t, tat, depth + 1)?);
                        let (sep, sat) = self.next()?;
                        match sep {
                            Token::Punct(b',') => (t, tat) = self.next()?,
                            Token::Punct(b']') => break,
                            other => return Err(self.unexpected(&other, sat, "\",\" or \"]\"")),
                        }
                    }
                }
                Kind::Array(items)
            }
            Token::Punct(b'{') => {
                let mut pairs = Vec::new();
                let (mut t, mut tat) = self.next()?;
                let mut first = true;
                if t != Token::Punct(b'}') {
                    loop {
                        let Token::String(key) = t else {
                            let want = if first { "string or \"}\"" } else { "string" };
                            return Err(self.unexpected(&t, tat, want));
                        };
                        first = false;
                        let (colon, cat) = self.next()?;
                        if colon != Token::Punct(b':') {
                            return Err(self.unexpected(&colon, cat, "\":\""));
                        }
                        pairs.push((key, self.value(depth + 1)?));
                        let (sep, sat) = self.next()?;
                        match sep {
                            Token::Punct(b',') => (t, tat) = self.next()?,
                            Token::Punct(b'}') => break,
                            other => return Err(self.unexpected(&other, sat, "\",\" or \"}\"")),
                        }
                    }
                }
                Kind::Object(pairs)
            }
            other => return Err(self.unexpected(&other, at, "JSON value")),
        };
        Ok(Node { span: (at, self.pos), kind })
    }
}

/// Reads a whole JSON text; `jsonb` refuses `\u0000` (22P05) as jsonb does.
pub fn parse(text: &str, jsonb: bool) -> Result<Node, InputError> {
    let mut p = Parser { src: text, pos: 0, jsonb };
    let v = p.value(0)?;
    let (t, at) = p.next()?;
    if t != Token::End {
        return Err(p.unexpected(&t, at, "end of input"));
    }
    Ok(v)
}

/// jsonb's normal form of a parsed value: keys sorted (length, then bytes), the last of a
/// repeated key kept, numbers in numeric's canonical text.
pub fn normalize(n: Node) -> Node {
    let kind = match n.kind {
        Kind::Number(s) => Kind::Number(super::numeric_in(&s).unwrap_or(s)),
        Kind::Array(items) => Kind::Array(items.into_iter().map(normalize).collect()),
        Kind::Object(pairs) => {
            let mut out: Vec<(String, Node)> = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let v = normalize(v);
                match out.iter_mut().find(|(x, _)| *x == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            out.sort_by(|a, b| key_order(&a.0, &b.0));
            Kind::Object(out)
        }
        k => k,
    };
    Node { span: n.span, kind }
}

fn key_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// `jsonb_in` then `jsonb_out`: the normalised text of a JSON input.
pub fn jsonb_in(text: &str) -> Result<String, InputError> {
    Ok(to_text(&normalize(parse(text, true)?)))
}

/// `json_in`: the text itself once it has been checked.
pub fn json_in(text: &str) -> Result<String, InputError> {
    parse(text, false).map(|_| text.to_string())
}

/// A string as JSON writes it (PostgreSQL's `escape_json`).
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// jsonb's output form of a (normalised) value.
pub fn to_text(n: &Node) -> String {
    let mut out = String::new();
    write(n, &mut out);
    out
}

fn write(n: &Node, out: &mut String) {
    match &n.kind {
        Kind::Null => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Number(s) => out.push_str(s),
        Kind::String(s) => quote(s, out),
        Kind::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(v, out);
            }
            out.push(']');
        }
        Kind::Object(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                quote(k, out);
                out.push_str(": ");
                write(v, out);
            }
            out.push('}');
        }
    }
}

/// `->`: an object's member or an array's element (negative indexes count from the end).
pub fn get<'a>(n: &'a Node, key: &Selector) -> Option<&'a Node> {
    match (&n.kind, key) {
        // The last of a repeated key, as jsonb keeps it.
        (Kind::Object(pairs), Selector::Key(k)) => pairs.iter().rev().find(|(x, _)| x == k).map(|(_, v)| v),
        (Kind::Array(items), Selector::Index(i)) => {
            let i = if *i < 0 { items.len() as i64 + i } else { *i };
            usize::try_from(i).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

/// jsonb's `->`: as [`get`], except that a scalar is, as jsonb stores it, an array of one, so
/// element 0 (or -1) of `'1'` is `1`.
pub fn get_jsonb<'a>(n: &'a Node, key: &Selector) -> Option<&'a Node> {
    match (&n.kind, key) {
        (Kind::Array(_) | Kind::Object(_), _) => get(n, key),
        (_, Selector::Index(0 | -1)) => Some(n),
        _ => None,
    }
}

/// What `->` / `->>` select with: a key (text) or an index (integer).
pub enum Selector {
    Key(String),
    Index(i64),
}

/// PostgreSQL's jsonb ordering: across kinds null < string < number < boolean < array < object
/// (a top-level scalar sorting below any array); arrays and objects with more elements or pairs
/// sort after those with fewer, then element by element (objects: key, then value, in key order).
pub fn compare(a: &Node, b: &Node) -> Ordering {
    let rank = |k: &Kind| match k {
        Kind::Null => 0,
        Kind::String(_) => 1,
        Kind::Number(_) => 2,
        Kind::Bool(_) => 3,
        Kind::Array(_) => 4,
        Kind::Object(_) => 5,
    };
    match (&a.kind, &b.kind) {
        (Kind::String(x), Kind::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Kind::Number(x), Kind::Number(y)) => compare_numbers(x, y),
        (Kind::Bool(x), Kind::Bool(y)) => x.cmp(y),
        (Kind::Array(x), Kind::Array(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| x.iter().zip(y).map(|(p, q)| compare(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)),
        (Kind::Object(x), Kind::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((k1, v1), (k2, v2))| key_order(k1, k2).then_with(|| compare(v1, v2)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        (x, y) => rank(x).cmp(&rank(y)),
    }
}

/// Two numbers in numeric's canonical text, compared by value (`1.0` equals `1`).
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> (bool, String, String) {
        let (neg, body) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0').to_string();
        let frac = frac.trim_end_matches('0').to_string();
        let zero = int.is_empty() && frac.is_empty();
        (neg && !zero, int, frac)
    };
    let ((na, ia, fa), (nb, ib, fb)) = (split(a), split(b));
    let magnitude = ia.len().cmp(&ib.len()).then_with(|| ia.cmp(&ib)).then_with(|| fa.cmp(&fb));
    match (na, nb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_prints_its_normal_form() {
        for (input, out) in [
            (
                r#"{"b": 2, "a": 1, "aa": [1, 2.50, 1e2, -0, true, null], "a": 3}"#,
                r#"{"a": 3, "b": 2, "aa": [1, 2.50, 100, 0, true, null]}"#,
            ),
            (r#""x\n\u00e9""#, r#""x\né""#),
            ("  1.0  ", "1.0"),
            ("{}", "{}"),
            ("[]", "[]"),
            (r#"{"a":{"c":1,"b":[]}}"#, r#"{"a": {"b": [], "c": 1}}"#),
            (r#""\ud83d\ude00 \/ \u0001""#, "\"😀 / \\u0001\""),
        ] {
            assert_eq!(jsonb_in(input).unwrap(), out, "{input}");
        }
    }

    #[test]
    fn errors_carry_postgres_details() {
        for (input, detail) in [
            (r#"{"a" 1}"#, r#"Expected ":", but found "1"."#),
            (r#"{"a": 1"#, "The input string ended unexpectedly."),
            ("x", r#"Token "x" is invalid."#),
            ("[1,2", "The input string ended unexpectedly."),
            ("{1:2}", r#"Expected string or "}", but found "1"."#),
            ("1 2", r#"Expected end of input, but found "2"."#),
            (r#""\q""#, r#"Escape sequence "\q" is invalid."#),
            ("[1,]", r#"Expected JSON value, but found "]"."#),
            ("nul", r#"Token "nul" is invalid."#),
            ("1x", r#"Token "1x" is invalid."#),
            ("-", r#"Token "-" is invalid."#),
            ("", "The input string ended unexpectedly."),
        ] {
            let e = jsonb_in(input).unwrap_err();
            assert_eq!((e.code, e.message.as_str()), ("22P02", "invalid input syntax for type json"), "{input}");
            assert_eq!(e.detail.as_deref(), Some(detail), "{input}");
        }
        assert_eq!(jsonb_in(r#""\u0000""#).unwrap_err().code, "22P05");
        assert_eq!(json_in(r#"{"a": 1,  "a": 2}"#).unwrap(), r#"{"a": 1,  "a": 2}"#);
        let deep = "[".repeat(JSON_NESTING_DEPTH_MAX + 2);
        assert_eq!(jsonb_in(&deep).unwrap_err().code, "54001");
    }

    #[test]
    fn jsonb_compares_by_value() {
        let v = |s: &str| normalize(parse(s, true).unwrap());
        assert_eq!(compare(&v(r#"{"a":1.0}"#), &v(r#"{"a":1}"#)), Ordering::Equal);
        assert_eq!(compare(&v("[1, 2]"), &v("[3]")), Ordering::Greater);
        assert_eq!(compare(&v("-2"), &v("1")), Ordering::Less);
        assert_eq!(compare(&v("10"), &v("9.5")), Ordering::Greater);
        assert_eq!(compare(&v("null"), &v(r#""a""#)), Ordering::Less);
        assert_eq!(compare(&v("{}"), &v("[1, 2, 3]")), Ordering::Greater);
    }
}
