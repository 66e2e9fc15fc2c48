//! Plain values against CPython's semantics.

use super::*;

fn wire(text: &str) -> Value {
    Value::from_wire(&serde_json::from_str(text).unwrap()).unwrap()
}

#[test]
fn numbers_compare_across_types_as_python_does() {
    assert!(py_eq(&wire("1"), &wire("1.0")));
    assert!(py_eq(&wire("true"), &wire("1")));
    assert!(!py_eq(
        &wire(r#"{"float":"nan"}"#),
        &wire(r#"{"float":"nan"}"#)
    ));
    let big = wire(r#"{"int":"9007199254740993"}"#);
    assert!(!py_eq(&big, &Value::Float(9_007_199_254_740_992.0)));
    assert!(compare(CmpOp::Gt, &big, &Value::Float(9_007_199_254_740_992.0)).unwrap());
    assert!(compare(CmpOp::Lt, &Value::int(2), &Value::Float(2.5)).unwrap());
    assert!(!compare(CmpOp::Lt, &Value::int(3), &Value::Float(2.5)).unwrap());
    assert!(compare(CmpOp::Lt, &Value::int(1), &Value::Str("a".into())).is_err());
}

#[test]
fn containers_follow_python_equality() {
    assert!(!py_eq(&wire("[1, 2]"), &wire(r#"{"tuple":[1,2]}"#)));
    assert!(py_eq(
        &wire(r#"{"set":[1,2]}"#),
        &wire(r#"{"frozenset":[2,1.0]}"#)
    ));
    assert!(py_eq(
        &wire(r#"{"dict":[[1,"a"],["b",[2]]]}"#),
        &wire(r#"{"dict":[["b",[2.0]],[true,"a"]]}"#)
    ));
    assert!(compare(CmpOp::Lt, &wire("[1, 2]"), &wire("[1, 3]")).unwrap());
    assert!(compare(CmpOp::Lt, &wire("[1, 2]"), &wire("[1, 2, 0]")).unwrap());
    assert!(contains(&wire(r#"{"set":[1,2]}"#), &Value::Float(2.0)).unwrap());
    assert!(contains(&wire("[[1]]"), &wire("[1]")).unwrap());
}

#[test]
fn reprs_match_python() {
    for (f, text) in [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-1.5e-7, "-1.5e-07"),
        (123.456, "123.456"),
        (2.5e300, "2.5e+300"),
    ] {
        assert_eq!(float_repr(f), text);
    }
    assert_eq!(wire(r#"{"tuple":[1]}"#).repr(100), "(1,)");
    assert_eq!(
        wire(r#"{"complex":[-2.0,2.4492935982947064e-16]}"#).repr(100),
        "(-2+2.4492935982947064e-16j)"
    );
    assert_eq!(Value::Complex(0.0, 1.0).repr(100), "1j");
    assert!(py_eq(&Value::Complex(2.0, 0.0), &Value::int(2)));
    assert_eq!(wire(r#"["it's", "a"]"#).repr(100), "[\"it's\", 'a']");
    assert_eq!(wire(r#"{"bytes":"00ff41"}"#).repr(100), "b'\\x00\\xffA'");
    assert_eq!(wire("[1, 2, 3, 4, 5, 6]").repr(8), "[1, 2, 3...");
    assert_eq!(
        py_literal(&wire(r#"{"tuple":[{"float":"inf"}, "é"]}"#)),
        "(float('inf'), '\\U000000e9')"
    );
}

#[test]
fn malformed_wire_values_are_errors() {
    for text in [
        r#"{"a":1,"b":2}"#,
        r#"{"int":"x"}"#,
        r#"{"bytes":"0"}"#,
        r#"{"set":[[1]]}"#,
    ] {
        assert!(
            Value::from_wire(&serde_json::from_str(text).unwrap()).is_err(),
            "{text}"
        );
    }
}

#[test]
fn nested_sets_read_in_linear_time_and_deduplicate_by_python_equality() {
    // Each level's elements are keyed once: deduplicating every level by keys computed
    // afresh cost the depth times the size (4 s for this one).
    let mut text = format!("\"{}\"", "x".repeat(16_000_000));
    for _ in 0..60 {
        text = format!("{{\"frozenset\":[{text},1]}}");
    }
    let start = std::time::Instant::now();
    let _ = Value::from_wire(&serde_json::from_str(&text).unwrap());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    let v = wire(
        r#"{"set":[{"frozenset":[1,1.0,true]},{"frozenset":[{"tuple":[1,2]},{"tuple":[1.0,2]}]},{"frozenset":[1]},{"tuple":[{"frozenset":[2,3]}]},{"tuple":[{"frozenset":[3,2.0]}]}]}"#,
    );
    let Value::Set(items) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(items.len(), 3, "{v:?}");
    assert!(
        Value::from_wire(&serde_json::from_str(r#"{"set":[{"tuple":[[1]]}]}"#).unwrap()).is_err()
    );
}
