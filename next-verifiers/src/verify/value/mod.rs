//! Plain data: the only values that cross from the candidate's process to the judge.
//!
//! A [`Value`] is `None`, a `bool`, an `int` (of any size), a `float` (NaN and the
//! infinities included), a `str`, `bytes`, or a `list`, `tuple`, `dict`, `set` or
//! `frozenset` of values. This module reads them from the wire form that the harnesses
//! write and gives them Python's semantics for truth, equality, ordering, hashing and
//! `repr`, so that the judge compares them as `==` on the same objects would.

mod compare;
mod data;
mod repr;
#[cfg(test)]
mod tests;
mod wire;

pub use compare::{compare, contains, hash_key, py_eq, CmpOp};
pub(crate) use data::{to_f64, Num};
pub use data::{PyErr, Value};
pub use repr::{float_repr, py_literal};
pub use wire::dedup_values;
pub(crate) use wire::from_hex;
#[cfg(test)]
pub(crate) use wire::MAX_INT_DIGITS;
