//! Subscripts: indexing and slicing of sequences, and looking a key up in a dict, with
//! Python's rules for negative and out-of-range indices.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

use super::arith::int_of;
use super::report::REPR_LIMIT;
use crate::verify::value::{PyErr, Value};

fn index_of(i: &Value, len: usize) -> Result<Option<usize>, PyErr> {
    let i = int_of(i, "indices")?;
    let len_big = BigInt::from(len);
    let i = if i.is_negative() { i + &len_big } else { i };
    if i.is_negative() || i >= len_big {
        return Ok(None);
    }
    Ok(i.to_usize())
}

pub(super) fn index(v: &Value, i: &Value) -> Result<Value, PyErr> {
    let out_of_range = |what: &str| PyErr::new("IndexError", format!("{what} index out of range"));
    match v {
        Value::List(items) => index_of(i, items.len())?
            .map(|k| items[k].clone())
            .ok_or_else(|| out_of_range("list")),
        Value::Tuple(items) => index_of(i, items.len())?
            .map(|k| items[k].clone())
            .ok_or_else(|| out_of_range("tuple")),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            index_of(i, chars.len())?
                .map(|k| Value::Str(chars[k].to_string()))
                .ok_or_else(|| out_of_range("string"))
        }
        Value::Bytes(b) => index_of(i, b.len())?
            .map(|k| Value::int(i64::from(b[k])))
            .ok_or_else(|| out_of_range("index")),
        Value::Dict(pairs) => {
            let key = crate::verify::value::hash_key(i)?;
            pairs
                .iter()
                .find(|(k, _)| crate::verify::value::hash_key(k).is_ok_and(|kk| kk == key))
                .map(|(_, x)| x.clone())
                .ok_or_else(|| PyErr::new("KeyError", i.repr(REPR_LIMIT)))
        }
        other => Err(PyErr::type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

/// Python's slice index adjustment (`PySlice_AdjustIndices`).
fn slice_indices(bounds: &[Option<Value>; 3], len: usize) -> Result<Vec<usize>, PyErr> {
    let get = |v: &Option<Value>| -> Result<Option<BigInt>, PyErr> {
        match v {
            None | Some(Value::None) => Ok(None),
            Some(x) => int_of(x, "slice indices").map(Some),
        }
    };
    let step = get(&bounds[2])?.unwrap_or_else(|| BigInt::from(1));
    if step.is_zero() {
        return Err(PyErr::value_error("slice step cannot be zero"));
    }
    let len_i = BigInt::from(len);
    let neg = step.is_negative();
    let clamp = |x: Option<BigInt>, default: BigInt| -> BigInt {
        match x {
            None => default,
            Some(mut v) => {
                if v.is_negative() {
                    v += &len_i;
                    if v.is_negative() {
                        v = if neg {
                            BigInt::from(-1)
                        } else {
                            BigInt::zero()
                        };
                    }
                } else if v >= len_i {
                    v = if neg { &len_i - 1 } else { len_i.clone() };
                }
                v
            }
        }
    };
    let start = clamp(
        get(&bounds[0])?,
        if neg { &len_i - 1 } else { BigInt::zero() },
    );
    let end = clamp(
        get(&bounds[1])?,
        if neg { BigInt::from(-1) } else { len_i.clone() },
    );
    let mut out = Vec::new();
    let mut k = start;
    while (neg && k > end) || (!neg && k < end) {
        if let Some(u) = k.to_usize() {
            out.push(u);
        }
        k += &step;
    }
    Ok(out)
}

pub(super) fn slice(v: &Value, bounds: &[Option<Value>; 3]) -> Result<Value, PyErr> {
    match v {
        Value::List(items) => Ok(Value::List(
            slice_indices(bounds, items.len())?
                .into_iter()
                .map(|k| items[k].clone())
                .collect(),
        )),
        Value::Tuple(items) => Ok(Value::Tuple(
            slice_indices(bounds, items.len())?
                .into_iter()
                .map(|k| items[k].clone())
                .collect(),
        )),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::Str(
                slice_indices(bounds, chars.len())?
                    .into_iter()
                    .map(|k| chars[k])
                    .collect(),
            ))
        }
        Value::Bytes(b) => Ok(Value::Bytes(
            slice_indices(bounds, b.len())?
                .into_iter()
                .map(|k| b[k])
                .collect(),
        )),
        other => Err(PyErr::type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}
