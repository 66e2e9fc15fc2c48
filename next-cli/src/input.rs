//! What the commands read from the user's files and flags: a file's text ([`read`]), a
//! Python program ([`read_program`], with its PEP 263 coding line), a tests file
//! ([`parse_tests`]) and the sandbox a `--sandbox` flag names ([`sandbox`]).

use std::path::Path;
use std::sync::Arc;

use next_core::registry::{self, Context, RoleKind};
use next_core::sandbox::Sandbox;
use next_core::task::TestCase;

use crate::error::CliError;

/// The contents of the `what` file at `path`.
pub(crate) fn read(path: &Path, what: &'static str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The source of a Python program at `path`, decoded as CPython decodes a source file
/// (`next_core::python::decode_source`: UTF-8, or the encoding its PEP 263 coding line
/// declares). The coding line stays in the text, where CPython ignores it in a program
/// given as text.
pub(crate) fn read_program(path: &Path, what: &'static str) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    next_core::python::decode_source(&bytes).map_err(|err| CliError::Read {
        what,
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, err),
    })
}

/// The tests of a tests file, in any of the three forms.
///
/// # Errors
/// [`CliError::Input`] for a blank test.
pub(crate) fn parse_tests(text: &str) -> Result<Vec<TestCase>, CliError> {
    let make = |code: String| TestCase::new(code).map_err(CliError::Input);
    if let Ok(list) = serde_json::from_str::<Vec<String>>(text) {
        return list.into_iter().map(make).collect();
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty()
        && lines
            .iter()
            .all(|l| serde_json::from_str::<String>(l).is_ok())
    {
        return lines
            .iter()
            .filter_map(|l| serde_json::from_str::<String>(l).ok())
            .map(make)
            .collect();
    }
    let mut tests: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match tests.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push('\n');
                last.push_str(line);
            }
            _ => tests.push(line.to_owned()),
        }
    }
    tests.into_iter().map(make).collect()
}

/// The sandbox named `name`, or an error that says how to get it.
pub(crate) fn sandbox(name: &str, python: Option<&Path>) -> Result<Arc<dyn Sandbox>, CliError> {
    let mut options = toml::Table::new();
    if let Some(python) = python {
        if name != "process" {
            return Err(CliError::PythonNotProcess);
        }
        options.insert(
            "interpreter".to_owned(),
            toml::Value::String(python.display().to_string()),
        );
    }
    let compiled: Vec<&str> = registry::list()
        .into_iter()
        .filter(|entry| entry.role == RoleKind::Sandbox)
        .map(|entry| entry.name)
        .collect();
    if !compiled.contains(&name) {
        return Err(CliError::SandboxMissing {
            name: name.to_owned(),
            compiled: compiled.join(", "),
        });
    }
    registry::sandbox(name, &options, &Context::new())
        .map(Arc::from)
        .map_err(|source| CliError::Role {
            role: "sandbox",
            name: name.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_with_a_coding_line_is_read_in_its_encoding() {
        let dir = std::env::temp_dir().join(format!("next-latin1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.py");
        std::fs::write(&path, b"# -*- coding: latin-1 -*-\nx = '\xe9'\n").unwrap();
        assert_eq!(
            read_program(&path, "program").unwrap(),
            "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
        );
        std::fs::write(&path, b"# coding: shift_jis\nx = '\x93\xfa'\n").unwrap();
        assert_eq!(
            read_program(&path, "program").unwrap(),
            "# coding: shift_jis\nx = '\u{65e5}'\n"
        );
        std::fs::write(&path, b"x = '\xe9'\n").unwrap();
        let err = read_program(&path, "program").err().unwrap();
        assert!(
            next_core::error::chain(&err).contains("not valid UTF-8"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tests_files_come_in_three_forms() {
        let codes = |tests: Vec<TestCase>| -> Vec<String> {
            tests.iter().map(|t| t.code().to_owned()).collect()
        };
        assert_eq!(
            codes(parse_tests(r#"["assert f(1) == 1", "assert f(2) == 2"]"#).unwrap()),
            ["assert f(1) == 1", "assert f(2) == 2"]
        );
        assert_eq!(
            codes(parse_tests("\"assert f(1) == 1\"\n\n\"assert f(2) == 2\"\n").unwrap()),
            ["assert f(1) == 1", "assert f(2) == 2"]
        );
        assert_eq!(
            codes(
                parse_tests(
                    "# MBPP 1\nassert f(1) == 1\n\nfor x in range(3):\n    assert f(x) == x\n"
                )
                .unwrap()
            ),
            [
                "assert f(1) == 1",
                "for x in range(3):\n    assert f(x) == x"
            ]
        );
    }

    #[test]
    fn unknown_sandboxes_name_their_cargo_feature() {
        let compiled = |name: &str| {
            registry::list()
                .iter()
                .any(|entry| entry.role == RoleKind::Sandbox && entry.name == name)
        };
        if !compiled("wasm") {
            let err = sandbox("wasm", None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("cargo feature `wasm`"), "{err}");
        }
        let err = sandbox("nope", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no sandbox `nope`"), "{err}");
    }
}
