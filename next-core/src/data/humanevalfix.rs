//! HumanEvalFix (HumanEvalPack Python, Muennighoff et al. 2023, MIT):
//! `humanevalpack-python.jsonl`, one record per HumanEval problem with a buggy solution.
//!
//! A task's id is `HumanEvalFix/N` (from `Python/N`), its program `prompt +
//! buggy_solution`, its spec the `docstring`, its tests the asserts of the record's
//! `check(candidate)` with the parameter renamed to the entry point (see
//! [`split_check`]). The metadata holds `dataset`, `bug_type`, `failure_symptoms` and
//! the `reference` program (`prompt + canonical_solution`), which the tests pass.
//!
//! The split is textual, where the verifier's `TestVerifier::split_check` runs a Python
//! planner in the sandbox: a loader then reads files without a sandbox, and the tests it
//! writes are the same statements, one per assert (the dataset's test tests check that
//! both give the same count, and that the verifier passes every reference and fails
//! every buggy program on them).

use std::path::Path;

use serde_json::json;

use super::{json_lines, read_text, str_field, DataError, Loaded};
use crate::task::{Program, RepairTask, TaskId, TestCase};

/// The shipped HumanEvalPack Python file's name under [`super::default_data_dir`].
pub const HUMANEVALFIX_FILE: &str = "humanevalpack-python.jsonl";

/// Reads HumanEvalFix (`humanevalpack-python.jsonl`).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; a record that cannot be used is in
/// [`Loaded::skipped`].
pub fn load(path: &Path) -> Result<Loaded, DataError> {
    let text = read_text(path)?;
    let mut loaded = Loaded::default();
    for (line, record) in json_lines(&text, &mut loaded) {
        let id = record
            .get("task_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        match task(&record) {
            Ok(task) => loaded.tasks.push(task),
            Err(reason) => loaded.skip(line, id, reason),
        }
    }
    Ok(loaded)
}

/// The number `N` of a `Python/N` or `HumanEval/N` id.
pub(crate) fn problem_number(task_id: &str) -> Option<u64> {
    task_id.rsplit_once('/')?.1.parse().ok()
}

fn task(record: &serde_json::Value) -> Result<RepairTask, String> {
    let task_id = str_field(record, "task_id")?;
    let n = problem_number(task_id).ok_or_else(|| format!("task_id {task_id:?} has no number"))?;
    let prompt = str_field(record, "prompt")?;
    let buggy = str_field(record, "buggy_solution")?;
    let canonical = str_field(record, "canonical_solution")?;
    let entry = str_field(record, "entry_point")?;
    let spec = str_field(record, "docstring")
        .or_else(|_| str_field(record, "text"))
        .unwrap_or_default();
    let split = split_check(str_field(record, "test")?, entry)?;
    let id = TaskId::new(format!("HumanEvalFix/{n}")).map_err(|e| e.message().to_owned())?;
    let mut task = RepairTask::new(
        id,
        spec.trim(),
        Program::new(format!("{prompt}{buggy}")),
        split.tests,
        entry,
    )
    .map_err(|e| e.message().to_owned())?;
    if !split.setup.trim().is_empty() {
        task.setup = Some(split.setup);
    }
    task.metadata
        .insert("dataset".into(), json!("humanevalfix"));
    task.metadata.insert("humaneval_id".into(), json!(n));
    for key in ["bug_type", "failure_symptoms"] {
        if let Ok(value) = str_field(record, key) {
            task.metadata.insert(key.into(), json!(value));
        }
    }
    task.metadata
        .insert("reference".into(), json!(format!("{prompt}{canonical}")));
    Ok(task)
}

/// A HumanEval-style test split into statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCheck {
    /// One test per assert of `check`, led by the statements of `check` before it that
    /// are not asserts (an import, a local variable), so that each stands alone; a
    /// compound statement holding asserts (a loop) is one test.
    pub tests: Vec<TestCase>,
    /// The test file's code outside `check` (helpers, constants), without the final
    /// `check(...)` call: the task's setup.
    pub setup: String,
}

/// Splits a HumanEval `test` (a `def check(candidate):` and, maybe, a call of it) into
/// one test per assert, with `check`'s parameter renamed to `entry_point`.
///
/// # Errors
/// A message when there is no `check` function or it holds no assert.
pub fn split_check(test: &str, entry_point: &str) -> Result<SplitCheck, String> {
    let lines: Vec<&str> = test.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("def check("))
        .ok_or("the test has no `def check(...)`")?;
    let param = lines[start]
        .strip_prefix("def check(")
        .and_then(|rest| rest.split([')', ':', ',']).next())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or("`check` has no parameter")?;
    let mut end = start + 1;
    while end < lines.len() {
        let line = lines[end];
        if !line.trim().is_empty() && !line.starts_with([' ', '\t']) {
            break;
        }
        end += 1;
    }
    let call = format!("check({param})");
    let mut setup: Vec<&str> = lines[..start].to_vec();
    setup.extend(
        lines[end..]
            .iter()
            .filter(|l| l.trim() != call && l.trim() != format!("check({entry_point})")),
    );
    let statements = statements(&lines[start + 1..end]);
    let mut prelude: Vec<String> = Vec::new();
    let mut tests = Vec::new();
    for statement in statements {
        let first = identifier_at(&statement);
        let holds_assert = contains_word(&statement, "assert");
        let is_test = first == "assert"
            || (holds_assert && matches!(first, "for" | "while" | "if" | "with" | "try"));
        let statement = if param == entry_point {
            statement
        } else {
            rename(&statement, param, entry_point)
        };
        if is_test {
            let mut code = prelude.join("\n");
            if !code.is_empty() {
                code.push('\n');
            }
            code.push_str(&statement);
            tests.push(TestCase::new(code).map_err(|e| e.message().to_owned())?);
        } else {
            prelude.push(statement);
        }
    }
    if tests.is_empty() {
        return Err("`check` holds no assert".to_owned());
    }
    let setup = setup.join("\n").trim().to_owned();
    Ok(SplitCheck {
        tests,
        setup: if setup.is_empty() {
            setup
        } else {
            format!("{setup}\n")
        },
    })
}

/// The statements of a function body, dedented: a statement starts at a line at the
/// body's indentation, outside brackets, strings and backslash continuations; comment
/// and blank lines between statements are dropped.
fn statements(body: &[&str]) -> Vec<String> {
    let indent = body
        .iter()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(0, |l| l.len() - l.trim_start().len());
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut scan = crate::python::LineScan::default();
    for &line in body {
        let at_boundary = !scan.continuing();
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        if at_boundary && blank {
            continue;
        }
        let this_indent = line.len() - line.trim_start().len();
        if at_boundary && this_indent <= indent {
            out.push(Vec::new());
        }
        if let Some(current) = out.last_mut() {
            current.push(line);
        }
        scan.line(line);
    }
    out.into_iter()
        .map(|lines| {
            let mut text = String::new();
            for (n, line) in lines.iter().enumerate() {
                if n > 0 {
                    text.push('\n');
                }
                let cut = line
                    .char_indices()
                    .take(indent)
                    .take_while(|&(_, c)| c == ' ' || c == '\t')
                    .count();
                text.push_str(line[cut..].trim_end());
            }
            text
        })
        .collect()
}

fn identifier_at(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

fn is_ident(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// `text` with every whole-word `from` made `to` (strings included: a test's messages
/// name the candidate rarely, and the rename there is harmless).
fn rename(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (i, _) in text.match_indices(from) {
        let before = text[..i].chars().next_back();
        let after = text[i + from.len()..].chars().next();
        if before.is_some_and(is_ident) || after.is_some_and(is_ident) || i < last {
            continue;
        }
        out.push_str(&text[last..i]);
        out.push_str(to);
        last = i + from.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;

    fn codes(split: &SplitCheck) -> Vec<&str> {
        split.tests.iter().map(TestCase::code).collect()
    }

    #[test]
    fn asserts_split_with_their_prelude_and_loops_stay_whole() {
        let test = "\nMETADATA = {}\n\ndef check(candidate):\n    import math\n    # a comment\n    assert candidate([1,\n        2]) == 3, \"msg (\"\n\n    xs = [1, 2]\n    for x in xs:\n        assert candidate([x]) == x\n    assert candidate_b(1) \\\n        == 1\n\ncheck(candidate)\n";
        let split = split_check(test, "add").unwrap();
        assert_eq!(
            codes(&split),
            [
                "import math\nassert add([1,\n    2]) == 3, \"msg (\"",
                "import math\nxs = [1, 2]\nfor x in xs:\n    assert add([x]) == x",
                "import math\nxs = [1, 2]\nassert candidate_b(1) \\\n    == 1",
            ]
        );
        assert_eq!(split.setup, "METADATA = {}\n");
    }

    #[test]
    fn a_test_without_check_or_asserts_is_refused() {
        assert!(split_check("assert f(1) == 1\n", "f").is_err());
        assert!(split_check("def check(f):\n    x = 1\n", "f").is_err());
    }

    #[test]
    fn humanevalfix_loads_every_problem_with_its_bug_type() {
        let Some(path) = test_data::file(HUMANEVALFIX_FILE) else {
            return;
        };
        let loaded = load(&path).unwrap();
        assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
        assert_eq!(loaded.tasks.len(), 164);
        let first = &loaded.tasks[0];
        assert_eq!(first.id.as_str(), "HumanEvalFix/0");
        assert_eq!(first.entry_point, "has_close_elements");
        assert_eq!(first.tests.len(), 7);
        assert_eq!(first.metadata["bug_type"], "missing logic");
        assert!(first.program.source().contains("distance = elem - elem2"));
        let mut bug_types = std::collections::BTreeMap::<String, usize>::new();
        for task in &loaded.tasks {
            let kind = task.metadata["bug_type"].as_str().unwrap().to_owned();
            *bug_types.entry(kind).or_default() += 1;
            assert!(task.setup.is_none(), "{}", task.id);
        }
        assert_eq!(bug_types["value misuse"], 44);
        assert_eq!(bug_types["function misuse"], 8);
        // Python/32: imports and a seeded generator lead the one loop holding the assert.
        let zero = &loaded.tasks[32];
        assert_eq!(zero.tests.len(), 1);
        assert!(zero.tests[0].code().starts_with("import math\n"));
        // Python/151: the locals before the last assert lead it.
        let last = loaded.tasks[151].tests.last().unwrap().code();
        assert!(
            last.starts_with("lst = list(range(-99, 100, 2))\n"),
            "{last}"
        );
    }
}
