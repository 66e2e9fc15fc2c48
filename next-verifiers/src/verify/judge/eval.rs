//! Evaluating a judgement: what the candidate reported for each hole, why an evaluation
//! stops, and the evaluator over the tree.

use next_core::verify::TestOutcome;

use super::arith::{binary, unary};
use super::builtins::call;
use super::expr::{Build, Expr};
use super::index::{index, slice};
use super::report::{raised, short};
use crate::verify::value::{dedup_values, PyErr, Value};

/// What the candidate job reported for one hole.
#[derive(Debug, Clone)]
pub(crate) enum HoleResult {
    /// Its value.
    Value(Value),
    /// It raised: `TypeName: message`, and the type name.
    Raised { message: String, kind: String },
    /// It evaluated to something that is not plain data.
    NonData(String),
    /// Its value was over the size limits.
    TooBig,
}

/// What the trusted judge job made of one "py" check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PyAnswer {
    /// The assert's expression was true (or false).
    Held(bool),
    /// It raised: `TypeName: message`, and the type name.
    Raised { message: String, kind: String },
    /// The judge job gave no answer for it, and why.
    Undecided(String),
}

/// Why evaluation stopped: a Python exception in the judgement, or an outcome decided by
/// a hole (it raised, or gave no plain value).
#[derive(Debug)]
pub(crate) enum Halt {
    Py(PyErr),
    Outcome(TestOutcome),
}

impl From<PyErr> for Halt {
    fn from(e: PyErr) -> Self {
        Halt::Py(e)
    }
}

/// The holes of one test: their source and what the candidate reported.
pub(crate) struct Holes<'a> {
    pub sources: &'a [String],
    pub results: &'a [HoleResult],
    /// The judge job's answers to the test's "py" checks, in order.
    pub py: &'a [PyAnswer],
}

impl Holes<'_> {
    fn get(&self, k: usize) -> Result<Value, Halt> {
        let src = self.sources.get(k).map_or("?", String::as_str);
        match self.results.get(k) {
            Some(HoleResult::Value(v)) => Ok(v.clone()),
            Some(HoleResult::Raised { message, kind }) => Err(Halt::Outcome(raised(message, kind))),
            Some(HoleResult::NonData(type_name)) => Err(Halt::Outcome(TestOutcome::Error {
                message: format!(
                    "TypeError: `{}` returned a non-data value of type {type_name} (only None, \
                     bool, int, float, str, bytes and lists, tuples, dicts and sets of them \
                     can be judged)",
                    short(src)
                ),
            })),
            Some(HoleResult::TooBig) => Err(Halt::Outcome(TestOutcome::ResourceLimit {
                message: format!(
                    "output: the value of `{}` is too large to judge",
                    short(src)
                ),
            })),
            None => Err(Halt::Outcome(TestOutcome::Error {
                message: format!("no result for `{}`", short(src)),
            })),
        }
    }
}

/// Evaluates an expression to a value.
#[allow(clippy::too_many_lines)] // one arm per node kind
pub(crate) fn eval(expr: &Expr, holes: &Holes<'_>) -> Result<Value, Halt> {
    match expr {
        Expr::Const(v) => Ok(v.clone()),
        Expr::Hole(k) => holes.get(*k),
        Expr::Raise(message) => {
            let (kind, text) = message.split_once(": ").unwrap_or((message.as_str(), ""));
            Err(Halt::Outcome(TestOutcome::Error {
                message: if text.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}: {text}")
                },
            }))
        }
        Expr::Compare { left, ops, rights } => {
            let mut current = eval(left, holes)?;
            for (op, right) in ops.iter().zip(rights) {
                let next = eval(right, holes)?;
                if !op.apply(&current, &next)? {
                    return Ok(Value::Bool(false));
                }
                current = next;
            }
            Ok(Value::Bool(true))
        }
        Expr::And(items) => {
            let mut last = Value::Bool(true);
            for item in items {
                last = eval(item, holes)?;
                if !last.truthy() {
                    break;
                }
            }
            Ok(last)
        }
        Expr::Or(items) => {
            let mut last = Value::Bool(false);
            for item in items {
                last = eval(item, holes)?;
                if last.truthy() {
                    break;
                }
            }
            Ok(last)
        }
        Expr::Unary(op, e) => unary(*op, &eval(e, holes)?).map_err(Halt::Py),
        Expr::Binary(op, a, b) => {
            let a = eval(a, holes)?;
            let b = eval(b, holes)?;
            binary(*op, &a, &b).map_err(Halt::Py)
        }
        Expr::IfExp(test, then, otherwise) => {
            if eval(test, holes)?.truthy() {
                eval(then, holes)
            } else {
                eval(otherwise, holes)
            }
        }
        Expr::Build(kind, items) => {
            let values = items
                .iter()
                .map(|e| eval(e, holes))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match kind {
                Build::List => Value::List(values),
                Build::Tuple => Value::Tuple(values),
                Build::Set => Value::Set(dedup_values(values)?),
            })
        }
        Expr::Index(v, i) => {
            let v = eval(v, holes)?;
            let i = eval(i, holes)?;
            index(&v, &i).map_err(Halt::Py)
        }
        Expr::Slice(v, parts) => {
            let v = eval(v, holes)?;
            let mut bounds: [Option<Value>; 3] = [None, None, None];
            for (slot, part) in bounds.iter_mut().zip(parts) {
                if let Some(e) = part {
                    *slot = Some(eval(e, holes)?);
                }
            }
            slice(&v, &bounds).map_err(Halt::Py)
        }
        Expr::IsInstance(v, types) => {
            let v = eval(v, holes)?;
            let name = v.type_name();
            Ok(Value::Bool(types.iter().any(|t| {
                t == name || (t == "int" && matches!(v, Value::Bool(_)))
            })))
        }
        Expr::Py(used) => {
            // Its holes first, so that a hole that raised decides; then the trusted
            // judge job's answer (see `judge_check`).
            for &k in used {
                holes.get(k)?;
            }
            Err(Halt::Py(PyErr::not_modeled("a check judged in CPython")))
        }
        Expr::Call(name, args, kw) => {
            let args = args
                .iter()
                .map(|e| eval(e, holes))
                .collect::<Result<Vec<_>, _>>()?;
            let kw = kw
                .iter()
                .map(|(k, e)| Ok((k.as_str(), eval(e, holes)?)))
                .collect::<Result<Vec<_>, Halt>>()?;
            call(name, &args, &kw).map_err(Halt::Py)
        }
    }
}
