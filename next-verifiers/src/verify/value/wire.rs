//! Reading values from the wire form the harnesses write, and from ordinary JSON.

use std::collections::HashSet;

use super::compare::hash_key;
use super::data::{PyErr, Value};
use num_bigint::BigInt;

/// Deepest nesting of a value read from the wire.
const MAX_DEPTH: usize = 120;

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
