//! The repair task: what the model is asked to fix, and the tests that judge the fix.
//!
//! A [`RepairTask`] is the unit every role works on. Tasks are read from and written to
//! JSON Lines, one task a line (see [`crate::jsonl`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::jsonl::JsonlError;

/// A task's identifier, such as `"mbpp/11"` or `"HumanEval/0"`.
///
/// Invariant: never empty, and holds no line break (ids appear in file names and logs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

impl TaskId {
    /// Makes an id.
    ///
    /// # Errors
    /// [`InvalidInput`] when `id` is empty or holds a line break.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidInput> {
        let id = id.into();
        if id.is_empty() {
            return Err(InvalidInput::new("a task id must not be empty"));
        }
        if id.contains(['\n', '\r']) {
            return Err(InvalidInput::new(format!(
                "task id {id:?} holds a line break"
            )));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TaskId {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TaskId> for String {
    fn from(value: TaskId) -> Self {
        value.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The source text of a Python program: a buggy program, a fix, a reference solution.
///
/// It is untrusted text: nothing in this crate executes it; only a
/// [`Sandbox`](crate::sandbox::Sandbox) does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Program(String);

impl Program {
    /// Wraps source text. Any text is a program; whether it runs is the sandbox's business.
    pub fn new(source: impl Into<String>) -> Self {
        Self(source.into())
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.0
    }

    /// The source with line endings, trailing whitespace, blank lines and whole-line
    /// comments removed: two programs with the same normal form are the same fix for the
    /// purpose of keeping distinct rationales (`self-training.md`, "distinct by
    /// normalised code").
    ///
    /// A line inside a triple-quoted string that starts with `#` is dropped too; such
    /// programs are rare and the cost is only that two near-identical fixes count as one.
    pub fn normalized(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for line in self.0.lines() {
            let line = line.trim_end();
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One test: an executable Python statement run after the program, such as an MBPP
/// `assert f(1) == 2` line or one assert of a HumanEval `check(candidate)` with
/// `candidate` bound to the entry point.
///
/// Invariant: the code is not blank. It may span several lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TestCase(String);

impl TestCase {
    /// Makes a test from its statement.
    ///
    /// # Errors
    /// [`InvalidInput`] when `code` is blank.
    pub fn new(code: impl Into<String>) -> Result<Self, InvalidInput> {
        let code = code.into();
        if code.trim().is_empty() {
            return Err(InvalidInput::new("a test statement must not be blank"));
        }
        Ok(Self(code))
    }

    /// The statement.
    pub fn code(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TestCase {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TestCase> for String {
    fn from(value: TestCase) -> Self {
        value.0
    }
}

/// One repair task: the specification `x`, the buggy program `y~` and the tests `T` of
/// `self-training.md`.
///
/// Invariant: at least one test (a fix cannot be judged without one). Deserialising
/// checks it, like [`RepairTask::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTask")]
pub struct RepairTask {
    /// Stable identifier.
    pub id: TaskId,
    /// The natural-language specification (MBPP `text`, HumanEval docstring).
    pub spec: String,
    /// The buggy program to repair.
    pub program: Program,
    /// The tests that a fix must pass, in order: the judging tests, which the verifier
    /// runs.
    pub tests: Vec<TestCase>,
    /// The tests shown in the prompt and traced there, where they differ from the
    /// judging tests (HumanEvalFix-Plus shows HumanEvalFix's own asserts and is judged by
    /// the HumanEval+ cases); empty when the prompt shows [`RepairTask::tests`]. See
    /// [`RepairTask::prompt_tests`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shown_tests: Vec<TestCase>,
    /// The function the tests call.
    pub entry_point: String,
    /// Code the tests need, run after the program and before the tests (MBPP
    /// `test_setup_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// Anything else known about the task, such as `bug_type`; kept, never interpreted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl RepairTask {
    /// Makes a task with no setup code and no metadata.
    ///
    /// # Errors
    /// [`InvalidInput`] when `tests` is empty.
    pub fn new(
        id: TaskId, spec: impl Into<String>, program: Program, tests: Vec<TestCase>,
        entry_point: impl Into<String>,
    ) -> Result<Self, InvalidInput> {
        RawTask {
            id,
            spec: spec.into(),
            program,
            tests,
            shown_tests: Vec::new(),
            entry_point: entry_point.into(),
            setup: None,
            metadata: BTreeMap::new(),
        }
        .try_into()
    }

    /// The tests the prompt shows and the tracer runs: [`RepairTask::shown_tests`] where
    /// there are any, else the judging [`RepairTask::tests`].
    pub fn prompt_tests(&self) -> &[TestCase] {
        if self.shown_tests.is_empty() {
            &self.tests
        } else {
            &self.shown_tests
        }
    }

    /// The program a verifier runs for a candidate fix of this task: the fix followed by
    /// the task's setup code, if any.
    pub fn with_setup(&self, fix: &Program) -> Program {
        match &self.setup {
            Some(setup) if !setup.trim().is_empty() => {
                Program::new(format!("{}\n\n{setup}\n", fix.source().trim_end()))
            }
            _ => fix.clone(),
        }
    }
}

/// Reads a JSON Lines file of repair tasks, one a line (blank lines skipped): the form
/// `next data import` writes and a run's `tasks/*.jsonl` hold.
///
/// # Errors
/// [`JsonlError::Io`] when the file cannot be read; [`JsonlError::Malformed`] naming
/// the line of a task that does not parse (an unknown field included) or is invalid;
/// [`JsonlError::Duplicate`] naming the lines of a repeated task id.
pub fn read_tasks(path: &std::path::Path) -> Result<Vec<RepairTask>, JsonlError> {
    let text = std::fs::read_to_string(path).map_err(|source| JsonlError::Io {
        action: "reading",
        path: path.to_owned(),
        source,
    })?;
    let mut tasks = Vec::new();
    let mut first_line = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let task: RepairTask =
            serde_json::from_str(line).map_err(|source| JsonlError::Malformed {
                path: path.to_owned(),
                line: index + 1,
                source,
            })?;
        if let Some(&first) = first_line.get(&task.id) {
            return Err(JsonlError::Duplicate {
                path: path.to_owned(),
                line: index + 1,
                first,
                key: task.id.to_string(),
            });
        }
        first_line.insert(task.id.clone(), index + 1);
        tasks.push(task);
    }
    Ok(tasks)
}

/// The unchecked wire form of a task. A field it does not know is refused: a
/// misspelt field (`"tsets"`) must not pass as a task without it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    id: TaskId,
    spec: String,
    program: Program,
    tests: Vec<TestCase>,
    #[serde(default)]
    shown_tests: Vec<TestCase>,
    entry_point: String,
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

impl TryFrom<RawTask> for RepairTask {
    type Error = InvalidInput;
    fn try_from(raw: RawTask) -> Result<Self, Self::Error> {
        if raw.tests.is_empty() {
            return Err(InvalidInput::new(format!("task {} has no tests", raw.id)));
        }
        Ok(Self {
            id: raw.id,
            spec: raw.spec,
            program: raw.program,
            tests: raw.tests,
            shown_tests: raw.shown_tests,
            entry_point: raw.entry_point,
            setup: raw.setup,
            metadata: raw.metadata,
        })
    }
}

/// A task with one test and the entry point `f`, for tests.
#[cfg(test)]
pub(crate) fn fixture(id: &str, spec: &str, program: &str, test: &str) -> RepairTask {
    let tests = TestCase::new(test).into_iter().collect();
    match TaskId::new(id).map(|id| RepairTask::new(id, spec, Program::new(program), tests, "f")) {
        Ok(Ok(task)) => task,
        _ => panic!("a bad fixture: {id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_without_tests_is_rejected_on_read() {
        let line = r#"{"id":"t","spec":"s","program":"x=1","tests":[],"entry_point":"f"}"#;
        let err = serde_json::from_str::<RepairTask>(line).unwrap_err();
        assert!(err.to_string().contains("has no tests"), "{err}");
    }

    #[test]
    fn empty_ids_and_blank_tests_are_rejected() {
        assert!(TaskId::new("").is_err());
        assert!(TaskId::new("a\nb").is_err());
        assert!(TestCase::new("  \n").is_err());
        let line = r#"{"id":"","spec":"s","program":"","tests":["assert 1"],"entry_point":"f"}"#;
        assert!(serde_json::from_str::<RepairTask>(line).is_err());
    }

    #[test]
    fn task_round_trips_through_json() {
        let mut task = crate::task::fixture(
            "mbpp/2",
            "spec",
            "def f():\n    return 1\n",
            "assert f() == 1",
        );
        task.metadata
            .insert("bug_type".into(), serde_json::json!("value misuse"));
        let line = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<RepairTask>(&line).unwrap(), task);
    }

    #[test]
    fn shown_tests_are_optional_and_lead_the_prompt_only() {
        let old = r#"{"id":"t","spec":"s","program":"x=1","tests":["assert f(1) == 1"],"entry_point":"f"}"#;
        let task: RepairTask = serde_json::from_str(old).unwrap();
        assert!(task.shown_tests.is_empty());
        assert_eq!(task.prompt_tests(), task.tests.as_slice());
        assert_eq!(serde_json::to_string(&task).unwrap(), old);
        assert!(!serde_json::to_string(&task)
            .unwrap()
            .contains("shown_tests"));
        let mut plus = task.clone();
        plus.shown_tests = vec![TestCase::new("assert f(2) == 2").unwrap()];
        assert_eq!(plus.prompt_tests()[0].code(), "assert f(2) == 2");
        assert_eq!(plus.tests[0].code(), "assert f(1) == 1");
        let line = serde_json::to_string(&plus).unwrap();
        assert_eq!(serde_json::from_str::<RepairTask>(&line).unwrap(), plus);
    }

    #[test]
    fn normalization_ignores_layout_and_comments_but_not_code() {
        let a = Program::new("def f():\r\n    # note\n    return 1   \n\n");
        let b = Program::new("def f():\n    return 1\n");
        let c = Program::new("def f():\n    return 2\n");
        assert_eq!(a.normalized(), b.normalized());
        assert_ne!(a.normalized(), c.normalized());
    }

    #[test]
    fn setup_follows_the_fix() {
        let mut task = crate::task::fixture("t", "", "x = 1", "assert x");
        let fix = Program::new("def f(): pass\n");
        assert_eq!(task.with_setup(&fix), fix);
        task.setup = Some("import math".into());
        assert_eq!(
            task.with_setup(&fix).source(),
            "def f(): pass\n\nimport math\n"
        );
    }

    #[test]
    fn a_task_file_refuses_unknown_fields_and_names_a_repeated_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.jsonl");
        let task = |id: &str, tests_key: &str| {
            format!(
                r#"{{"id": "{id}", "spec": "s", "program": "x = 1\n", "{tests_key}": ["assert x == 1"], "entry_point": "x"}}"#
            )
        };
        std::fs::write(
            &path,
            format!("{}\n\n{}\n", task("a", "tests"), task("b", "tsets")),
        )
        .unwrap();
        match read_tasks(&path) {
            Err(JsonlError::Malformed { line, source, .. }) => {
                assert_eq!(line, 3);
                assert!(source.to_string().contains("tsets"), "{source}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(
            &path,
            format!(
                "{}\n{}\n{}\n",
                task("a", "tests"),
                task("b", "tests"),
                task("a", "tests")
            ),
        )
        .unwrap();
        match read_tasks(&path) {
            Err(JsonlError::Duplicate {
                line, first, key, ..
            }) => {
                assert_eq!((line, first, key.as_str()), (3, 1, "a"));
            }
            other => panic!("{other:?}"),
        }
    }
}
