//! Tests written as statements for the verifier: EvalPlus cases.
//!
//! An EvalPlus case is an input list, an expected output and a tolerance. It becomes the
//! statement `assert __next_evalplus__(ENTRY(*INPUTS), EXPECTED, ATOL)`, where
//! `__next_evalplus__` is EvalPlus's output check (`==`, else
//! `np.allclose(out, exp, rtol=1e-07, atol=atol)` when `atol` is set or the expected
//! output is a float or a sequence of floats, with `atol` at least `1e-6` then). The
//! planner splits it like any assert: `ENTRY(*INPUTS)` is the candidate's part, and the
//! expected output and the check stay with the judge.

use next_core::error::InvalidInput;
use next_core::task::TestCase;

use super::value::{float_repr, py_literal, Value};

/// The test for one EvalPlus case: `entry_point(*inputs)` must give `expected`, within
/// `atol` as EvalPlus checks it.
///
/// # Errors
/// [`InvalidInput`] when `entry_point` is not a Python identifier.
pub fn evalplus_test(
    entry_point: &str, inputs: &[Value], expected: &Value, atol: f64,
) -> Result<TestCase, InvalidInput> {
    let valid = entry_point
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_alphabetic())
        && entry_point.chars().all(|c| c == '_' || c.is_alphanumeric());
    if !valid {
        return Err(InvalidInput::new(format!(
            "{entry_point:?} is not a Python identifier"
        )));
    }
    let args = py_literal(&Value::List(inputs.to_vec()));
    let atol = if atol.is_finite() && atol > 0.0 {
        float_repr(atol)
    } else {
        "0".to_owned()
    };
    TestCase::new(format!(
        "assert __next_evalplus__({entry_point}(*{args}), {}, {atol})",
        py_literal(expected)
    ))
}

/// [`evalplus_test`] for inputs and an output read from JSON, as the EvalPlus files hold
/// them (arrays are lists; objects are dicts).
///
/// # Errors
/// [`InvalidInput`] when `inputs` is not an array or `entry_point` not an identifier.
pub fn evalplus_test_from_json(
    entry_point: &str, inputs: &serde_json::Value, expected: &serde_json::Value, atol: f64,
) -> Result<TestCase, InvalidInput> {
    let serde_json::Value::Array(items) = inputs else {
        return Err(InvalidInput::new("EvalPlus inputs must be a JSON array"));
    };
    let inputs: Vec<Value> = items.iter().map(Value::from_plain_json).collect();
    evalplus_test(
        entry_point,
        &inputs,
        &Value::from_plain_json(expected),
        atol,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_become_split_friendly_asserts() {
        let test = evalplus_test_from_json(
            "f",
            &serde_json::json!([[1.5, "a\n"], {"k": null}]),
            &serde_json::json!(true),
            1e-6,
        )
        .unwrap();
        assert_eq!(
            test.code(),
            "assert __next_evalplus__(f(*[[1.5, 'a\\n'], {'k': None}]), True, 1e-06)"
        );
        assert!(evalplus_test("f(x)", &[], &Value::None, 0.0).is_err());
    }
}
