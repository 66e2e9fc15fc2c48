//! MBPP (Austin et al. 2021, CC-BY-4.0): the full set (`mbpp.jsonl`: `task_id`, `text`,
//! `code`, `test_list`, `test_setup_code`, `challenge_test_list`) and the sanitized
//! subset (`sanitized-mbpp.json`, one JSON array, or `.jsonl`: `task_id`, `prompt`,
//! `code`, `test_imports`, `test_list`).
//!
//! A task's id is `mbpp/N` in both (the sanitized task is the same problem), its
//! program the reference solution (`\r\n` made `\n`), its tests the `test_list`
//! asserts, its entry point the function of the code that the tests call. The metadata
//! holds `dataset` (`mbpp` or `mbpp-sanitized`), `mbpp_id`, `split` (see
//! [`Split`]) and, where there are any, the `challenge_tests`.

use std::path::Path;

use serde_json::json;

use super::{json_lines, read_text, str_field, DataError, Loaded, Split};
use crate::task::{Program, RepairTask, TaskId, TestCase};

/// The shipped full MBPP file's name under [`super::default_data_dir`].
pub const MBPP_FILE: &str = "mbpp.jsonl";
/// The shipped sanitized MBPP file's name under [`super::default_data_dir`].
pub const SANITIZED_FILE: &str = "sanitized-mbpp.json";

/// Reads the full MBPP (`mbpp.jsonl`).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; a record that cannot be used is in
/// [`Loaded::skipped`].
pub fn load_mbpp(path: &Path) -> Result<Loaded, DataError> {
    let text = read_text(path)?;
    let mut loaded = Loaded::default();
    for (line, record) in json_lines(&text, &mut loaded) {
        push(&mut loaded, line, &record, Flavor::Full);
    }
    Ok(loaded)
}

/// Reads the sanitized MBPP: the upstream JSON array (`sanitized-mbpp.json`) or JSON
/// Lines (`sanitized-mbpp.jsonl`), told apart by the first character.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Format`] when it starts
/// as an array that does not parse.
pub fn load_sanitized(path: &Path) -> Result<Loaded, DataError> {
    let text = read_text(path)?;
    let mut loaded = Loaded::default();
    if text.trim_start().starts_with('[') {
        let records: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| DataError::Format {
                path: path.to_owned(),
                message: format!("not a JSON array of records: {e}"),
            })?;
        for (index, record) in records.iter().enumerate() {
            push(&mut loaded, index + 1, record, Flavor::Sanitized);
        }
    } else {
        for (line, record) in json_lines(&text, &mut loaded) {
            push(&mut loaded, line, &record, Flavor::Sanitized);
        }
    }
    Ok(loaded)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Full,
    Sanitized,
}

fn push(loaded: &mut Loaded, line: usize, record: &serde_json::Value, flavor: Flavor) {
    let id = record.get("task_id").and_then(serde_json::Value::as_u64);
    match task(record, flavor) {
        Ok(task) => loaded.tasks.push(task),
        Err(reason) => loaded.skip(line, id.map(|n| format!("mbpp/{n}")), reason),
    }
}

fn strings(record: &serde_json::Value, name: &str) -> Result<Vec<String>, String> {
    match record.get(name) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|s| s.replace("\r\n", "\n"))
                    .ok_or_else(|| format!("`{name}` holds a non-string"))
            })
            .collect(),
        Some(_) => Err(format!("`{name}` is not a list")),
    }
}

fn task(record: &serde_json::Value, flavor: Flavor) -> Result<RepairTask, String> {
    let n = record
        .get("task_id")
        .and_then(serde_json::Value::as_u64)
        .ok_or("no integer `task_id`")?;
    let split = Split::of_mbpp(n).ok_or_else(|| format!("task_id {n} is outside 1-974"))?;
    let spec = str_field(
        record,
        if flavor == Flavor::Full {
            "text"
        } else {
            "prompt"
        },
    )?;
    let code = str_field(record, "code")?.replace("\r\n", "\n");
    let tests = strings(record, "test_list")?;
    if tests.is_empty() {
        return Err("no tests in `test_list`".to_owned());
    }
    let entry =
        entry_point(&code, &tests).ok_or("no function defined by `code` is called by the tests")?;
    let setup = match flavor {
        Flavor::Full => str_field(record, "test_setup_code")
            .unwrap_or_default()
            .replace("\r\n", "\n"),
        Flavor::Sanitized => strings(record, "test_imports")?.join("\n"),
    };
    let tests = tests
        .into_iter()
        .map(TestCase::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.message().to_owned())?;
    let id = TaskId::new(format!("mbpp/{n}")).map_err(|e| e.message().to_owned())?;
    let mut task = RepairTask::new(id, spec.trim(), Program::new(code), tests, entry)
        .map_err(|e| e.message().to_owned())?;
    if !setup.trim().is_empty() {
        task.setup = Some(setup);
    }
    let dataset = match flavor {
        Flavor::Full => "mbpp",
        Flavor::Sanitized => "mbpp-sanitized",
    };
    task.metadata.insert("dataset".into(), json!(dataset));
    task.metadata.insert("mbpp_id".into(), json!(n));
    task.metadata.insert("split".into(), json!(split.name()));
    let challenge = strings(record, "challenge_test_list")?;
    if !challenge.is_empty() {
        task.metadata
            .insert("challenge_tests".into(), json!(challenge));
    }
    Ok(task)
}

/// The names `code` defines at the start of a line (`def NAME`, `class NAME`).
fn defined_names(code: &str) -> Vec<&str> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("def ")
                .or_else(|| line.strip_prefix("class "))?;
            let name = identifier_prefix(rest.trim_start());
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

fn identifier_prefix(text: &str) -> &str {
    let end = text
        .char_indices()
        .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// The first name the tests call (`NAME(`) that the code defines.
pub(crate) fn entry_point(code: &str, tests: &[String]) -> Option<String> {
    let defined = defined_names(code);
    for test in tests {
        let mut rest = test.as_str();
        while let Some(open) = rest.find('(') {
            let before = &rest[..open];
            let start = before
                .char_indices()
                .rev()
                .take_while(|&(_, c)| c == '_' || c.is_alphanumeric())
                .last()
                .map_or(open, |(i, _)| i);
            let name = &before[start..];
            let attribute = before[..start].ends_with('.');
            if !name.is_empty() && !attribute && defined.contains(&name) {
                return Some(name.to_owned());
            }
            rest = &rest[open + 1..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_data;

    #[test]
    fn the_entry_point_is_the_defined_function_the_tests_call() {
        let code = "import math\ndef helper(x):\n    return x\n\ndef area(r):\n    return math.pi * helper(r)\n";
        let tests = vec!["assert math.isclose(area(1), 3.14159, rel_tol=1e-3)".to_owned()];
        assert_eq!(entry_point(code, &tests).as_deref(), Some("area"));
        let tests = vec!["assert set(x.area(1)) == set()".to_owned()];
        assert_eq!(entry_point(code, &tests), None);
    }

    #[test]
    fn bad_records_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mbpp.jsonl");
        let good = r#"{"task_id": 601, "text": "t", "code": "def f(x):\r\n  return x", "test_list": ["assert f(1) == 1"], "test_setup_code": "", "challenge_test_list": []}"#;
        let no_tests = r#"{"task_id": 602, "text": "t", "code": "def f(x):\n  return x", "test_list": [], "test_setup_code": ""}"#;
        let out_of_range = r#"{"task_id": 1000, "text": "t", "code": "def f(x):\n  return x", "test_list": ["assert f(1) == 1"]}"#;
        let no_call = r#"{"task_id": 603, "text": "t", "code": "def f(x):\n  return x", "test_list": ["assert g(1) == 1"]}"#;
        std::fs::write(
            &path,
            format!("{good}\n{{not json\n\n{no_tests}\n{out_of_range}\n{no_call}\n"),
        )
        .unwrap();
        let loaded = load_mbpp(&path).unwrap();
        assert_eq!(loaded.tasks.len(), 1);
        let task = &loaded.tasks[0];
        assert_eq!(task.id.as_str(), "mbpp/601");
        assert_eq!(task.program.source(), "def f(x):\n  return x");
        assert_eq!(task.entry_point, "f");
        assert_eq!(task.setup, None);
        assert_eq!(task.metadata["split"], "train");
        let lines: Vec<(usize, &str)> = loaded
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0].0, 2);
        assert!(lines[0].1.starts_with("not JSON"));
        assert_eq!(lines[1], (4, "no tests in `test_list`"));
        assert_eq!(lines[2], (5, "task_id 1000 is outside 1-974"));
        assert_eq!(
            lines[3],
            (6, "no function defined by `code` is called by the tests")
        );
        assert_eq!(loaded.skipped[3].id.as_deref(), Some("mbpp/603"));
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = load_mbpp(Path::new("/nonexistent/mbpp.jsonl")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mbpp.jsonl"), "{err}");
    }

    #[test]
    fn the_full_mbpp_loads_every_task_with_its_split() {
        let Some(path) = test_data::file(MBPP_FILE) else {
            return;
        };
        let loaded = load_mbpp(&path).unwrap();
        assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
        assert_eq!(loaded.tasks.len(), 974);
        let count = |split: &str| {
            loaded
                .tasks
                .iter()
                .filter(|t| t.metadata["split"] == split)
                .count()
        };
        assert_eq!(
            (
                count("prompt"),
                count("test"),
                count("validation"),
                count("train")
            ),
            (10, 500, 90, 374)
        );
        let first = &loaded.tasks[0];
        assert_eq!(first.entry_point, "min_cost");
        assert!(!first.program.source().contains('\r'));
        assert_eq!(first.tests.len(), 3);
        assert!(loaded.tasks.iter().any(|t| t.setup.is_some()));
    }

    #[test]
    fn the_sanitized_mbpp_reads_the_same_from_json_and_jsonl() {
        let (Some(array), Some(lines)) = (
            test_data::file(SANITIZED_FILE),
            test_data::file("sanitized-mbpp.jsonl"),
        ) else {
            return;
        };
        let a = load_sanitized(&array).unwrap();
        let b = load_sanitized(&lines).unwrap();
        assert!(a.skipped.is_empty(), "{:?}", a.skipped);
        assert_eq!(a.tasks.len(), 427);
        assert_eq!(a.tasks, b.tasks);
        let count = |split: &str| {
            a.tasks
                .iter()
                .filter(|t| t.metadata["split"] == split)
                .count()
        };
        assert_eq!(
            (
                count("prompt"),
                count("test"),
                count("validation"),
                count("train")
            ),
            (7, 257, 43, 120)
        );
        assert!(
            a.tasks.iter().any(|t| t.setup.is_some()),
            "test_imports become setup"
        );
    }
}
