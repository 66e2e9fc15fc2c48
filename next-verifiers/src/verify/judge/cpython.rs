//! The judge against CPython: generated judgements over generated plain values,
//! evaluated here and by a real interpreter, must give the same value or raise the same
//! exception type, unless the judge declines (`NotModeled`: the verifier then asks the
//! trusted judge job, which is CPython). This is what lets the judge stand in for Python
//! on the values a program returns.
//!
//! The interpreter is `NEXT_PYTHON`, else pyenv's 3.11, else `python3`; where none
//! runs, the test says so and checks nothing else (CI has one). EvalPlus's closeness
//! check is compared with the planner's own Python version of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::Command;

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};

use super::eval::{eval, Halt, Holes};
use super::expr::{BinOp, CompareOp, Expr, UnOp};
use crate::verify::value::{float_repr, py_literal, CmpOp, PyErr, Value};

/// A judgement and its Python source.
#[derive(Debug, Clone)]
struct Case {
    expr: Expr,
    src: String,
}

fn constant(v: Value) -> Case {
    Case {
        // In parentheses: `-4 ** 0` is `-(4 ** 0)`.
        src: format!("({})", py_literal(&v)),
        expr: Expr::Const(v),
    }
}

/// Values that are pairwise unequal and hashable: the members of generated sets and
/// the keys of generated dicts.
fn distinct() -> Vec<Value> {
    vec![
        Value::int(0),
        Value::int(1),
        Value::int(2),
        Value::Float(2.5),
        Value::Str("a".into()),
        Value::Str("b".into()),
        Value::Tuple(vec![Value::int(1), Value::int(2)]),
    ]
    .into_iter()
    .collect()
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        (-6_i64..7).prop_map(Value::int),
        prop_oneof![Just(1_i64 << 40), Just(-(1_i64 << 62))].prop_map(Value::int),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.5,
            1.0,
            -2.5,
            3.0,
            0.1,
            1e16,
            1e-7,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ])
        .prop_map(Value::Float),
        prop::sample::select(vec!["", "a", "b", "ab", "ba", "B"])
            .prop_map(|s| Value::Str(s.to_owned())),
        prop::sample::select(vec![&b""[..], b"a", b"ab"]).prop_map(|b| Value::Bytes(b.to_vec())),
        Just(Value::Complex(1.0, 2.0)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 12, 3, |inner| {
        let keys = distinct();
        let picks = keys.len();
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::btree_set(0..picks, 0..4).prop_map({
                let keys = keys.clone();
                move |idx| Value::Set(idx.into_iter().map(|i| keys[i].clone()).collect())
            }),
            (
                prop::collection::btree_set(0..picks, 0..3),
                prop::collection::vec(inner, 3)
            )
                .prop_map(move |(idx, vals)| {
                    Value::Dict(
                        idx.into_iter()
                            .zip(vals)
                            .map(|(i, v)| (keys[i].clone(), v))
                            .collect(),
                    )
                }),
        ]
    })
}

const COMPARISONS: [(&str, CompareOp); 8] = [
    ("==", CompareOp::Rich(CmpOp::Eq)),
    ("!=", CompareOp::Rich(CmpOp::Ne)),
    ("<", CompareOp::Rich(CmpOp::Lt)),
    ("<=", CompareOp::Rich(CmpOp::Le)),
    (">", CompareOp::Rich(CmpOp::Gt)),
    (">=", CompareOp::Rich(CmpOp::Ge)),
    ("in", CompareOp::In),
    ("not in", CompareOp::NotIn),
];

const ARITHMETIC: [(&str, BinOp); 6] = [
    ("+", BinOp::Add),
    ("-", BinOp::Sub),
    ("*", BinOp::Mul),
    ("/", BinOp::Div),
    ("//", BinOp::FloorDiv),
    ("%", BinOp::Mod),
];

const ONE_ARGUMENT: [&str; 21] = [
    "abs",
    "len",
    "set",
    "frozenset",
    "sorted",
    "list",
    "tuple",
    "min",
    "max",
    "sum",
    "all",
    "any",
    "bool",
    "float",
    "int",
    "math.fabs",
    "math.floor",
    "math.ceil",
    "math.sqrt",
    "math.isnan",
    "math.isinf",
];

fn call(name: &str, args: Vec<Case>) -> Case {
    let src = format!(
        "{name}({})",
        args.iter()
            .map(|a| a.src.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Case {
        expr: Expr::Call(
            name.to_owned(),
            args.into_iter().map(|a| a.expr).collect(),
            Vec::new(),
        ),
        src,
    }
}

fn case() -> impl Strategy<Value = Case> {
    value()
        .prop_map(constant)
        .prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                (
                    prop::sample::select(COMPARISONS.to_vec()),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|((sym, op), a, b)| Case {
                        src: format!("({} {sym} {})", a.src, b.src),
                        expr: Expr::Compare {
                            left: Box::new(a.expr),
                            ops: vec![op],
                            rights: vec![b.expr],
                        },
                    }),
                (
                    prop::sample::select(ARITHMETIC.to_vec()),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|((sym, op), a, b)| Case {
                        src: format!("({} {sym} {})", a.src, b.src),
                        expr: Expr::Binary(op, Box::new(a.expr), Box::new(b.expr)),
                    }),
                (inner.clone(), -3_i64..4).prop_map(|(a, e)| Case {
                    src: format!("({} ** {e})", a.src),
                    expr: Expr::Binary(
                        BinOp::Pow,
                        Box::new(a.expr),
                        Box::new(Expr::Const(Value::int(e)))
                    ),
                }),
                (
                    prop::sample::select(vec![
                        ("not ", UnOp::Not),
                        ("-", UnOp::Neg),
                        ("+", UnOp::Pos),
                        ("~", UnOp::Invert)
                    ]),
                    inner.clone()
                )
                    .prop_map(|((sym, op), a)| Case {
                        src: format!("({sym}{})", a.src),
                        expr: Expr::Unary(op, Box::new(a.expr)),
                    }),
                (prop::sample::select(ONE_ARGUMENT.to_vec()), inner.clone())
                    .prop_map(|(name, a)| call(name, vec![a])),
                (
                    prop::sample::select(vec!["min", "max", "math.isclose", "sum"]),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|(name, a, b)| call(name, vec![a, b])),
                (
                    inner.clone(),
                    inner.clone(),
                    prop::sample::select(vec![0.0, 1e-6, 0.5])
                )
                    .prop_map(|(a, b, atol)| {
                        call(
                            "__next_evalplus__",
                            vec![a, b, constant(Value::Float(atol))],
                        )
                    }),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Case {
                    src: format!("({})[{}]", a.src, b.src),
                    expr: Expr::Index(Box::new(a.expr), Box::new(b.expr)),
                }),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Case {
                    src: format!("({} and {})", a.src, b.src),
                    expr: Expr::And(vec![a.expr, b.expr]),
                }),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Case {
                    src: format!("({} or {})", a.src, b.src),
                    expr: Expr::Or(vec![a.expr, b.expr]),
                }),
                (inner.clone(), inner.clone(), inner).prop_map(|(t, a, b)| Case {
                    src: format!("({} if {} else {})", a.src, t.src, b.src),
                    expr: Expr::IfExp(Box::new(t.expr), Box::new(a.expr), Box::new(b.expr)),
                }),
            ]
        })
}

/// A value's canonical text, the same as `CANON` writes in Python: sets sorted, floats
/// by `repr`.
fn canon(v: &Value, out: &mut String) {
    let seq = |name: &str, items: &[Value], sort: bool, out: &mut String| {
        let mut parts: Vec<String> = items
            .iter()
            .map(|x| {
                let mut s = String::new();
                canon(x, &mut s);
                s
            })
            .collect();
        if sort {
            parts.sort();
        }
        let _ = write!(out, "{name}[{}]", parts.join(","));
    };
    match v {
        Value::Float(f) => {
            let _ = write!(
                out,
                "f:{}",
                if f.is_nan() {
                    "nan".to_owned()
                } else {
                    float_repr(*f)
                }
            );
        }
        Value::Complex(re, im) => {
            out.push_str("c:");
            canon(&Value::Float(*re), out);
            out.push(',');
            canon(&Value::Float(*im), out);
        }
        Value::List(items) => seq("list", items, false, out),
        Value::Tuple(items) => seq("tuple", items, false, out),
        Value::Set(items) => seq("set", items, true, out),
        Value::FrozenSet(items) => seq("frozenset", items, true, out),
        Value::Dict(pairs) => {
            out.push_str("dict[");
            for (k, x) in pairs {
                canon(k, out);
                out.push(':');
                canon(x, out);
                out.push(',');
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{}:{}", other.type_name(), other.repr(usize::MAX / 2));
        }
    }
}

const CANON: &str = r#"
def canon(v):
    t = type(v)
    if t is float:
        return "f:" + ("nan" if v != v else repr(v))
    if t is complex:
        return "c:" + canon(v.real) + "," + canon(v.imag)
    if t in (list, tuple):
        return t.__name__ + "[" + ",".join(canon(x) for x in v) + "]"
    if t in (set, frozenset):
        return t.__name__ + "[" + ",".join(sorted(canon(x) for x in v)) + "]"
    if t is dict:
        return "dict[" + "".join(canon(k) + ":" + canon(x) + "," for k, x in v.items()) + "]"
    return ("NoneType" if v is None else t.__name__) + ":" + repr(v)
"#;

fn python() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("NEXT_PYTHON").map(std::path::PathBuf::from),
        Some("/root/.pyenv/versions/3.11.7/bin/python3.11".into()),
        Some("python3".into()),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-I", "-S", "-c", "pass"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Each source's outcome in CPython: `=canon` or `!ExceptionType`.
fn cpython(python: &std::path::Path, sources: &[String]) -> Vec<String> {
    // EvalPlus's check, as the planner and the candidate harness both run it.
    let evalplus = include_str!("../../../harness/evalplus.py");
    // The sources travel inside the script, as a JSON string (also a Python literal).
    let sources = serde_json::to_string(&serde_json::to_string(sources).unwrap()).unwrap();
    let script = format!(
        "import json, math\n{evalplus}\n{CANON}\nfor src in json.loads({sources}):\n    \
         try:\n        print('=' + canon(eval(src)))\n    \
         except Exception as e:\n        print('!' + type(e).__name__)\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("judge_reference.py");
    std::fs::write(&path, script).unwrap();
    let out = Command::new(python)
        .args(["-I", "-S"])
        .arg(&path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn judged(expr: &Expr) -> String {
    let holes = Holes {
        sources: &[],
        results: &[],
        py: &[],
    };
    match eval(expr, &holes) {
        Ok(v) => {
            let mut s = "=".to_owned();
            canon(&v, &mut s);
            s
        }
        Err(Halt::Py(e)) => format!("!{}", e.kind),
        Err(Halt::Outcome(o)) => format!("?{o:?}"),
    }
}

#[test]
fn the_judge_agrees_with_cpython_on_generated_judgements() {
    let Some(python) = python() else {
        eprintln!("no Python interpreter runs here: the judge is not compared with CPython");
        return;
    };
    let mut runner = TestRunner::new(Config {
        cases: 1,
        ..Config::default()
    });
    let strategy = prop::collection::vec(case(), 10_000);
    let cases = strategy.new_tree(&mut runner).unwrap().current();
    let sources: Vec<String> = cases.iter().map(|c| c.src.clone()).collect();
    let expected = cpython(&python, &sources);
    assert_eq!(
        expected.len(),
        cases.len(),
        "the interpreter answered every case"
    );
    let mut disagreements = Vec::new();
    let mut deferred = 0;
    for (case, want) in cases.iter().zip(&expected) {
        let got = judged(&case.expr);
        if got == format!("!{}", PyErr::NOT_MODELED) {
            // The verifier asks the trusted judge job, which is CPython.
            deferred += 1;
        } else if &got != want {
            disagreements.push(format!("{}\n    judge {got}\n  cpython {want}", case.src));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} judgements differ from CPython, e.g.:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements[..disagreements.len().min(12)].join("\n")
    );
    assert!(
        deferred * 10 < cases.len(),
        "the judge computes most judgements itself ({deferred} of {} deferred)",
        cases.len()
    );
}
