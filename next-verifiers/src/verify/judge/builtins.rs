//! The builtins a judgement may call (`abs`, `len`, `set`, `sorted`, `min`, `sum`, `int`,
//! `math.isclose`, EvalPlus's tolerance, ...), computed as Python computes them.

use num_bigint::BigInt;
use num_traits::{FromPrimitive, Signed};

use super::arith::{binary, int_of, num_of};
use super::expr::BinOp;
use super::report::REPR_LIMIT;
use crate::verify::value::{compare, dedup_values, py_eq, to_f64, CmpOp, Num, PyErr, Value};

pub(super) fn lt(a: &Value, b: &Value) -> Result<bool, PyErr> {
    compare(CmpOp::Lt, a, b)
}

/// A stable merge sort with a comparison that may fail (Python's `sorted`).
fn sort_values(items: Vec<Value>) -> Result<Vec<Value>, PyErr> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut items = items;
    let right = items.split_off(items.len() / 2);
    let left = sort_values(items)?;
    let right = sort_values(right)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if lt(b, a)? {
                    out.extend(r.next());
                } else {
                    out.extend(l.next());
                }
            }
            (Some(_), None) => {
                out.extend(l);
                break;
            }
            (None, _) => {
                out.extend(r);
                break;
            }
        }
    }
    Ok(out)
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), PyErr> {
    if args.len() < min || args.len() > max {
        return Err(PyErr::type_error(format!(
            "{name}() takes from {min} to {max} arguments ({} given)",
            args.len()
        )));
    }
    Ok(())
}

fn kwarg<'a>(kw: &'a [(&str, Value)], name: &str) -> Option<&'a Value> {
    kw.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn no_kwargs(name: &str, kw: &[(&str, Value)], allowed: &[&str]) -> Result<(), PyErr> {
    match kw.iter().find(|(k, _)| !allowed.contains(k)) {
        Some((k, _)) => Err(PyErr::type_error(format!(
            "'{k}' is an invalid keyword argument for {name}()"
        ))),
        None => Ok(()),
    }
}

fn float_of(v: &Value, name: &str) -> Result<f64, PyErr> {
    match v.num() {
        Some(n) => to_f64(&n),
        None => Err(PyErr::type_error(format!(
            "{name}: must be real number, not {}",
            v.type_name()
        ))),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let negative = lower.starts_with('-');
    let special = match body {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(f) = special {
        return Some(if negative { -f } else { f });
    }
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

fn parse_int(s: &str) -> Option<BigInt> {
    let t = s.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    let v: BigInt = cleaned.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// EvalPlus's output check: `==`, else, when `atol` is set or `exp` is a float or a
/// non-empty sequence of floats (with atol 1e-6 then), the same type as `exp`, the same
/// length where `exp` is a list or tuple, and `np.allclose(out, exp, rtol=1e-07,
/// atol=atol)`.
pub(super) fn evalplus_match(out: &Value, exp: &Value, atol: &Value) -> Result<bool, PyErr> {
    if py_eq(out, exp) {
        return Ok(true);
    }
    let mut atol = float_of(atol, "__next_evalplus__")?;
    let is_floats = match exp {
        Value::Float(_) => true,
        Value::List(items) | Value::Tuple(items) => {
            !items.is_empty() && items.iter().all(|x| matches!(x, Value::Float(_)))
        }
        _ => false,
    };
    if atol == 0.0 && is_floats {
        atol = 1e-6;
    }
    if atol == 0.0 || std::mem::discriminant(out) != std::mem::discriminant(exp) {
        return Ok(false);
    }
    if let (Value::List(a) | Value::Tuple(a), Value::List(b) | Value::Tuple(b)) = (out, exp) {
        if a.len() != b.len() {
            return Ok(false);
        }
    }
    Ok(allclose(out, exp, atol, 0))
}

#[allow(clippy::float_cmp)] // numpy's exact test for infinities
fn allclose(out: &Value, exp: &Value, atol: f64, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let seq = |v: &Value| match v {
        Value::List(items) | Value::Tuple(items) => Some(items.clone()),
        _ => None,
    };
    match (seq(out), seq(exp)) {
        (Some(a), Some(b)) => {
            if a.len() == b.len() {
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| allclose(x, y, atol, depth + 1))
            } else if a.len() == 1 {
                b.iter().all(|y| allclose(&a[0], y, atol, depth + 1))
            } else if b.len() == 1 {
                a.iter().all(|x| allclose(x, &b[0], atol, depth + 1))
            } else {
                false
            }
        }
        (Some(a), None) => a.iter().all(|x| allclose(x, exp, atol, depth + 1)),
        (None, Some(b)) => b.iter().all(|y| allclose(out, y, atol, depth + 1)),
        (None, None) => match (out.num(), exp.num()) {
            (Some(x), Some(y)) => match (to_f64(&x), to_f64(&y)) {
                (Ok(a), Ok(b)) => {
                    if a.is_infinite() || b.is_infinite() {
                        a == b
                    } else {
                        (a - b).abs() <= atol + 1e-07 * b.abs()
                    }
                }
                _ => false,
            },
            _ => false,
        },
    }
}

/// The text `int()` and `float()` parse: a `str`, or `bytes` that are ASCII.
fn numeral(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        Value::Bytes(b) => std::str::from_utf8(b).ok().filter(|s| s.is_ascii()),
        _ => None,
    }
}

/// Refuses to iterate a set where the order shows in the result: a set the judge built
/// is in its own order, not CPython's, so the trusted judge job iterates it instead.
fn in_order(args: &[Value]) -> Result<(), PyErr> {
    match args.first() {
        Some(Value::Set(_) | Value::FrozenSet(_)) => {
            Err(PyErr::not_modeled("iterating a set in CPython's order"))
        }
        _ => Ok(()),
    }
}

/// The builtins the judge evaluates.
#[allow(clippy::too_many_lines, clippy::float_cmp)] // one arm per builtin; exact as Python
pub(super) fn call(name: &str, args: &[Value], kw: &[(&str, Value)]) -> Result<Value, PyErr> {
    match name {
        "abs" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            if let Value::Complex(re, im) = &args[0] {
                return Ok(Value::Float(re.hypot(*im)));
            }
            Ok(match num_of(&args[0], "abs()")? {
                Num::Int(i) => Value::Int(i.abs()),
                Num::Float(f) => Value::Float(f.abs()),
            })
        }
        "len" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            let n = match &args[0] {
                Value::Str(s) => s.chars().count(),
                Value::Bytes(b) => b.len(),
                Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => v.len(),
                Value::Dict(d) => d.len(),
                other => {
                    return Err(PyErr::type_error(format!(
                        "object of type '{}' has no len()",
                        other.type_name()
                    )))
                }
            };
            Ok(Value::Int(BigInt::from(n)))
        }
        "set" | "frozenset" | "list" | "tuple" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            if matches!(name, "list" | "tuple") {
                in_order(args)?;
            }
            let items = match args.first() {
                Some(v) => v.iterate()?,
                None => Vec::new(),
            };
            Ok(match name {
                "set" => Value::Set(dedup_values(items)?),
                "frozenset" => Value::FrozenSet(dedup_values(items)?),
                "list" => Value::List(items),
                _ => Value::Tuple(items),
            })
        }
        "sorted" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &["reverse"])?;
            if let Value::Set(items) | Value::FrozenSet(items) = &args[0] {
                // With a NaN the order compared in depends on the set's.
                if items
                    .iter()
                    .any(|v| matches!(v, Value::Float(f) if f.is_nan()))
                {
                    return Err(PyErr::not_modeled("sorting a set that holds a NaN"));
                }
            }
            let reverse = kwarg(kw, "reverse").is_some_and(Value::truthy);
            let mut items = args[0].iterate()?;
            if reverse {
                items.reverse();
            }
            let mut sorted = sort_values(items)?;
            if reverse {
                sorted.reverse();
            }
            Ok(Value::List(sorted))
        }
        "min" | "max" => {
            no_kwargs(name, kw, &["default"])?;
            if args.len() == 1 {
                in_order(args)?;
            }
            let items = match args {
                [] => {
                    return Err(PyErr::type_error(format!(
                        "{name} expected at least 1 argument, got 0"
                    )))
                }
                [one] => one.iterate()?,
                many => many.to_vec(),
            };
            let mut best: Option<Value> = None;
            for item in items {
                best = Some(match best {
                    None => item,
                    Some(b) => {
                        let better = if name == "min" {
                            lt(&item, &b)?
                        } else {
                            lt(&b, &item)?
                        };
                        if better {
                            item
                        } else {
                            b
                        }
                    }
                });
            }
            match (best, kwarg(kw, "default")) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(PyErr::value_error(format!(
                    "{name}() arg is an empty sequence"
                ))),
            }
        }
        "sum" => {
            arity(name, args, 1, 2)?;
            no_kwargs(name, kw, &["start"])?;
            in_order(args)?;
            let mut total = args
                .get(1)
                .or_else(|| kwarg(kw, "start"))
                .cloned()
                .unwrap_or_else(|| Value::int(0));
            match total {
                Value::Str(_) => {
                    return Err(PyErr::type_error(
                        "sum() can't sum strings [use ''.join(seq) instead]",
                    ))
                }
                Value::Bytes(_) => {
                    return Err(PyErr::type_error(
                        "sum() can't sum bytes [use b''.join(seq) instead]",
                    ))
                }
                _ => {}
            }
            let items = args[0].iterate()?;
            let floating = |v: &Value| matches!(v, Value::Float(_) | Value::Complex(..));
            if floating(&total) || items.iter().any(floating) {
                // From 3.12 CPython sums floats with compensation: the result depends on
                // the interpreter's version, which the judge job runs.
                return Err(PyErr::not_modeled("a sum of floats"));
            }
            for item in items {
                total = binary(BinOp::Add, &total, &item)?;
            }
            Ok(total)
        }
        "all" | "any" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            let items = args[0].iterate()?;
            Ok(Value::Bool(if name == "all" {
                items.iter().all(Value::truthy)
            } else {
                items.iter().any(Value::truthy)
            }))
        }
        "bool" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            Ok(Value::Bool(args.first().is_some_and(Value::truthy)))
        }
        "float" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            match args.first() {
                None => Ok(Value::Float(0.0)),
                Some(v @ (Value::Str(_) | Value::Bytes(_))) => numeral(v)
                    .and_then(parse_float)
                    .map(Value::Float)
                    .ok_or_else(|| {
                        PyErr::value_error(format!(
                            "could not convert string to float: {}",
                            v.repr(REPR_LIMIT)
                        ))
                    }),
                Some(v) => Ok(Value::Float(float_of(v, "float()")?)),
            }
        }
        "int" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            match args.first() {
                None => Ok(Value::int(0)),
                Some(v @ (Value::Str(_) | Value::Bytes(_))) => numeral(v)
                    .and_then(parse_int)
                    .map(Value::Int)
                    .ok_or_else(|| {
                        PyErr::value_error(format!(
                            "invalid literal for int() with base 10: {}",
                            v.repr(REPR_LIMIT)
                        ))
                    }),
                Some(Value::Float(f)) => {
                    if f.is_nan() {
                        Err(PyErr::value_error("cannot convert float NaN to integer"))
                    } else if f.is_infinite() {
                        Err(PyErr::new(
                            "OverflowError",
                            "cannot convert float infinity to integer",
                        ))
                    } else {
                        Ok(Value::Int(BigInt::from_f64(f.trunc()).unwrap_or_default()))
                    }
                }
                Some(v) => Ok(Value::Int(int_of(v, "int() argument")?)),
            }
        }
        "math.isclose" => {
            arity(name, args, 2, 2)?;
            no_kwargs("isclose", kw, &["rel_tol", "abs_tol"])?;
            let a = float_of(&args[0], "isclose")?;
            let b = float_of(&args[1], "isclose")?;
            let rel = kwarg(kw, "rel_tol").map_or(Ok(1e-9), |v| float_of(v, "isclose"))?;
            let abs_tol = kwarg(kw, "abs_tol").map_or(Ok(0.0), |v| float_of(v, "isclose"))?;
            if rel < 0.0 || abs_tol < 0.0 {
                return Err(PyErr::value_error("tolerances must be non-negative"));
            }
            if a == b {
                return Ok(Value::Bool(true));
            }
            if a.is_infinite() || b.is_infinite() {
                return Ok(Value::Bool(false));
            }
            let diff = (b - a).abs();
            Ok(Value::Bool(
                diff <= (rel * b).abs() || diff <= (rel * a).abs() || diff <= abs_tol,
            ))
        }
        "math.fabs" | "math.sqrt" | "math.floor" | "math.ceil" | "math.isnan" | "math.isinf"
        | "math.isfinite" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            if let (Some(Num::Int(i)), "math.floor" | "math.ceil") = (args[0].num(), name) {
                return Ok(Value::Int(i));
            }
            let x = float_of(&args[0], name)?;
            Ok(match name {
                "math.fabs" => Value::Float(x.abs()),
                "math.sqrt" => {
                    if x < 0.0 {
                        return Err(PyErr::value_error("math domain error"));
                    }
                    Value::Float(x.sqrt())
                }
                "math.floor" | "math.ceil" => {
                    if x.is_nan() {
                        return Err(PyErr::value_error("cannot convert float NaN to integer"));
                    }
                    if x.is_infinite() {
                        return Err(PyErr::new(
                            "OverflowError",
                            "cannot convert float infinity to integer",
                        ));
                    }
                    let r = if name == "math.floor" {
                        x.floor()
                    } else {
                        x.ceil()
                    };
                    Value::Int(BigInt::from_f64(r).unwrap_or_default())
                }
                "math.isnan" => Value::Bool(x.is_nan()),
                "math.isinf" => Value::Bool(x.is_infinite()),
                _ => Value::Bool(x.is_finite()),
            })
        }
        "__next_evalplus__" => {
            arity(name, args, 3, 3)?;
            no_kwargs(name, kw, &[])?;
            Ok(Value::Bool(evalplus_match(&args[0], &args[1], &args[2])?))
        }
        other => Err(PyErr::new(
            "NameError",
            format!("the judge has no function {other}"),
        )),
    }
}
