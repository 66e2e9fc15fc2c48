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

/// The source of a Python program at `path`: UTF-8, or where it is not, the encoding its
/// PEP 263 coding line declares (in its first two lines), as CPython reads it. The
/// Latin-1 family is decoded here (each byte one character); the coding line stays in
/// the text, where CPython ignores it in a program given as text.
pub(crate) fn read_program(path: &Path, what: &'static str) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            let bytes = err.into_bytes();
            if coding_is_latin1(&bytes) {
                return Ok(bytes.iter().map(|&b| char::from(b)).collect());
            }
            Err(CliError::Read {
                what,
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8, and no coding line declares \
                     Latin-1 (PEP 263)",
                ),
            })
        }
    }
}

/// Whether one of the first two lines of `bytes` is a PEP 263 comment declaring a
/// Latin-1 encoding (`# -*- coding: latin-1 -*-`, `# vim: set fileencoding=iso-8859-1`).
fn coding_is_latin1(bytes: &[u8]) -> bool {
    bytes.split(|&b| b == b'\n').take(2).any(|line| {
        let text: String = line.iter().map(|&b| char::from(b)).collect();
        let trimmed = text.trim_start_matches([' ', '\t', '\x0c']);
        if !trimmed.starts_with('#') {
            return false;
        }
        let Some(at) = trimmed.find("coding") else {
            return false;
        };
        let rest = &trimmed[at + "coding".len()..];
        let Some(rest) = rest.strip_prefix([':', '=']) else {
            return false;
        };
        let name: String = rest
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect::<String>()
            .to_ascii_lowercase()
            .replace('_', "-");
        matches!(
            name.as_str(),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1" | "cp819"
        ) || name.starts_with("iso-8859-1-")
            || name.starts_with("latin-1-")
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
    fn a_latin1_program_with_a_coding_line_is_read() {
        let dir = std::env::temp_dir().join(format!("next-latin1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.py");
        std::fs::write(&path, b"# -*- coding: latin-1 -*-\nx = '\xe9'\n").unwrap();
        assert_eq!(
            read_program(&path, "program").unwrap(),
            "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
        );
        std::fs::write(&path, b"x = '\xe9'\n").unwrap();
        assert!(read_program(&path, "program").is_err());
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
