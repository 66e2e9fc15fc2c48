//! The paper's benchmarks as repair tasks: loaders that read the upstream files into
//! [`RepairTask`]s, in pure Rust (nothing here runs a program).
//!
//! - [`mbpp`]: MBPP, full (`mbpp.jsonl`) and sanitized (`sanitized-mbpp.json` or
//!   `.jsonl`), each task's upstream split recorded ([`Split`]). The program of an MBPP
//!   task is its reference solution: the input of the Mbpp-R builders.
//! - [`humanevalfix`]: HumanEvalFix (HumanEvalPack Python): the buggy program and the
//!   asserts of `check`, one test each; `bug_type` kept in the metadata.
//! - [`evalplus`]: HumanEval+ inputs read exactly (integers of any size, `Infinity`),
//!   and HumanEvalFix-Plus tasks built from them once the expected outputs are known.
//!
//! Every loader returns a [`Loaded`]: the tasks, and each record it could not use with
//! its line and the reason ([`Skipped`]); no record is dropped silently.
//!
//! The files ship with the project under `data/` (see [`default_data_dir`]).

pub mod evalplus;
pub mod humanevalfix;
pub mod mbpp;
mod pylit;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use pylit::{str_literal, Json};

use crate::task::RepairTask;

/// A record a loader could not turn into a task, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The 1-based line of the record (for a JSON array file, its 1-based index).
    pub line: usize,
    /// The record's id, where it could be read.
    pub id: Option<String>,
    /// Why it was not used.
    pub reason: String,
}

/// What a loader read: the tasks and the records it skipped.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The tasks, in file order.
    pub tasks: Vec<RepairTask>,
    /// The records not used, in file order.
    pub skipped: Vec<Skipped>,
}

impl Loaded {
    fn skip(&mut self, line: usize, id: Option<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            line,
            id,
            reason: reason.into(),
        });
    }
}

/// MBPP's upstream splits, by task id: prompt 1-10, test 11-510, validation 511-600,
/// train 601-974.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Tasks 1-10, the few-shot prompt split.
    Prompt,
    /// Tasks 11-510.
    Test,
    /// Tasks 511-600.
    Validation,
    /// Tasks 601-974.
    Train,
}

impl Split {
    /// The split of MBPP task `id`, or `None` outside 1-974.
    pub fn of_mbpp(id: u64) -> Option<Split> {
        match id {
            1..=10 => Some(Split::Prompt),
            11..=510 => Some(Split::Test),
            511..=600 => Some(Split::Validation),
            601..=974 => Some(Split::Train),
            _ => None,
        }
    }

    /// The split's name, as the metadata holds it.
    pub fn name(self) -> &'static str {
        match self {
            Split::Prompt => "prompt",
            Split::Test => "test",
            Split::Validation => "validation",
            Split::Train => "train",
        }
    }
}

/// Why a data file could not be read at all (a record that cannot be used is a
/// [`Skipped`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file as a whole has the wrong form (a JSON array file that is not an array).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads a whole data file.
///
/// # Errors
/// [`DataError::Io`] naming the file.
pub(crate) fn read_text(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The records of a JSON Lines text as `(line, record)`, or each line that is not JSON
/// as a [`Skipped`]. Blank lines are not records.
pub(crate) fn json_lines(text: &str, loaded: &mut Loaded) -> Vec<(usize, serde_json::Value)> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(value) => out.push((index + 1, value)),
            Err(e) => loaded.skip(index + 1, None, format!("not JSON: {e}")),
        }
    }
    out
}

/// The string field `name` of a record, or why it is missing.
pub(crate) fn str_field<'a>(record: &'a serde_json::Value, name: &str) -> Result<&'a str, String> {
    match record.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(format!("field `{name}` is not a string")),
        None => Err(format!("no field `{name}`")),
    }
}

/// Where the shipped data files are: `NEXT_DATA` when set, else the `data/` folder of
/// the project this crate was built from.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXT_DATA") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

/// The shipped file `name` under [`default_data_dir`].
pub fn default_file(name: &str) -> PathBuf {
    default_data_dir().join(name)
}

#[cfg(test)]
pub(crate) mod test_data {
    use std::path::PathBuf;

    /// The upstream data for tests: `NEXT_DATA`, else the project's `data/` folder, else
    /// `shared/data` beside the workspace. `None` (the test is skipped, with a note)
    /// where the file is in none of them.
    pub fn file(name: &str) -> Option<PathBuf> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let candidates = [
            std::env::var_os("NEXT_DATA").map(PathBuf::from),
            Some(root.join("../data")),
            Some(root.join("../../shared/data")),
        ];
        let found = candidates
            .into_iter()
            .flatten()
            .map(|dir| dir.join(name))
            .find(|p| p.exists());
        if found.is_none() {
            eprintln!("skipped: {name} is absent (set NEXT_DATA)");
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbpp_splits_follow_upstream() {
        assert_eq!(Split::of_mbpp(0), None);
        assert_eq!(Split::of_mbpp(1), Some(Split::Prompt));
        assert_eq!(Split::of_mbpp(10), Some(Split::Prompt));
        assert_eq!(Split::of_mbpp(11), Some(Split::Test));
        assert_eq!(Split::of_mbpp(510), Some(Split::Test));
        assert_eq!(Split::of_mbpp(511), Some(Split::Validation));
        assert_eq!(Split::of_mbpp(600), Some(Split::Validation));
        assert_eq!(Split::of_mbpp(601), Some(Split::Train));
        assert_eq!(Split::of_mbpp(974), Some(Split::Train));
        assert_eq!(Split::of_mbpp(975), None);
    }
}
