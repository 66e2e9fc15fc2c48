//! Tests of the judge: whole checks judged with their messages, and the arithmetic,
//! slicing and builtins held to Python's results.

use next_core::verify::TestOutcome;
use num_bigint::BigInt;

use super::arith::binary;
use super::builtins::{call, evalplus_match, lt};
use super::eval::{HoleResult, Holes};
use super::expr::{BinOp, Expr};
use super::index::slice;
use super::{judge, Check};
use crate::verify::value::{py_eq, Value};

/// Orders two values for tests of this module.
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if py_eq(a, b) {
        Some(Ordering::Equal)
    } else if lt(a, b).ok()? {
        Some(Ordering::Less)
    } else {
        Some(Ordering::Greater)
    }
}

fn expr(text: &str) -> Expr {
    Expr::from_json(&serde_json::from_str(text).unwrap()).unwrap()
}

fn run(text: &str, values: &[HoleResult]) -> TestOutcome {
    let sources: Vec<String> = (0..values.len()).map(|k| format!("f({k})")).collect();
    let check = Check {
        expr: expr(text),
        msg: None,
        src: "assert ...".to_owned(),
    };
    judge(
        &[check],
        &Holes {
            sources: &sources,
            results: values,
            py: &[],
        },
    )
}

fn v(text: &str) -> HoleResult {
    HoleResult::Value(Value::from_wire(&serde_json::from_str(text).unwrap()).unwrap())
}

#[test]
fn equality_passes_and_fails_with_both_values() {
    let eq = r#"{"cmp":{"h":0},"ops":["=="],"r":[{"c":8}]}"#;
    assert_eq!(run(eq, &[v("8.0")]), TestOutcome::Pass);
    assert_eq!(
        run(eq, &[v("7")]),
        TestOutcome::Fail {
            message: "expected 8, got 7".into()
        }
    );
}

#[test]
fn tolerance_forms_are_judged_here() {
    let near = r#"{"cmp":{"call":"abs","args":[{"bin":"-","l":{"h":0},"r":{"c":0.33}}],"kw":{}},"ops":["<"],"r":[{"c":1e-6}]}"#;
    assert_eq!(run(near, &[v("0.33000000000000007")]), TestOutcome::Pass);
    assert!(matches!(run(near, &[v("0.34")]), TestOutcome::Fail { .. }));
    let close =
        r#"{"call":"math.isclose","args":[{"h":0},{"c":314.159}],"kw":{"rel_tol":{"c":0.001}}}"#;
    assert_eq!(run(close, &[v("314.1")]), TestOutcome::Pass);
    assert!(matches!(run(close, &[v("310")]), TestOutcome::Fail { .. }));
    let sets =
        r#"{"cmp":{"call":"set","args":[{"h":0}],"kw":{}},"ops":["=="],"r":[{"c":{"set":[4,5]}}]}"#;
    assert_eq!(run(sets, &[v(r#"{"tuple":[5,4,4]}"#)]), TestOutcome::Pass);
}

#[test]
fn holes_that_raised_or_gave_objects_are_errors() {
    let eq = r#"{"cmp":{"h":0},"ops":["=="],"r":[{"c":1}]}"#;
    let raised = HoleResult::Raised {
        message: "TypeError: bad".into(),
        kind: "TypeError".into(),
    };
    assert_eq!(
        run(eq, &[raised]),
        TestOutcome::Error {
            message: "TypeError: bad".into()
        }
    );
    let outcome = run(eq, &[HoleResult::NonData("AlwaysEqual".into())]);
    assert!(
        outcome
            .message()
            .contains("non-data value of type AlwaysEqual"),
        "{outcome:?}"
    );
    let memory = HoleResult::Raised {
        message: "MemoryError".into(),
        kind: "MemoryError".into(),
    };
    assert!(matches!(
        run(eq, &[memory]),
        TestOutcome::ResourceLimit { .. }
    ));
}

#[test]
fn short_circuits_do_not_read_unneeded_holes() {
    let either = r#"{"or":[{"h":0},{"h":1}]}"#;
    let raised = HoleResult::Raised {
        message: "ValueError: x".into(),
        kind: "ValueError".into(),
    };
    assert_eq!(run(either, &[v("true"), raised]), TestOutcome::Pass);
}

#[test]
fn builtins_follow_python() {
    let call = |name: &str, args: Vec<Value>| call(name, &args, &[]);
    assert!(py_eq(
        &call(
            "sorted",
            vec![Value::List(vec![
                Value::int(3),
                Value::Float(1.5),
                Value::int(2)
            ])]
        )
        .unwrap(),
        &Value::List(vec![Value::Float(1.5), Value::int(2), Value::int(3)])
    ));
    assert!(call(
        "sorted",
        vec![Value::List(vec![Value::int(1), Value::Str("a".into())])]
    )
    .is_err());
    assert!(py_eq(
        &call("int", vec![Value::Str(" -1_000 ".into())]).unwrap(),
        &Value::int(-1000)
    ));
    assert!(call("int", vec![Value::Str("1.5".into())]).is_err());
    assert!(py_eq(
        &binary(BinOp::FloorDiv, &Value::int(-7), &Value::int(2)).unwrap(),
        &Value::int(-4)
    ));
    assert!(py_eq(
        &binary(BinOp::Mod, &Value::Float(-7.0), &Value::int(2)).unwrap(),
        &Value::Float(1.0)
    ));
    assert!(py_eq(
        &binary(BinOp::Pow, &Value::int(2), &Value::int(100)).unwrap(),
        &Value::Int(BigInt::from(2).pow(100u32))
    ));
    assert!(binary(BinOp::Div, &Value::int(1), &Value::int(0)).is_err());
    let slice = slice(
        &Value::Str("hello".into()),
        &[None, None, Some(Value::int(-2))],
    )
    .unwrap();
    assert!(py_eq(&slice, &Value::Str("olh".into())));
    assert_eq!(
        order(&Value::int(1), &Value::Float(1.0)),
        Some(std::cmp::Ordering::Equal)
    );
}

#[test]
fn evalplus_tolerance_matches_its_oracle() {
    let m = |out: &str, exp: &str, atol: f64| {
        let w = |t: &str| Value::from_wire(&serde_json::from_str(t).unwrap()).unwrap();
        evalplus_match(&w(out), &w(exp), &Value::Float(atol)).unwrap()
    };
    assert!(m("0.5000001", "0.5", 0.0));
    assert!(!m("0.501", "0.5", 0.0));
    assert!(m("[1.0, 2.0000001]", "[1.0, 2.0]", 0.0));
    assert!(!m("[1, 2]", "[1, 3]", 0.0));
    assert!(m("2.00009", "2.0", 1e-4));
    assert!(!m("\"a\"", "\"b\"", 1e-4));
}

/// EvalPlus's checks of type and length: an empty list is not "close" to a float, and
/// nothing but an equal value matches an expected empty list.
#[test]
fn evalplus_closeness_checks_type_and_length() {
    let m = |out: &str, exp: &str, atol: f64| {
        let w = |t: &str| Value::from_wire(&serde_json::from_str(t).unwrap()).unwrap();
        evalplus_match(&w(out), &w(exp), &Value::Float(atol)).unwrap()
    };
    assert!(!m("[]", "0.5", 0.0));
    assert!(!m("[]", "0.5", 1e-3));
    assert!(!m("0.5", "[]", 1e-3));
    assert!(!m("[0.5]", "[]", 1e-3));
    assert!(!m("[0.5, 0.5]", "[0.5]", 1e-3));
    assert!(!m("1", "1.0000001", 0.0), "an int is not a float");
    assert!(m("[]", "[]", 0.0));
    assert!(m("{\"tuple\": [0.5000001]}", "{\"tuple\": [0.5]}", 0.0));
}

/// A forged record can repeat a pair in a dict or an item in a set; CPython would build
/// the smaller dict or set, which does not equal a larger one.
#[test]
fn a_repeated_pair_does_not_stand_for_a_missing_one() {
    let w = |t: &str| Value::from_wire(&serde_json::from_str(t).unwrap()).unwrap();
    let forged = Value::Dict(vec![
        (Value::int(1), Value::Str("a".into())),
        (Value::int(1), Value::Str("a".into())),
    ]);
    assert!(!py_eq(&forged, &w(r#"{"dict": [[1, "a"], [2, "b"]]}"#)));
    assert!(py_eq(&forged, &w(r#"{"dict": [[1, "a"]]}"#)));
    let last_wins = Value::Dict(vec![
        (Value::int(1), Value::Str("a".into())),
        (Value::int(1), Value::Str("b".into())),
    ]);
    assert!(py_eq(&last_wins, &w(r#"{"dict": [[1, "b"]]}"#)));
    let set = Value::Set(vec![Value::int(1), Value::int(1)]);
    assert!(!py_eq(&set, &w(r#"{"set": [1, 2]}"#)));
    assert!(py_eq(&set, &w(r#"{"set": [1]}"#)));
}
