//! The plain values themselves: [`Value`], [`Num`] and the Python exception [`PyErr`], with the methods that need nothing else.

use num_bigint::BigInt;
use num_traits::{ToPrimitive, Zero};

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

    /// What the judge does not compute as CPython would (`'%s' % x`, a complex power,
    /// a set's iteration order): not an exception of the test, but a sign that the
    /// trusted judge job must evaluate the check in CPython.
    pub fn not_modeled(what: impl Into<String>) -> Self {
        Self {
            kind: Self::NOT_MODELED,
            message: what.into(),
        }
    }

    /// The kind of [`PyErr::not_modeled`].
    pub const NOT_MODELED: &'static str = "NotModeled";

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
