//! MBPP (`mbpp.jsonl`) for the Python tracer's tests and benchmarks: the reference
//! solutions and their tests.
//!
//! `NEXT_DATA` is the data directory holding `mbpp.jsonl`, or the file itself; the
//! default is `shared/data` beside the workspace.

use std::fmt::Write as _;
use std::path::PathBuf;

use next_core::task::{Program, TestCase};

/// One MBPP task: its reference solution (with its setup code) and its tests.
#[derive(Debug, Clone)]
pub struct Task {
    /// MBPP's `task_id`.
    pub id: u64,
    /// The reference solution followed by `test_setup_code`.
    pub program: Program,
    /// `test_list`.
    pub tests: Vec<TestCase>,
}

/// Where `mbpp.jsonl` is.
pub fn path() -> PathBuf {
    let given = std::env::var_os("NEXT_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    if given.is_dir() {
        given.join("mbpp.jsonl")
    } else {
        given
    }
}

/// Every task of `mbpp.jsonl`, or `None` when the file is absent.
///
/// # Panics
/// When the file exists but a line is not an MBPP task.
pub fn tasks() -> Option<Vec<Task>> {
    let text = std::fs::read_to_string(path()).ok()?;
    let tasks = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad MBPP line: {e}"));
            let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
            let mut source = text("code");
            let setup = text("test_setup_code");
            if !setup.trim().is_empty() {
                source = format!("{}\n\n{setup}\n", source.trim_end());
            }
            let tests = value["test_list"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|t| TestCase::new(t.as_str()?).ok())
                        .collect()
                })
                .unwrap_or_default();
            Task {
                id: value["task_id"].as_u64().unwrap_or_default(),
                program: Program::new(source),
                tests,
            }
        })
        .collect();
    Some(tasks)
}

/// A script that runs the program, then each test (in its namespace, one after the
/// other) and prints `NEXT-UNTRACED <i> <pass|fail>` per test: the untraced run.
pub fn untraced_script(task: &Task) -> String {
    let mut script = format!("{}\n\n", task.program.source().trim_end());
    script.push_str("def __next_untraced(__tests):\n");
    script.push_str("    import sys\n");
    script.push_str("    for __i, __t in enumerate(__tests):\n");
    script.push_str("        try:\n");
    script.push_str("            exec(compile(__t, '<test>', 'exec'), globals())\n");
    script.push_str("            __r = 'pass'\n");
    script.push_str("        except BaseException:\n");
    script.push_str("            __r = 'fail'\n");
    script.push_str("        sys.__stdout__.write('\\nNEXT-UNTRACED %d %s\\n' % (__i, __r))\n");
    script.push_str("        sys.__stdout__.flush()\n");
    let tests: Vec<String> = task
        .tests
        .iter()
        .map(|t| serde_json::to_string(t.code()).unwrap_or_default())
        .collect();
    let _ = writeln!(script, "__next_untraced([{}])", tests.join(", "));
    script
}

/// The per-test results printed by [`untraced_script`]; a test without a line failed.
pub fn untraced_results(stdout: &[u8], tests: usize) -> Vec<bool> {
    let text = String::from_utf8_lossy(stdout);
    let mut results = vec![false; tests];
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() != Some("NEXT-UNTRACED") {
            continue;
        }
        let index: Option<usize> = parts.next().and_then(|i| i.parse().ok());
        if let (Some(index), Some(result)) = (index, parts.next()) {
            if let Some(slot) = results.get_mut(index) {
                *slot = result == "pass";
            }
        }
    }
    results
}
