//! Python's hashing, equality, ordering and membership on plain values.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::data::{Num, PyErr, Value};
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive};

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
            // Compared as the sets the items make: a repeated item counts once.
            match (key_set(x), key_set(y)) {
                (Some(kx), Some(ky)) => kx == ky,
                _ => false,
            }
        }
        (Value::Dict(x), Value::Dict(y)) => dict_eq(x, y),
        _ => false,
    }
}

fn dict_eq(x: &[(Value, Value)], y: &[(Value, Value)]) -> bool {
    // As Python builds a dict: a repeated key keeps its last value. A record that
    // repeats one pair is then the smaller dict it stands for, not a match for a larger
    // one.
    let index = |pairs: &[(Value, Value)]| -> Option<std::collections::BTreeMap<Key, usize>> {
        let mut index = std::collections::BTreeMap::new();
        for (i, (k, _)) in pairs.iter().enumerate() {
            index.insert(hash_key(k).ok()?, i);
        }
        Some(index)
    };
    let (Some(ix), Some(iy)) = (index(x), index(y)) else {
        return false;
    };
    ix.len() == iy.len()
        && ix
            .iter()
            .all(|(key, &i)| iy.get(key).is_some_and(|&j| py_eq(&x[i].1, &y[j].1)))
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
            // As CPython's set lookups do, a set is looked up as the frozenset it equals.
            let key = match item {
                Value::Set(items) => hash_key(&Value::FrozenSet(items.clone()))?,
                other => hash_key(other)?,
            };
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
            Value::Int(_) | Value::Bool(_) => {
                let byte = match item {
                    Value::Int(i) => i.to_u8(),
                    _ => Some(u8::from(matches!(item, Value::Bool(true)))),
                };
                match byte {
                    Some(x) => Ok(b.contains(&x)),
                    None => Err(PyErr::value_error("byte must be in range(0, 256)")),
                }
            }
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
