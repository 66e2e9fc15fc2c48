//! Reading values from the wire form the harnesses write, and from ordinary JSON.

use std::collections::{BTreeSet, HashSet};

use super::compare::{hash_key, Key};
use super::data::{PyErr, Value};
use num_bigint::BigInt;

/// Deepest nesting of a value read from the wire, in values (a JSON parser bounds the
/// nesting of the text, in brackets, while it reads it: see `protocol.rs`).
const MAX_DEPTH: usize = 120;

/// The most decimal digits of an `int` read from the wire: that of `2**65536`, the
/// largest magnitude the candidate harness writes (`harness/candidate.py` reports a
/// larger `int` as too big). Converting decimal digits to a binary integer costs time
/// quadratic in their number, so a longer string is refused before any conversion: it
/// was not written by the harness. (CPython's own guard, `sys.int_max_str_digits`, is
/// 4300 by default; the harness lifts it so that a program's large `int`, as a
/// factorial or a Fibonacci number, is judged like any other value. Converting 19,729
/// digits takes about a millisecond in a debug build; 400,000 digits took 0.4 s, and
/// the time grows with the square of the count.)
pub(crate) const MAX_INT_DIGITS: usize = 19_729;

impl Value {
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
}

fn from_wire(json: &serde_json::Value, depth: usize) -> Result<Value, String> {
    read(json, depth, false).map(|(value, _)| value)
}

fn array(v: &serde_json::Value) -> Result<&Vec<serde_json::Value>, String> {
    match v {
        serde_json::Value::Array(a) => Ok(a),
        _ => Err("expected an array".to_owned()),
    }
}

/// A value read from the wire and, when `keyed` (it is an element of a set), its
/// [`Key`], or `None` for a value that is unhashable. The keys are built bottom-up,
/// once: deduplicating each level of nested sets by keys computed afresh would cost the
/// depth times the size.
fn read(
    json: &serde_json::Value, depth: usize, keyed: bool,
) -> Result<(Value, Option<Key>), String> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err("value nested too deeply".to_owned());
    }
    let items = |v: &J, keyed: bool| read_items(v, depth, keyed);
    let scalar = |value: Value| -> (Value, Option<Key>) {
        let key = if keyed { hash_key(&value).ok() } else { None };
        (value, key)
    };
    Ok(match json {
        J::Null => scalar(Value::None),
        J::Bool(b) => scalar(Value::Bool(*b)),
        J::Number(n) => scalar(if let Some(i) = n.as_i64() {
            Value::int(i)
        } else if let Some(u) = n.as_u64() {
            Value::Int(BigInt::from(u))
        } else {
            Value::Float(n.as_f64().ok_or("a number out of range")?)
        }),
        J::String(s) => scalar(Value::Str(s.clone())),
        J::Array(_) => (Value::List(items(json, false)?.0), None),
        J::Object(map) => {
            let mut entries = map.iter();
            let (Some((tag, inner)), None) = (entries.next(), entries.next()) else {
                return Err("an object with other than one key".to_owned());
            };
            read_tagged(tag, inner, depth, keyed)?
        }
    })
}

/// The items of an array, one level below `depth`, with their keys when `keyed` and
/// every item has one.
fn read_items(
    v: &serde_json::Value, depth: usize, keyed: bool,
) -> Result<(Vec<Value>, Option<Vec<Key>>), String> {
    let mut values = Vec::new();
    let mut keys = keyed.then(Vec::new);
    for item in array(v)? {
        let (value, key) = read(item, depth + 1, keyed)?;
        values.push(value);
        keys = match (keys, key) {
            (Some(mut keys), Some(key)) => {
                keys.push(key);
                Some(keys)
            }
            _ => None,
        };
    }
    Ok((values, keys))
}

/// A value written as `{tag: inner}` (see [`read`]).
fn read_tagged(
    tag: &str, inner: &serde_json::Value, depth: usize, keyed: bool,
) -> Result<(Value, Option<Key>), String> {
    use serde_json::Value as J;
    let items = |v: &J, keyed: bool| read_items(v, depth, keyed);
    // The elements of a set, without repeats, and the set of their keys.
    let set = |v: &J| -> Result<(Vec<Value>, BTreeSet<Key>), String> {
        let mut values = Vec::new();
        let mut seen = BTreeSet::new();
        for item in array(v)? {
            let (value, key) = read(item, depth + 1, true)?;
            let key = key.map_or_else(|| hash_key(&value).map_err(|e| e.to_string()), Ok)?;
            if seen.insert(key) {
                values.push(value);
            }
        }
        Ok((values, seen))
    };
    let scalar = |value: Value| -> (Value, Option<Key>) {
        let key = if keyed { hash_key(&value).ok() } else { None };
        (value, key)
    };
    Ok(match tag {
        "int" => {
            let digits = inner.as_str().ok_or("an int that is not a string")?;
            let magnitude = digits.strip_prefix('-').unwrap_or(digits);
            if magnitude.len() > MAX_INT_DIGITS {
                return Err(format!(
                    "an int of more than {MAX_INT_DIGITS} digits ({} characters)",
                    digits.len()
                ));
            }
            scalar(Value::Int(
                digits
                    .parse::<BigInt>()
                    .map_err(|_| format!("a malformed int {digits:.40}"))?,
            ))
        }
        "float" => scalar(match inner.as_str() {
            Some("nan") => Value::Float(f64::NAN),
            Some("inf") => Value::Float(f64::INFINITY),
            Some("-inf") => Value::Float(f64::NEG_INFINITY),
            _ => return Err("a malformed float".to_owned()),
        }),
        "complex" => match inner {
            J::Array(parts) if parts.len() == 2 => {
                let part = |j: &J| match read(j, depth + 1, false) {
                    Ok((Value::Float(f), _)) => Ok(f),
                    _ => Err("a complex part that is not a float".to_owned()),
                };
                scalar(Value::Complex(part(&parts[0])?, part(&parts[1])?))
            }
            _ => return Err("a malformed complex".to_owned()),
        },
        "bytes" => {
            let hex = inner.as_str().ok_or("bytes that are not a string")?;
            scalar(Value::Bytes(from_hex(hex).ok_or("malformed bytes")?))
        }
        "tuple" => {
            let (values, keys) = items(inner, keyed)?;
            (Value::Tuple(values), keys.map(Key::Tuple))
        }
        "set" => (Value::Set(set(inner)?.0), None),
        "frozenset" => {
            let (values, keys) = set(inner)?;
            (
                Value::FrozenSet(values),
                keyed.then_some(Key::FrozenSet(keys)),
            )
        }
        "dict" => {
            let mut out = Vec::new();
            for pair in array(inner).map_err(|_| "a dict that is not an array".to_owned())? {
                match pair {
                    J::Array(kv) if kv.len() == 2 => out.push((
                        read(&kv[0], depth + 1, false)?.0,
                        read(&kv[1], depth + 1, false)?.0,
                    )),
                    _ => return Err("a dict entry that is not a pair".to_owned()),
                }
            }
            (Value::Dict(out), None)
        }
        other => return Err(format!("an unknown tag {other:.20}")),
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
