//! Python's arithmetic on judged values: the unary and binary operators over ints, floats,
//! complex numbers, sets and sequences, with Python's rules for division, modulo and powers.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, ToPrimitive, Zero};

use super::expr::{BinOp, UnOp};
use crate::verify::value::{to_f64, Num, PyErr, Value};

/// The most items a sequence built by `*` may have.
const MAX_REPEAT: usize = 1 << 24;

pub(super) fn num_of(v: &Value, what: &str) -> Result<Num, PyErr> {
    v.num().ok_or_else(|| {
        PyErr::type_error(format!("bad operand type for {what}: '{}'", v.type_name()))
    })
}

pub(super) fn int_of(v: &Value, what: &str) -> Result<BigInt, PyErr> {
    match v {
        Value::Bool(b) => Ok(BigInt::from(u8::from(*b))),
        Value::Int(i) => Ok(i.clone()),
        other => Err(PyErr::type_error(format!(
            "{what} must be an integer, not '{}'",
            other.type_name()
        ))),
    }
}

pub(super) fn unary(op: UnOp, v: &Value) -> Result<Value, PyErr> {
    match op {
        UnOp::Not => Ok(Value::Bool(!v.truthy())),
        UnOp::Neg if matches!(v, Value::Complex(..)) => match v {
            Value::Complex(re, im) => Ok(Value::Complex(-re, -im)),
            _ => Err(PyErr::type_error("bad operand type for unary -")),
        },
        UnOp::Pos if matches!(v, Value::Complex(..)) => Ok(v.clone()),
        UnOp::Neg => Ok(match num_of(v, "unary -")? {
            Num::Int(i) => Value::Int(-i),
            Num::Float(f) => Value::Float(-f),
        }),
        UnOp::Pos => Ok(match num_of(v, "unary +")? {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
        }),
        UnOp::Invert => Ok(Value::Int(!int_of(v, "unary ~")?)),
    }
}

fn unsupported(op: &str, a: &Value, b: &Value) -> PyErr {
    PyErr::type_error(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

fn repeat(items: &[Value], n: &BigInt) -> Result<Vec<Value>, PyErr> {
    let n = n.to_usize().unwrap_or(0);
    if items.len().saturating_mul(n) > MAX_REPEAT {
        return Err(PyErr::new(
            "MemoryError",
            "the repeated sequence is too large to judge",
        ));
    }
    Ok(items
        .iter()
        .cycle()
        .take(items.len() * n)
        .cloned()
        .collect())
}

/// Python's arithmetic on two values.
pub(crate) fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, PyErr> {
    let symbol = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "** or pow()",
    };
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return arith(op, &x, &y);
    }
    if let (Some(x), Some(y)) = (complex_of(a), complex_of(b)) {
        if matches!(a, Value::Complex(..)) || matches!(b, Value::Complex(..)) {
            return complex_arith(op, x, y, a, b);
        }
    }
    match (op, a, b) {
        (BinOp::Mod, Value::Str(_) | Value::Bytes(_), _) => {
            Err(PyErr::not_modeled("printf-style formatting"))
        }
        (BinOp::Add, Value::Str(x), Value::Str(y)) => Ok(Value::Str(format!("{x}{y}"))),
        (BinOp::Add, Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes([x.as_slice(), y.as_slice()].concat()))
        }
        (BinOp::Add, Value::List(x), Value::List(y)) => {
            Ok(Value::List(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            Ok(Value::Tuple(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Sub, Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            let drop: Vec<_> = y
                .iter()
                .filter_map(|v| crate::verify::value::hash_key(v).ok())
                .collect();
            let kept: Vec<Value> = x
                .iter()
                .filter(|v| crate::verify::value::hash_key(v).is_ok_and(|k| !drop.contains(&k)))
                .cloned()
                .collect();
            Ok(if matches!(a, Value::Set(_)) {
                Value::Set(kept)
            } else {
                Value::FrozenSet(kept)
            })
        }
        (BinOp::Mul, seq, count) | (BinOp::Mul, count, seq)
            if matches!(
                seq,
                Value::List(_) | Value::Tuple(_) | Value::Str(_) | Value::Bytes(_)
            ) && matches!(count, Value::Int(_) | Value::Bool(_)) =>
        {
            repeat_value(seq, &int_of(count, "can't multiply sequence by non-int")?)
        }
        _ => Err(unsupported(symbol, a, b)),
    }
}

/// `seq * n` for a list, tuple, str or bytes.
fn repeat_value(seq: &Value, n: &BigInt) -> Result<Value, PyErr> {
    let count = n.to_usize().unwrap_or(0);
    let too_big = |len: usize| {
        if len.saturating_mul(count) > MAX_REPEAT {
            Err(PyErr::new(
                "MemoryError",
                "the repeated sequence is too large to judge",
            ))
        } else {
            Ok(())
        }
    };
    match seq {
        Value::List(items) => Ok(Value::List(repeat(items, n)?)),
        Value::Tuple(items) => Ok(Value::Tuple(repeat(items, n)?)),
        Value::Str(s) => {
            too_big(s.len())?;
            Ok(Value::Str(s.repeat(count)))
        }
        Value::Bytes(b) => {
            too_big(b.len())?;
            Ok(Value::Bytes(b.repeat(count)))
        }
        other => Err(PyErr::type_error(format!(
            "can't multiply sequence of type '{}'",
            other.type_name()
        ))),
    }
}

fn complex_of(v: &Value) -> Option<(f64, f64)> {
    match v {
        Value::Complex(re, im) => Some((*re, *im)),
        other => other.num().and_then(|n| to_f64(&n).ok()).map(|f| (f, 0.0)),
    }
}

/// Complex arithmetic, as the textbook writes it (`a + bi` and `c + di`).
#[allow(clippy::many_single_char_names)]
fn complex_arith(
    op: BinOp, (a, b): (f64, f64), (c, d): (f64, f64), x: &Value, y: &Value,
) -> Result<Value, PyErr> {
    Ok(match op {
        BinOp::Add => Value::Complex(a + c, b + d),
        BinOp::Sub => Value::Complex(a - c, b - d),
        BinOp::Mul => Value::Complex(a * c - b * d, a * d + b * c),
        _ => {
            // CPython divides complex numbers by Smith's method and raises them by its
            // own; the trusted judge job computes these.
            return Err(PyErr::not_modeled(format!(
                "this operation on '{}' and '{}'",
                x.type_name(),
                y.type_name()
            )));
        }
    })
}

fn zero_division(what: &str) -> PyErr {
    PyErr::new("ZeroDivisionError", what.to_owned())
}

#[allow(clippy::many_single_char_names, clippy::float_cmp)] // Python's exact float rules
fn arith(op: BinOp, x: &Num, y: &Num) -> Result<Value, PyErr> {
    if let (Num::Int(a), Num::Int(b)) = (x, y) {
        return int_arith(op, a, b);
    }
    let a = to_f64(x)?;
    let b = to_f64(y)?;
    Ok(Value::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                return Err(zero_division("float division by zero"));
            }
            a / b
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if b == 0.0 {
                return Err(zero_division(if op == BinOp::Mod {
                    "float modulo"
                } else {
                    "float floor division by zero"
                }));
            }
            let (div, modulo) = float_divmod(a, b);
            if op == BinOp::Mod {
                modulo
            } else {
                div
            }
        }
        BinOp::Pow => {
            if a == 0.0 && b < 0.0 {
                return Err(zero_division("0.0 cannot be raised to a negative power"));
            }
            if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
                return Err(PyErr::value_error(
                    "a negative number raised to a fractional power is complex",
                ));
            }
            let r = a.powf(b);
            if r.is_infinite() && a.is_finite() && b.is_finite() {
                return Err(PyErr::new(
                    "OverflowError",
                    "(34, 'Numerical result out of range')",
                ));
            }
            r
        }
    }))
}

/// Python's `divmod` for floats (`float_divmod` in CPython).
fn float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut modulo = vx % wx;
    let mut div = (vx - modulo) / wx;
    if modulo == 0.0 {
        modulo = 0.0_f64.copysign(wx);
    } else if (wx < 0.0) != (modulo < 0.0) {
        modulo += wx;
        div -= 1.0;
    }
    let floordiv = if div == 0.0 {
        0.0_f64.copysign(vx / wx)
    } else {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    };
    (floordiv, modulo)
}

fn int_arith(op: BinOp, a: &BigInt, b: &BigInt) -> Result<Value, PyErr> {
    Ok(match op {
        BinOp::Add => Value::Int(a + b),
        BinOp::Sub => Value::Int(a - b),
        BinOp::Mul => {
            if a.bits() + b.bits() > 1 << 20 {
                return Err(PyErr::new(
                    "MemoryError",
                    "the product is too large to judge",
                ));
            }
            Value::Int(a * b)
        }
        BinOp::Div => {
            if b.is_zero() {
                return Err(zero_division("division by zero"));
            }
            match (a.to_f64(), b.to_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Value::Float(x / y),
                _ => {
                    return Err(PyErr::new(
                        "OverflowError",
                        "integer division result too large for a float",
                    ))
                }
            }
        }
        BinOp::FloorDiv => {
            if b.is_zero() {
                return Err(zero_division("integer division or modulo by zero"));
            }
            Value::Int(a.div_floor(b))
        }
        BinOp::Mod => {
            if b.is_zero() {
                return Err(zero_division("integer modulo by zero"));
            }
            Value::Int(a.mod_floor(b))
        }
        BinOp::Pow => {
            if b.is_negative() {
                let (x, y) = (to_f64(&Num::Int(a.clone()))?, to_f64(&Num::Int(b.clone()))?);
                if x == 0.0 {
                    return Err(zero_division("0.0 cannot be raised to a negative power"));
                }
                Value::Float(x.powf(y))
            } else {
                let e = b.to_u32().unwrap_or(u32::MAX);
                let small = a.magnitude() <= &num_bigint::BigUint::from(1u8);
                if !small && u64::from(e).saturating_mul(a.bits()) > 1 << 20 {
                    return Err(PyErr::new("MemoryError", "the power is too large to judge"));
                }
                Value::Int(num_traits::pow::Pow::pow(a, e))
            }
        }
    })
}
