//! Plain data: the only values that cross from the candidate's process to the judge.
//!
//! A [`Value`] is `None`, a `bool`, an `int` (of any size), a `float` (NaN and the
//! infinities included), a `str`, `bytes`, or a `list`, `tuple`, `dict`, `set` or
//! `frozenset` of values. This module reads them from the wire form that the harnesses
//! write and gives them Python's semantics for truth, equality, ordering, hashing and
//! `repr`, so that the judge compares them as `==` on the same objects would.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use num_bigint::BigInt;
use num_traits::{FromPrimitive, Signed, ToPrimitive, Zero};

/// Deepest nesting of a value read from the wire.
const MAX_DEPTH: usize = 120;

/// A plain Python value.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An `int`.
    Int(BigInt),
    /// A `float`.
    Float(f64),
    /// A `complex`: its real and imaginary parts.
    Complex(f64, f64),
    /// A `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<Value>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// A `set` (no two elements equal).
    Set(Vec<Value>),
    /// A `frozenset` (no two elements equal).
    FrozenSet(Vec<Value>),
}

/// A Python exception raised while judging: its type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyErr {
    /// The exception type, such as `TypeError`.
    pub kind: &'static str,
    /// The message.
    pub message: String,
}

impl PyErr {
    /// A `TypeError`.
    pub fn type_error(message: impl Into<String>) -> Self {
        Self {
            kind: "TypeError",
            message: message.into(),
        }
    }

    /// A `ValueError`.
    pub fn value_error(message: impl Into<String>) -> Self {
        Self {
            kind: "ValueError",
            message: message.into(),
        }
    }

    /// An exception of any type.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PyErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

/// A number, for arithmetic and comparison.
#[derive(Debug, Clone)]
pub(crate) enum Num {
    Int(BigInt),
    Float(f64),
}

impl Value {
    /// An `int` from a machine integer.
    pub fn int(i: i64) -> Self {
        Value::Int(BigInt::from(i))
    }

    /// Reads a value from its wire form (see `harness/candidate.py`).
    ///
    /// # Errors
    /// A description of what is malformed.
    pub fn from_wire(json: &serde_json::Value) -> Result<Self, String> {
        from_wire(json, 0)
    }

    /// A value from ordinary JSON: arrays are lists, objects dicts with `str` keys,
    /// numbers `int` or `float` (a number without a fraction or exponent is an `int`).
    pub fn from_plain_json(json: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match json {
            J::Null => Value::None,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::int(i),
                (None, Some(u)) => Value::Int(BigInt::from(u)),
                _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::List(items.iter().map(Value::from_plain_json).collect()),
            J::Object(map) => Value::Dict(
                map.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from_plain_json(v)))
                    .collect(),
            ),
        }
    }

    /// The Python type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
        }
    }

    /// Python truth.
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => !i.is_zero(),
            Value::Float(f) => *f != 0.0,
            Value::Complex(re, im) => *re != 0.0 || *im != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => !v.is_empty(),
            Value::Dict(d) => !d.is_empty(),
        }
    }

    pub(crate) fn num(&self) -> Option<Num> {
        match self {
            Value::Bool(b) => Some(Num::Int(BigInt::from(u8::from(*b)))),
            Value::Int(i) => Some(Num::Int(i.clone())),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// The items of an iterable value, as Python iterates them.
    ///
    /// # Errors
    /// `TypeError` when the value is not iterable.
    pub fn iterate(&self) -> Result<Vec<Value>, PyErr> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => Ok(v.clone()),
            Value::Dict(d) => Ok(d.iter().map(|(k, _)| k.clone()).collect()),
            Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            Value::Bytes(b) => Ok(b.iter().map(|&x| Value::int(i64::from(x))).collect()),
            other => Err(PyErr::type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            ))),
        }
    }

    /// `repr(self)`, cut after about `limit` characters with `...`.
    pub fn repr(&self, limit: usize) -> String {
        let mut out = Repr {
            text: String::new(),
            limit,
        };
        // Writing stops with Err once the limit is passed; the text so far is kept.
        let complete = out.value(self).is_ok();
        let mut text = out.text;
        if !complete {
            let mut cut = limit.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        text
    }
}

fn from_wire(json: &serde_json::Value, depth: usize) -> Result<Value, String> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err("value nested too deeply".to_owned());
    }
    let items = |v: &J| -> Result<Vec<Value>, String> {
        match v {
            J::Array(a) => a.iter().map(|x| from_wire(x, depth + 1)).collect(),
            _ => Err("expected an array".to_owned()),
        }
    };
    Ok(match json {
        J::Null => Value::None,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Int(BigInt::from(u))
            } else {
                Value::Float(n.as_f64().ok_or("a number out of range")?)
            }
        }
        J::String(s) => Value::Str(s.clone()),
        J::Array(_) => Value::List(items(json)?),
        J::Object(map) => {
            let mut entries = map.iter();
            let (Some((tag, inner)), None) = (entries.next(), entries.next()) else {
                return Err("an object with other than one key".to_owned());
            };
            match tag.as_str() {
                "int" => {
                    let digits = inner.as_str().ok_or("an int that is not a string")?;
                    Value::Int(
                        digits
                            .parse::<BigInt>()
                            .map_err(|_| format!("a malformed int {digits:.40}"))?,
                    )
                }
                "float" => match inner.as_str() {
                    Some("nan") => Value::Float(f64::NAN),
                    Some("inf") => Value::Float(f64::INFINITY),
                    Some("-inf") => Value::Float(f64::NEG_INFINITY),
                    _ => return Err("a malformed float".to_owned()),
                },
                "complex" => match inner {
                    J::Array(parts) if parts.len() == 2 => {
                        let part = |j: &J| match from_wire(j, depth + 1) {
                            Ok(Value::Float(f)) => Ok(f),
                            _ => Err("a complex part that is not a float".to_owned()),
                        };
                        Value::Complex(part(&parts[0])?, part(&parts[1])?)
                    }
                    _ => return Err("a malformed complex".to_owned()),
                },
                "bytes" => {
                    let hex = inner.as_str().ok_or("bytes that are not a string")?;
                    Value::Bytes(from_hex(hex).ok_or("malformed bytes")?)
                }
                "tuple" => Value::Tuple(items(inner)?),
                "set" => Value::Set(dedup(items(inner)?)?),
                "frozenset" => Value::FrozenSet(dedup(items(inner)?)?),
                "dict" => {
                    let J::Array(pairs) = inner else {
                        return Err("a dict that is not an array".to_owned());
                    };
                    let mut out = Vec::with_capacity(pairs.len());
                    for pair in pairs {
                        match pair {
                            J::Array(kv) if kv.len() == 2 => out.push((
                                from_wire(&kv[0], depth + 1)?,
                                from_wire(&kv[1], depth + 1)?,
                            )),
                            _ => return Err("a dict entry that is not a pair".to_owned()),
                        }
                    }
                    Value::Dict(out)
                }
                other => return Err(format!("an unknown tag {other:.20}")),
            }
        }
    })
}

pub(crate) fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn dedup(items: Vec<Value>) -> Result<Vec<Value>, String> {
    dedup_values(items).map_err(|e| e.to_string())
}

/// The items without repeats (by Python equality of hashable values), first kept.
///
/// # Errors
/// `TypeError` for an unhashable item.
pub fn dedup_values(items: Vec<Value>) -> Result<Vec<Value>, PyErr> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if seen.insert(hash_key(&item)?) {
            out.push(item);
        }
    }
    Ok(out)
}

/// What a hashable value hashes and compares as: equal keys for values Python treats as
/// the same set element or dict key (`1`, `1.0` and `True`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `None`.
    None,
    /// A number with an integral value.
    Int(BigInt),
    /// Any other number, by its bits.
    Float(u64),
    /// A NaN: never equal to another.
    NaN(u64),
    /// A complex number with a non-zero imaginary part, by its bits.
    Complex(u64, u64),
    /// A `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// A `tuple`.
    Tuple(Vec<Key>),
    /// A `frozenset`.
    FrozenSet(BTreeSet<Key>),
}

/// The key of a hashable value.
///
/// # Errors
/// `TypeError: unhashable type` for a list, dict or set.
pub fn hash_key(v: &Value) -> Result<Key, PyErr> {
    static NAN_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    Ok(match v {
        Value::None => Key::None,
        Value::Bool(b) => Key::Int(BigInt::from(u8::from(*b))),
        Value::Int(i) => Key::Int(i.clone()),
        Value::Float(f) => {
            if f.is_nan() {
                Key::NaN(NAN_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            } else if f.is_finite() && f.fract() == 0.0 {
                Key::Int(BigInt::from_f64(*f).unwrap_or_default())
            } else {
                Key::Float(f.to_bits())
            }
        }
        Value::Complex(re, im) => {
            if *im == 0.0 {
                hash_key(&Value::Float(*re))?
            } else if re.is_nan() || im.is_nan() {
                Key::NaN(NAN_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            } else {
                Key::Complex((re + 0.0).to_bits(), (im + 0.0).to_bits())
            }
        }
        Value::Str(s) => Key::Str(s.clone()),
        Value::Bytes(b) => Key::Bytes(b.clone()),
        Value::Tuple(items) => Key::Tuple(items.iter().map(hash_key).collect::<Result<_, _>>()?),
        Value::FrozenSet(items) => {
            Key::FrozenSet(items.iter().map(hash_key).collect::<Result<_, _>>()?)
        }
        Value::List(_) | Value::Dict(_) | Value::Set(_) => {
            return Err(PyErr::type_error(format!(
                "unhashable type: '{}'",
                v.type_name()
            )))
        }
    })
}

fn key_set(items: &[Value]) -> Option<BTreeSet<Key>> {
    items.iter().map(|v| hash_key(v).ok()).collect()
}

/// Python `a == b`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return num_cmp(&x, &y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::Complex(r1, i1), Value::Complex(r2, i2)) => r1 == r2 && i1 == i2,
        (Value::Complex(re, im), other) | (other, Value::Complex(re, im)) => {
            *im == 0.0 && other.num().is_some() && py_eq(&Value::Float(*re), other)
        }
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            x.len() == y.len()
                && match (key_set(x), key_set(y)) {
                    (Some(kx), Some(ky)) => kx == ky,
                    _ => false,
                }
        }
        (Value::Dict(x), Value::Dict(y)) => x.len() == y.len() && dict_eq(x, y),
        _ => false,
    }
}

fn dict_eq(x: &[(Value, Value)], y: &[(Value, Value)]) -> bool {
    let mut index = std::collections::HashMap::with_capacity(y.len());
    for (k, v) in y {
        match hash_key(k) {
            Ok(key) => {
                index.insert(key, v);
            }
            Err(_) => return false,
        }
    }
    x.iter().all(|(k, v)| match hash_key(k) {
        Ok(key) => index.get(&key).is_some_and(|w| py_eq(v, w)),
        Err(_) => false,
    })
}

/// Compares two numbers exactly, as Python does (`None` when a NaN is involved).
pub(crate) fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
        (Num::Int(x), Num::Float(y)) => int_float_cmp(x, *y),
        (Num::Float(x), Num::Int(y)) => int_float_cmp(y, *x).map(Ordering::reverse),
    }
}

fn int_float_cmp(i: &BigInt, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let floor = f.floor();
    let whole = BigInt::from_f64(floor)?;
    Some(match i.cmp(&whole) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    })
}

/// A rich comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as Python writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// Python `a OP b` for a rich comparison.
///
/// # Errors
/// `TypeError` when the values cannot be ordered.
#[allow(clippy::many_single_char_names)]
pub fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, PyErr> {
    match op {
        CmpOp::Eq => return Ok(py_eq(a, b)),
        CmpOp::Ne => return Ok(!py_eq(a, b)),
        _ => {}
    }
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return Ok(num_cmp(&x, &y).is_some_and(|o| op.holds(o)));
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(op.holds(x.cmp(y))),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(op.holds(x.cmp(y))),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            match x.iter().zip(y).position(|(p, q)| !py_eq(p, q)) {
                Some(i) => compare(op, &x[i], &y[i]),
                None => Ok(op.holds(x.len().cmp(&y.len()))),
            }
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            let (Some(kx), Some(ky)) = (key_set(x), key_set(y)) else {
                return Ok(false);
            };
            Ok(match op {
                CmpOp::Lt => kx.len() < ky.len() && kx.is_subset(&ky),
                CmpOp::Le => kx.is_subset(&ky),
                CmpOp::Gt => kx.len() > ky.len() && kx.is_superset(&ky),
                CmpOp::Ge => kx.is_superset(&ky),
                CmpOp::Eq => kx == ky,
                CmpOp::Ne => kx != ky,
            })
        }
        _ => Err(PyErr::type_error(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            op.symbol(),
            a.type_name(),
            b.type_name()
        ))),
    }
}

/// Python `item in container`.
///
/// # Errors
/// `TypeError` when the container does not support `in`, or needs a hashable item.
pub fn contains(container: &Value, item: &Value) -> Result<bool, PyErr> {
    match container {
        Value::List(v) | Value::Tuple(v) => Ok(v.iter().any(|x| py_eq(x, item))),
        Value::Set(v) | Value::FrozenSet(v) => {
            let key = hash_key(item)?;
            Ok(v.iter().any(|x| hash_key(x).is_ok_and(|k| k == key)))
        }
        Value::Dict(d) => {
            let key = hash_key(item)?;
            Ok(d.iter().any(|(k, _)| hash_key(k).is_ok_and(|kk| kk == key)))
        }
        Value::Str(s) => match item {
            Value::Str(needle) => Ok(s.contains(needle.as_str())),
            other => Err(PyErr::type_error(format!(
                "'in <string>' requires string as left operand, not {}",
                other.type_name()
            ))),
        },
        Value::Bytes(b) => match item {
            Value::Bytes(needle) => {
                Ok(needle.is_empty() || b.windows(needle.len()).any(|w| w == needle.as_slice()))
            }
            Value::Int(i) => Ok(i.to_u8().is_some_and(|x| b.contains(&x))),
            other => Err(PyErr::type_error(format!(
                "a bytes-like object is required, not '{}'",
                other.type_name()
            ))),
        },
        other => Err(PyErr::type_error(format!(
            "argument of type '{}' is not iterable",
            other.type_name()
        ))),
    }
}

/// Python's `repr` of a float.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Rust's shortest round-trip digits, re-laid out the way Python's repr does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            let zeros = usize::try_from(-point).unwrap_or(0);
            format!("0.{}{digits}", "0".repeat(zeros))
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

/// Python's `repr` of a complex number.
pub fn complex_repr(re: f64, im: f64) -> String {
    let part = |f: f64| {
        let r = float_repr(f);
        r.strip_suffix(".0").map_or(r.clone(), str::to_owned)
    };
    let imag = format!("{}j", part(im));
    if re == 0.0 && re.is_sign_positive() {
        imag
    } else {
        let sign = if im.is_sign_negative() || im.is_nan() && im.is_sign_negative() {
            ""
        } else {
            "+"
        };
        format!("({}{sign}{imag})", part(re))
    }
}

/// Python's `repr` of a str (close enough for messages).
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || u32::from(c) == 0x7f => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let code = u32::from(c);
                if code <= 0xff {
                    let _ = write!(out, "\\x{code:02x}");
                } else if code <= 0xffff {
                    let _ = write!(out, "\\u{code:04x}");
                } else {
                    let _ = write!(out, "\\U{code:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(char::from(quote));
    for &x in b {
        match x {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            x if x == quote => {
                out.push('\\');
                out.push(char::from(x));
            }
            0x20..=0x7e => out.push(char::from(x)),
            x => {
                let _ = write!(out, "\\x{x:02x}");
            }
        }
    }
    out.push(char::from(quote));
    out
}

struct Repr {
    text: String,
    limit: usize,
}

/// Marks that the repr passed its limit.
struct Full;

impl Repr {
    fn push(&mut self, s: &str) -> Result<(), Full> {
        self.text.push_str(s);
        if self.text.len() > self.limit {
            Err(Full)
        } else {
            Ok(())
        }
    }

    fn items<'a>(
        &mut self,
        open: &str,
        close: &str,
        items: impl Iterator<Item = &'a Value>,
        one_tuple: bool,
    ) -> Result<(), Full> {
        self.push(open)?;
        let mut count = 0;
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.push(", ")?;
            }
            self.value(item)?;
            count += 1;
        }
        if one_tuple && count == 1 {
            self.push(",")?;
        }
        self.push(close)
    }

    fn value(&mut self, v: &Value) -> Result<(), Full> {
        match v {
            Value::None => self.push("None"),
            Value::Bool(true) => self.push("True"),
            Value::Bool(false) => self.push("False"),
            Value::Int(i) => {
                if i.bits() > 20_000 {
                    let sign = if i.is_negative() { "-" } else { "" };
                    self.push(&format!("{sign}<an int of {} bits>", i.bits()))
                } else {
                    self.push(&i.to_string())
                }
            }
            Value::Float(f) => self.push(&float_repr(*f)),
            Value::Complex(re, im) => self.push(&complex_repr(*re, *im)),
            Value::Str(s) => {
                let cut: String = s.chars().take(self.limit + 1).collect();
                self.push(&str_repr(&cut))
            }
            Value::Bytes(b) => {
                let cut = &b[..b.len().min(self.limit + 1)];
                self.push(&bytes_repr(cut))
            }
            Value::List(items) => self.items("[", "]", items.iter(), false),
            Value::Tuple(items) => self.items("(", ")", items.iter(), true),
            Value::Set(items) if items.is_empty() => self.push("set()"),
            Value::Set(items) => self.items("{", "}", items.iter(), false),
            Value::FrozenSet(items) if items.is_empty() => self.push("frozenset()"),
            Value::FrozenSet(items) => self.items("frozenset({", "})", items.iter(), false),
            Value::Dict(pairs) => {
                self.push("{")?;
                for (i, (k, x)) in pairs.iter().enumerate() {
                    if i > 0 {
                        self.push(", ")?;
                    }
                    self.value(k)?;
                    self.push(": ")?;
                    self.value(x)?;
                }
                self.push("}")
            }
        }
    }
}

/// The float value of a number, as Python's `float()` gives it.
///
/// # Errors
/// `OverflowError` for an int too large for a float.
pub(crate) fn to_f64(n: &Num) -> Result<f64, PyErr> {
    match n {
        Num::Float(f) => Ok(*f),
        Num::Int(i) => i
            .to_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| PyErr::new("OverflowError", "int too large to convert to float")),
    }
}

/// Writes a plain value as Python source that evaluates to it.
pub fn py_literal(v: &Value) -> String {
    let mut out = String::new();
    literal_into(v, &mut out);
    out
}

fn literal_into(v: &Value, out: &mut String) {
    let seq = |open: &str, close: &str, items: &[Value], out: &mut String| {
        out.push_str(open);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            literal_into(item, out);
        }
        out.push_str(close);
    };
    match v {
        Value::Float(f) if f.is_nan() => out.push_str("float('nan')"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        }),
        Value::Complex(re, im) => {
            out.push_str("complex(");
            literal_into(&Value::Float(*re), out);
            out.push_str(", ");
            literal_into(&Value::Float(*im), out);
            out.push(')');
        }
        Value::Str(s) => out.push_str(&str_literal(s)),
        Value::List(items) => seq("[", "]", items, out),
        Value::Tuple(items) if items.len() == 1 => seq("(", ",)", items, out),
        Value::Tuple(items) => seq("(", ")", items, out),
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => seq("{", "}", items, out),
        Value::FrozenSet(items) => seq("frozenset([", "])", items, out),
        Value::Dict(pairs) => {
            out.push('{');
            for (i, (k, x)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                literal_into(k, out);
                out.push_str(": ");
                literal_into(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.repr(usize::MAX / 2)),
    }
}

/// A Python string literal for `s`, escaping everything that is not printable ASCII.
pub fn str_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> Value {
        Value::from_wire(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn numbers_compare_across_types_as_python_does() {
        assert!(py_eq(&wire("1"), &wire("1.0")));
        assert!(py_eq(&wire("true"), &wire("1")));
        assert!(!py_eq(
            &wire(r#"{"float":"nan"}"#),
            &wire(r#"{"float":"nan"}"#)
        ));
        let big = wire(r#"{"int":"9007199254740993"}"#);
        assert!(!py_eq(&big, &Value::Float(9_007_199_254_740_992.0)));
        assert!(compare(CmpOp::Gt, &big, &Value::Float(9_007_199_254_740_992.0)).unwrap());
        assert!(compare(CmpOp::Lt, &Value::int(2), &Value::Float(2.5)).unwrap());
        assert!(!compare(CmpOp::Lt, &Value::int(3), &Value::Float(2.5)).unwrap());
        assert!(compare(CmpOp::Lt, &Value::int(1), &Value::Str("a".into())).is_err());
    }

    #[test]
    fn containers_follow_python_equality() {
        assert!(!py_eq(&wire("[1, 2]"), &wire(r#"{"tuple":[1,2]}"#)));
        assert!(py_eq(
            &wire(r#"{"set":[1,2]}"#),
            &wire(r#"{"frozenset":[2,1.0]}"#)
        ));
        assert!(py_eq(
            &wire(r#"{"dict":[[1,"a"],["b",[2]]]}"#),
            &wire(r#"{"dict":[["b",[2.0]],[true,"a"]]}"#)
        ));
        assert!(compare(CmpOp::Lt, &wire("[1, 2]"), &wire("[1, 3]")).unwrap());
        assert!(compare(CmpOp::Lt, &wire("[1, 2]"), &wire("[1, 2, 0]")).unwrap());
        assert!(contains(&wire(r#"{"set":[1,2]}"#), &Value::Float(2.0)).unwrap());
        assert!(contains(&wire("[[1]]"), &wire("[1]")).unwrap());
    }

    #[test]
    fn reprs_match_python() {
        for (f, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.5e-7, "-1.5e-07"),
            (123.456, "123.456"),
            (2.5e300, "2.5e+300"),
        ] {
            assert_eq!(float_repr(f), text);
        }
        assert_eq!(wire(r#"{"tuple":[1]}"#).repr(100), "(1,)");
        assert_eq!(
            wire(r#"{"complex":[-2.0,2.4492935982947064e-16]}"#).repr(100),
            "(-2+2.4492935982947064e-16j)"
        );
        assert_eq!(Value::Complex(0.0, 1.0).repr(100), "1j");
        assert!(py_eq(&Value::Complex(2.0, 0.0), &Value::int(2)));
        assert_eq!(wire(r#"["it's", "a"]"#).repr(100), "[\"it's\", 'a']");
        assert_eq!(wire(r#"{"bytes":"00ff41"}"#).repr(100), "b'\\x00\\xffA'");
        assert_eq!(wire("[1, 2, 3, 4, 5, 6]").repr(8), "[1, 2, 3...");
        assert_eq!(
            py_literal(&wire(r#"{"tuple":[{"float":"inf"}, "é"]}"#)),
            "(float('inf'), '\\U000000e9')"
        );
    }

    #[test]
    fn malformed_wire_values_are_errors() {
        for text in [
            r#"{"a":1,"b":2}"#,
            r#"{"int":"x"}"#,
            r#"{"bytes":"0"}"#,
            r#"{"set":[[1]]}"#,
        ] {
            assert!(
                Value::from_wire(&serde_json::from_str(text).unwrap()).is_err(),
                "{text}"
            );
        }
    }
}
