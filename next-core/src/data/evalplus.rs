//! HumanEval+ (EvalPlus, Liu et al. 2023, Apache-2.0) and HumanEvalFix-Plus.
//!
//! `HumanEvalPlus-v0.1.10.jsonl` holds, per problem, the inputs of its tests
//! (`base_input`, `plus_input`), a tolerance (`atol`) and the corrected reference
//! solution, but **not** the expected outputs: EvalPlus computes them by running the
//! reference on each input. This module reads the inputs exactly ([`Json`]: integers of
//! any size, `Infinity`), writes the job that computes the outputs
//! ([`EvalPlusProblem::oracle_source`], run by the caller in a sandbox, since the
//! reference is data), reads that job's answer ([`read_oracle`]) and builds the
//! HumanEvalFix-Plus task ([`plus_task`]): the HumanEvalFix buggy program, judged by one
//! `assert __next_evalplus__(ENTRY(*INPUTS), EXPECTED, ATOL)` per input (the
//! verifier's EvalPlus check, the form of `next_verifiers::verify::evalplus_test`),
//! with HumanEvalFix's own asserts as the tests the prompt shows.
//!
//! EvalPlus's one special oracle, HumanEval/32 (`find_zero`: `|poly(xs, out)| <=
//! atol`), is written as that check rather than as an output comparison.

use std::path::Path;

use serde_json::json;

use super::{read_text, DataError, Json, Skipped};
use crate::task::{RepairTask, TaskId, TestCase};

/// One HumanEval+ problem as the inputs file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalPlusProblem {
    /// `HumanEval/N`.
    pub task_id: String,
    /// `N`.
    pub number: u64,
    /// The function the tests call.
    pub entry_point: String,
    /// The signature and docstring.
    pub prompt: String,
    /// EvalPlus's reference body (not always HumanEval's).
    pub canonical_solution: String,
    /// Each test's arguments as a Python list literal, `base_input` then `plus_input`.
    pub inputs: Vec<String>,
    /// The tolerance as written in the file (`0`, `1e-06`).
    pub atol: String,
}

/// What [`load_problems`] read.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// The problems, in file order.
    pub problems: Vec<EvalPlusProblem>,
    /// Records, or single inputs (`input K: ...`), that could not be used.
    pub skipped: Vec<Skipped>,
}

/// Reads `HumanEvalPlus-v0.1.10.jsonl` (or another version of the same form).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; a record or an input that cannot be
/// used is in [`Problems::skipped`].
pub fn load_problems(path: &Path) -> Result<Problems, DataError> {
    let text = read_text(path)?;
    let mut out = Problems::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut skip = |id: Option<String>, reason: String| {
            out.skipped.push(Skipped {
                line: index + 1,
                id,
                reason,
            });
        };
        let record = match Json::parse(line) {
            Ok(record) => record,
            Err(e) => {
                skip(None, format!("not JSON: {e}"));
                continue;
            }
        };
        let id = record
            .get("task_id")
            .and_then(Json::as_str)
            .map(str::to_owned);
        match problem(&record, &mut |reason| skip(id.clone(), reason)) {
            Ok(p) => out.problems.push(p),
            Err(reason) => out.skipped.push(Skipped {
                line: index + 1,
                id,
                reason,
            }),
        }
    }
    Ok(out)
}

fn field<'a>(record: &'a Json, name: &str) -> Result<&'a str, String> {
    record
        .get(name)
        .and_then(Json::as_str)
        .ok_or_else(|| format!("no string field `{name}`"))
}

fn problem(record: &Json, skip: &mut dyn FnMut(String)) -> Result<EvalPlusProblem, String> {
    let task_id = field(record, "task_id")?;
    let number = super::humanevalfix::problem_number(task_id)
        .ok_or_else(|| format!("task_id {task_id:?} has no number"))?;
    let atol = match record.get("atol") {
        None | Some(Json::Null) => "0".to_owned(),
        Some(Json::Number(n)) => n.clone(),
        Some(_) => return Err("`atol` is not a number".to_owned()),
    };
    let mut inputs = Vec::new();
    let mut index = 0;
    for key in ["base_input", "plus_input"] {
        match record.get(key) {
            None | Some(Json::Null) => {}
            Some(Json::Array(items)) => {
                for item in items {
                    match item {
                        Json::Array(_) => match item.to_python() {
                            Ok(lit) => inputs.push(lit),
                            Err(e) => skip(format!("input {index}: {e}")),
                        },
                        _ => skip(format!("input {index}: not an argument list")),
                    }
                    index += 1;
                }
            }
            Some(_) => return Err(format!("`{key}` is not a list")),
        }
    }
    if inputs.is_empty() {
        return Err("no usable inputs".to_owned());
    }
    Ok(EvalPlusProblem {
        task_id: task_id.to_owned(),
        number,
        entry_point: field(record, "entry_point")?.to_owned(),
        prompt: field(record, "prompt")?.to_owned(),
        canonical_solution: field(record, "canonical_solution")?.to_owned(),
        inputs,
        atol,
    })
}

/// The driver appended to the reference: reads one argument list a line on stdin,
/// calls the entry point on a copy, and prints one JSON line each, `{"ok": LITERAL}`
/// (the output as a Python literal that `ast.literal_eval` reads back) or `{"error":
/// WHY}`; each call has `PER_INPUT_S` seconds.
const DRIVER: &str = r#"

import ast as __next_ast, copy as __next_copy, json as __next_json, math as __next_math
import signal as __next_signal, sys as __next_sys

def __next_lit(v, depth=0):
    if depth > 64:
        raise ValueError("nested too deep")
    t = type(v)
    if t is int and v.bit_length() > 55000:
        raise ValueError("the expected output is an integer of %d bits, over the cap" % v.bit_length())
    if v is None or t is bool or t is int:
        return repr(v)
    if t is float:
        if __next_math.isnan(v):
            raise ValueError("nan has no literal")
        if __next_math.isinf(v):
            return "1e999" if v > 0 else "-1e999"
        return repr(v)
    if t is str:
        return repr(v)
    if t is list:
        return "[" + ", ".join(__next_lit(x, depth + 1) for x in v) + "]"
    if t is tuple:
        inner = ", ".join(__next_lit(x, depth + 1) for x in v)
        return "(" + inner + ("," if len(v) == 1 else "") + ")"
    if t is dict:
        return "{" + ", ".join(__next_lit(k, depth + 1) + ": " + __next_lit(x, depth + 1) for k, x in v.items()) + "}"
    if t is set and v:
        return "{" + ", ".join(sorted(__next_lit(x, depth + 1) for x in v)) + "}"
    if t is set:
        return "set()"
    raise TypeError("no literal for a " + t.__name__)

class __NextTimeout(BaseException):
    pass

def __next_alarm(signum, frame):
    raise __NextTimeout()

__next_signal.signal(__next_signal.SIGALRM, __next_alarm)
__next_sys.setrecursionlimit(max(__next_sys.getrecursionlimit(), 10000))
if hasattr(__next_sys, "set_int_max_str_digits"):
    __next_sys.set_int_max_str_digits(0)
__next_f = globals()[__NEXT_ENTRY]
for __next_line in __next_sys.stdin.read().splitlines():
    try:
        __next_args = __next_ast.literal_eval(__next_line)
        __next_signal.setitimer(__next_signal.ITIMER_REAL, __NEXT_PER_INPUT_S)
        try:
            __next_out = __next_f(*__next_copy.deepcopy(__next_args))
        finally:
            __next_signal.setitimer(__next_signal.ITIMER_REAL, 0)
        __next_answer = {"ok": __next_lit(__next_out)}
    except __NextTimeout:
        __next_answer = {"error": "the reference took longer than %s s" % __NEXT_PER_INPUT_S}
    except BaseException as e:
        __next_answer = {"error": type(e).__name__ + ": " + str(e)[:200]}
    print(__next_json.dumps(__next_answer), flush=True)
"#;

impl EvalPlusProblem {
    /// The reference program: `prompt + canonical_solution`.
    pub fn reference(&self) -> String {
        format!("{}{}", self.prompt, self.canonical_solution)
    }

    /// The job that computes the expected outputs: the reference and a driver that
    /// calls it on each line of [`EvalPlusProblem::oracle_stdin`], each call given
    /// `per_input_s` seconds. Run it in a sandbox: the reference is data.
    pub fn oracle_source(&self, per_input_s: f64) -> String {
        format!(
            "{}\n__NEXT_ENTRY = {}\n__NEXT_PER_INPUT_S = {per_input_s:?}\n{DRIVER}",
            self.reference(),
            super::str_literal(&self.entry_point)
        )
    }

    /// The oracle job's stdin: one argument list a line.
    pub fn oracle_stdin(&self) -> String {
        let mut text = self.inputs.join("\n");
        text.push('\n');
        text
    }
}

/// The longest expected output, as a literal, that becomes a test: HumanEval+ holds a
/// few extreme inputs whose outputs run to megabytes (`string_sequence`, `tri`,
/// `make_a_pile`), past what the verifier reads back from a candidate; such an input is
/// reported, not judged. It also keeps integers under the judge's 19,729 digits.
pub const MAX_EXPECTED_BYTES: usize = 16 << 10;

/// The oracle job's answer, one entry per input: the expected output as a Python
/// literal, or why there is none (the reference raised, took too long, or returned a
/// value without a literal or one longer than [`MAX_EXPECTED_BYTES`]; inputs past the end of a cut-short answer have
/// `"no answer"`).
pub fn read_oracle(stdout: &str, inputs: usize) -> Vec<Result<String, String>> {
    let mut out: Vec<Result<String, String>> = stdout
        .lines()
        .take(inputs)
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("unreadable answer: {e}"))?;
            if let Some(ok) = value.get("ok").and_then(serde_json::Value::as_str) {
                if ok.len() > MAX_EXPECTED_BYTES {
                    return Err(format!(
                        "the expected output is {} bytes, over the {MAX_EXPECTED_BYTES}-byte cap",
                        ok.len()
                    ));
                }
                return Ok(ok.to_owned());
            }
            Err(value
                .get("error")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("an answer without a value")
                .to_owned())
        })
        .collect();
    while out.len() < inputs {
        out.push(Err(
            "no answer (the oracle job stopped before it)".to_owned()
        ));
    }
    out
}

/// The judging test of one input: EvalPlus's output check, or for `find_zero`
/// (HumanEval/32) its special oracle.
///
/// # Errors
/// A message for a blank test (it cannot happen for non-empty literals).
pub fn plus_test(
    problem: &EvalPlusProblem, input: &str, expected: &str,
) -> Result<TestCase, String> {
    let entry = &problem.entry_point;
    let code = if problem.number == 32 && entry == "find_zero" {
        let atol = if problem.atol == "0" {
            "1e-06"
        } else {
            &problem.atol
        };
        format!(
            "import math\n__next_args = {input}\n__next_x = {entry}(*__next_args)\n\
             assert abs(sum(c * math.pow(__next_x, i) for i, c in enumerate(__next_args[0]))) <= {atol}"
        )
    } else {
        format!(
            "assert __next_evalplus__({entry}(*{input}), {expected}, {})",
            problem.atol
        )
    };
    TestCase::new(code).map_err(|e| e.message().to_owned())
}

/// The HumanEvalFix-Plus task of a HumanEvalFix task: id `HumanEvalFixPlus/N`, the same
/// buggy program, judged by one [`plus_test`] per input that has an expected output,
/// HumanEvalFix's asserts kept as [`RepairTask::shown_tests`]. The metadata adds
/// `dataset`, the EvalPlus `reference` (the tests' oracle) and `plus_inputs`. Inputs
/// without an expected output are returned with their reason.
///
/// # Errors
/// A message when the entry points differ or no input has an expected output.
pub fn plus_task(
    fix: &RepairTask, problem: &EvalPlusProblem, expected: &[Result<String, String>],
) -> Result<(RepairTask, Vec<String>), String> {
    if fix.entry_point != problem.entry_point {
        return Err(format!(
            "entry point {:?} is {:?} in the EvalPlus file",
            fix.entry_point, problem.entry_point
        ));
    }
    let mut tests = Vec::new();
    let mut dropped = Vec::new();
    for (index, (input, answer)) in problem.inputs.iter().zip(expected).enumerate() {
        match answer {
            Ok(out) => tests.push(plus_test(problem, input, out)?),
            Err(why) => dropped.push(format!("input {index}: {why}")),
        }
    }
    if tests.is_empty() {
        return Err("no input has an expected output".to_owned());
    }
    let mut task = fix.clone();
    task.id = TaskId::new(format!("HumanEvalFixPlus/{}", problem.number))
        .map_err(|e| e.message().to_owned())?;
    task.shown_tests = std::mem::replace(&mut task.tests, tests);
    task.metadata
        .insert("dataset".into(), json!("humanevalfix-plus"));
    task.metadata
        .insert("reference".into(), json!(problem.reference()));
    task.metadata
        .insert("plus_inputs".into(), json!(problem.inputs.len()));
    Ok((task, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;

    fn problem(number: u64, entry: &str) -> EvalPlusProblem {
        EvalPlusProblem {
            task_id: format!("HumanEval/{number}"),
            number,
            entry_point: entry.into(),
            prompt: "def f(x):\n".into(),
            canonical_solution: "    return x\n".into(),
            inputs: vec!["[1]".into(), "[[2, 3]]".into()],
            atol: "0".into(),
        }
    }

    #[test]
    fn oracle_answers_become_tests_and_missing_ones_are_reported() {
        let p = problem(0, "f");
        let huge = format!("{{\"ok\": \"{}\"}}\n", "7".repeat(MAX_EXPECTED_BYTES + 1));
        assert!(read_oracle(&huge, 1)[0]
            .as_ref()
            .unwrap_err()
            .contains("cap"));
        let answers = read_oracle("{\"ok\": \"1\"}\n", 2);
        assert_eq!(answers[0], Ok("1".to_owned()));
        assert!(answers[1].is_err());
        let fix = crate::task::fixture(
            "HumanEvalFix/0",
            "s",
            "def f(x):\n    return 0\n",
            "assert f(1) == 1",
        );
        let (task, dropped) = plus_task(&fix, &p, &answers).unwrap();
        assert_eq!(task.id.as_str(), "HumanEvalFixPlus/0");
        assert_eq!(task.tests.len(), 1);
        assert_eq!(
            task.tests[0].code(),
            "assert __next_evalplus__(f(*[1]), 1, 0)"
        );
        assert_eq!(task.shown_tests, fix.tests);
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].starts_with("input 1: no answer"), "{dropped:?}");
        let other = problem(0, "g");
        assert!(plus_task(&fix, &other, &answers).is_err());
        assert!(plus_task(&fix, &p, &[Err("x".into()), Err("y".into())]).is_err());
    }

    #[test]
    fn find_zero_is_judged_by_its_special_oracle() {
        let mut p = problem(32, "find_zero");
        p.atol = "0.0001".into();
        let test = plus_test(&p, "[[1, 2]]", "-0.5").unwrap();
        assert!(test.code().ends_with("<= 0.0001"), "{}", test.code());
        assert!(test.code().contains("__next_x = find_zero(*__next_args)"));
    }

    #[test]
    fn the_driver_is_told_the_entry_point_and_inputs() {
        let p = problem(0, "f");
        let source = p.oracle_source(2.5);
        assert!(source.starts_with("def f(x):\n    return x\n"));
        assert!(source.contains("__NEXT_ENTRY = 'f'\n__NEXT_PER_INPUT_S = 2.5\n"));
        assert_eq!(p.oracle_stdin(), "[1]\n[[2, 3]]\n");
    }

    #[test]
    fn humaneval_plus_inputs_load_exactly() {
        let Some(path) = test_data::file("HumanEvalPlus-v0.1.10.jsonl") else {
            return;
        };
        let loaded = load_problems(&path).unwrap();
        assert!(
            loaded.skipped.is_empty(),
            "{:?}",
            &loaded.skipped[..3.min(loaded.skipped.len())]
        );
        assert_eq!(loaded.problems.len(), 164);
        let inputs: usize = loaded.problems.iter().map(|p| p.inputs.len()).sum();
        assert_eq!(inputs, 1_570 + 122_683);
        let atol: Vec<(u64, &str)> = loaded
            .problems
            .iter()
            .filter(|p| p.atol != "0")
            .map(|p| (p.number, p.atol.as_str()))
            .collect();
        assert_eq!(atol.iter().map(|a| a.0).collect::<Vec<_>>(), [2, 4, 32]);
        // Integers past 64 bits keep every digit.
        let longest = loaded
            .problems
            .iter()
            .flat_map(|p| &p.inputs)
            .flat_map(|lit| lit.split(|c: char| !c.is_ascii_digit()))
            .map(str::len)
            .max()
            .unwrap();
        assert!(longest > 20, "{longest}");
    }
}
