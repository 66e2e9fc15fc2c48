//! Finding the Python interpreter once, so that jobs start the real binary (not a
//! pyenv or virtualenv shim, which can cost more than the job) and the sandbox knows
//! which directories the interpreter reads; and [`ask`], the crate's one way of asking
//! a host Python anything (the Docker image's file list asks it too).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::Error;

/// Asks the interpreter where it really is and what it reads. Run once, outside any
/// sandbox: it is our code, not a job's.
const QUERY: &str = r#"
import json, os, sys, sysconfig
roots = {os.path.dirname(os.path.realpath(sys.executable)), sys.prefix, sys.exec_prefix,
         sys.base_prefix, sys.base_exec_prefix}
libdir = sysconfig.get_config_var("LIBDIR")
if libdir and sysconfig.get_config_var("Py_ENABLE_SHARED"):
    roots.add(libdir)
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": list(sys.version_info[:2]),
    "roots": sorted(os.path.realpath(r) for r in roots if r),
}))
"#;

/// A resolved Python interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Interpreter {
    /// The absolute, symlink-free path of the binary.
    pub executable: PathBuf,
    /// `(major, minor)`.
    pub version: (u32, u32),
    /// The directories it reads (its binary's directory, its prefixes, its shared
    /// library's directory), absolute and symlink-free.
    pub roots: Vec<PathBuf>,
}

impl Interpreter {
    /// Resolves `configured`, or the first `python3` on `PATH`, by running it once
    /// (through the crate's one host-Python probe).
    ///
    /// # Errors
    /// [`Error::Interpreter`] when there is none or it does not answer.
    pub fn discover(configured: Option<&Path>) -> Result<Self, Error> {
        let program = match configured {
            Some(path) => path.to_path_buf(),
            None => find_on_path("python3").ok_or_else(|| {
                Error::Interpreter("no `python3` on PATH; set `interpreter`".to_owned())
            })?,
        };
        ask(&program, QUERY)
    }

    /// Whether it knows `-P` (do not put the script's directory on `sys.path`), new in
    /// 3.11.
    pub fn has_safe_path(&self) -> bool {
        self.version >= (3, 11)
    }

    /// The flags every job and the warm server start with: no user site directory, no
    /// `site` import, no bytecode writing, and (where known) no script directory on the
    /// path. The environment is set by the sandbox, so `-E` is not needed (and would
    /// drop `PYTHONHASHSEED`).
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec!["-s", "-S", "-B"];
        if self.has_safe_path() {
            flags.push("-P");
        }
        flags
    }
}

/// Runs `program` once on the host (our code, outside any sandbox) in isolated mode
/// without `site` (`-I -S`) on the Python source `query`, which prints one JSON object
/// with at least `executable` (the real binary) and `version` (`[major, minor, ...]`),
/// and reads that answer as a `T`.
///
/// # Errors
/// [`Error::Interpreter`] when `program` cannot run or fails (with its stderr), its
/// answer does not read as a `T`, or it is not a Python 3 at an absolute path.
pub(crate) fn ask<T: DeserializeOwned>(program: &Path, query: &str) -> Result<T, Error> {
    let output = Command::new(program)
        .args(["-I", "-S", "-c", query])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| Error::Interpreter(format!("cannot run {}: {err}", program.display())))?;
    if !output.status.success() {
        return Err(Error::Interpreter(format!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let unreadable = |err: serde_json::Error| {
        Error::Interpreter(format!(
            "{} gave an unreadable answer: {err}",
            program.display()
        ))
    };
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(unreadable)?;
    let absolute = answer
        .get("executable")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|path| Path::new(path).is_absolute());
    let major = answer
        .get("version")
        .and_then(|version| version.get(0))
        .and_then(serde_json::Value::as_u64);
    if !absolute || major != Some(3) {
        return Err(Error::Interpreter(format!(
            "{} is not a Python 3 with a known path",
            program.display()
        )));
    }
    serde_json::from_value(answer).map_err(unreadable)
}

/// The first executable file named `name` in a directory of `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_real_python_and_its_roots() {
        let Ok(python) = Interpreter::discover(None) else {
            return; // no python3 here: nothing to check
        };
        assert!(python.executable.is_absolute());
        assert!(python.executable.is_file());
        assert!(!python.roots.is_empty());
        assert!(python.roots.iter().all(|root| root.is_absolute()));
    }

    #[test]
    fn a_missing_interpreter_is_an_error() {
        let err = Interpreter::discover(Some(Path::new("/nonexistent/python3")));
        assert!(matches!(err, Err(Error::Interpreter(_))));
    }
}
