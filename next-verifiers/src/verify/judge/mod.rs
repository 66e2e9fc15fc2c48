//! The judge: evaluates a test's judgement over the values the candidate job returned.
//!
//! A judgement is a small expression tree (written by the trusted planner, read here from
//! JSON): constants, holes (the values of the candidate's sub-expressions), comparisons,
//! boolean and arithmetic operators, and a few builtins (`abs`, `len`, `set`, `sorted`,
//! `math.isclose`, ...). It runs in this process, on [`Value`](super::value::Value)s:
//! plain data that cannot carry code, so nothing the program did can change how a
//! comparison comes out.
//!
//! Its parts: `expr` is the tree and `parse` reads it; `eval` evaluates it over the holes,
//! with Python's arithmetic in `arith`, subscripts in `index` and the builtins in
//! `builtins`; `report` words the messages. This file judges a test's checks.

mod arith;
mod builtins;
#[cfg(test)]
mod cpython;
mod eval;
mod expr;
mod index;
mod parse;
mod report;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use next_core::verify::TestOutcome;

use self::eval::{eval, Halt};
use self::expr::{CompareOp, UnOp};
use self::report::{short, REPR_LIMIT};
use super::value::{CmpOp, PyErr};

pub(crate) use self::eval::{HoleResult, Holes, PyAnswer};
pub(crate) use self::expr::Expr;
pub(crate) use self::report::raised;

/// One assert of a test.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub expr: Expr,
    pub msg: Option<String>,
    /// The assert's source, for messages.
    pub src: String,
}

/// Judges one test: every check must hold; the first that does not decides the outcome.
///
/// A test of several checks (a loop the planner unrolled) names, in a failure message,
/// the check and the program's call it failed on.
pub(crate) fn judge(checks: &[Check], holes: &Holes<'_>) -> TestOutcome {
    for (k, check) in checks.iter().enumerate() {
        match judge_check(k, check, holes) {
            TestOutcome::Pass => {}
            TestOutcome::Fail { mut message } if checks.len() > 1 => {
                let mut used = Vec::new();
                check.expr.holes(&mut used);
                let call = used
                    .first()
                    .and_then(|&h| holes.sources.get(h))
                    .map(|src| format!(", `{}`", short(src)))
                    .unwrap_or_default();
                let _ = write!(message, " (check {} of {}{call})", k + 1, checks.len());
                return TestOutcome::Fail { message };
            }
            other => return other,
        }
    }
    TestOutcome::Pass
}

/// Whether judging these checks needs the trusted judge job's answers: a check is a
/// "py" one, or this judge reaches one it does not compute as CPython would.
pub(crate) fn needs_py(checks: &[Check], holes: &Holes<'_>) -> bool {
    for (k, check) in checks.iter().enumerate() {
        if matches!(check.expr, Expr::Py(_)) {
            return true;
        }
        match judge_check(k, check, holes) {
            TestOutcome::Pass => {}
            TestOutcome::Error { message } if message.starts_with(NOT_MODELED_MARK) => {
                return true;
            }
            _ => return false,
        }
    }
    false
}

/// How an outcome says that the judge met what it does not model and had no answer.
const NOT_MODELED_MARK: &str = "the judge could not evaluate";

fn judge_check(k: usize, check: &Check, holes: &Holes<'_>) -> TestOutcome {
    let result = match &check.expr {
        Expr::Compare { left, ops, rights } if ops.len() == 1 => {
            judge_compare(left, ops[0], &rights[0], holes)
        }
        expr => eval(expr, holes).map(|v| {
            if v.truthy() {
                None
            } else {
                let negated = matches!(expr, Expr::Unary(UnOp::Not, _));
                let mut message = if let (true, Expr::Unary(_, inner)) = (negated, expr) {
                    match eval(inner, holes) {
                        Ok(w) => format!("expected a false value, got {}", w.repr(REPR_LIMIT)),
                        Err(_) => "expected a false value".to_owned(),
                    }
                } else {
                    format!("expected a true value, got {}", v.repr(REPR_LIMIT))
                };
                if !matches!(expr, Expr::Hole(_))
                    && !matches!(expr, Expr::Unary(UnOp::Not, inner) if matches!(**inner, Expr::Hole(_)))
                {
                    message.push_str(&where_clause(expr, holes));
                }
                Some(message)
            }
        }),
    };
    match result {
        Ok(None) => TestOutcome::Pass,
        Ok(Some(message)) => TestOutcome::Fail {
            message: match &check.msg {
                Some(msg) if !msg.is_empty() => format!("{message} ({})", short(msg)),
                _ => message,
            },
        },
        Err(Halt::Outcome(outcome)) => outcome,
        Err(Halt::Py(e)) if e.kind == PyErr::NOT_MODELED => {
            from_cpython(holes.py.get(k), &check.expr, &check.src, holes)
        }
        Err(Halt::Py(e)) => TestOutcome::Error {
            message: e.to_string(),
        },
    }
}

/// The outcome of a check from the trusted judge job's answer, for a check this judge
/// does not compute (`src` is the assert).
fn from_cpython(
    answer: Option<&PyAnswer>, expr: &Expr, src: &str, holes: &Holes<'_>,
) -> TestOutcome {
    match answer {
        Some(PyAnswer::Held(true)) => TestOutcome::Pass,
        Some(PyAnswer::Held(false)) => TestOutcome::Fail {
            message: format!("`{}` is false{}", short(src), where_clause(expr, holes)),
        },
        Some(PyAnswer::Raised { message, kind }) => raised(message, kind),
        Some(PyAnswer::Undecided(why)) => TestOutcome::Error {
            message: format!("{NOT_MODELED_MARK} `{}`: {why}", short(src)),
        },
        None => TestOutcome::Error {
            message: format!("{NOT_MODELED_MARK} `{}`: no answer", short(src)),
        },
    }
}

fn judge_compare(
    left: &Expr, op: CompareOp, right: &Expr, holes: &Holes<'_>,
) -> Result<Option<String>, Halt> {
    let l = eval(left, holes)?;
    let r = eval(right, holes)?;
    if op.apply(&l, &r)? {
        return Ok(None);
    }
    let has_hole = |e: &Expr| {
        let mut found = Vec::new();
        e.holes(&mut found);
        !found.is_empty()
    };
    let (lh, rh) = (has_hole(left), has_hole(right));
    let mut message = match op {
        CompareOp::Rich(CmpOp::Eq) | CompareOp::Is if lh != rh => {
            let (got, expected) = if lh { (&l, &r) } else { (&r, &l) };
            format!(
                "expected {}, got {}",
                expected.repr(REPR_LIMIT),
                got.repr(REPR_LIMIT)
            )
        }
        _ => format!(
            "{} {} {} is false",
            l.repr(REPR_LIMIT),
            op.symbol(),
            r.repr(REPR_LIMIT)
        ),
    };
    let direct = matches!(left, Expr::Hole(_) | Expr::Const(_))
        && matches!(right, Expr::Hole(_) | Expr::Const(_));
    if !direct {
        message.push_str(&where_clause(
            &Expr::Compare {
                left: Box::new(left.clone()),
                ops: vec![op],
                rights: vec![right.clone()],
            },
            holes,
        ));
    }
    Ok(Some(message))
}

/// `, where f(1) = 2` for the first holes an expression reads.
fn where_clause(expr: &Expr, holes: &Holes<'_>) -> String {
    let mut used = Vec::new();
    expr.holes(&mut used);
    let mut parts = Vec::new();
    for k in used.into_iter().take(2) {
        if let (Some(src), Some(HoleResult::Value(v))) =
            (holes.sources.get(k), holes.results.get(k))
        {
            parts.push(format!("`{}` = {}", short(src), v.repr(REPR_LIMIT)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", where {}", parts.join(" and "))
    }
}
