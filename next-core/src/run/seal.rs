//! A finished phase's seal: `checksums.json`, the SHA-256 of each of its record files,
//! written when the phase completes and checked whenever the phase is read again.
//!
//! A torn line is cut and redone on resume, but a record changed on disk that still
//! parses (a verdict turned from failed to passed, a sample's text edited) would be
//! taken as the run's own. The seal turns that into an error naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::{read_json, read_optional, write_json, RunError};

/// The seal's file name.
const SEAL: &str = "checksums.json";

/// The hex SHA-256 of `path`'s complete lines (a torn last line, which a resume cuts
/// and redoes, is left out); a missing file hashes as empty.
fn digest(path: &Path) -> Result<String, RunError> {
    let bytes = read_optional(path)?.unwrap_or_default();
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(&bytes[..complete]) {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(hex)
}

/// Seals the phase directory `dir`: records the checksum of each of `files`.
///
/// # Errors
/// I/O errors.
pub(crate) fn seal(dir: &Path, files: &[&str]) -> Result<(), RunError> {
    let mut sums = BTreeMap::new();
    for name in files {
        sums.insert((*name).to_owned(), digest(&dir.join(name))?);
    }
    write_json(&dir.join(SEAL), &sums)
}

/// Checks the seal of the phase directory `dir`, if it has one.
///
/// # Errors
/// [`RunError::Tampered`] naming a file whose bytes are not those sealed; I/O errors
/// and a seal that does not parse.
pub(crate) fn check(dir: &Path) -> Result<(), RunError> {
    let Some(sums) = read_json::<BTreeMap<String, String>>(&dir.join(SEAL))? else {
        return Ok(());
    };
    for (name, sum) in &sums {
        let file = dir.join(name);
        if digest(&file)? != *sum {
            return Err(RunError::Tampered(file));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_record_breaks_the_seal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("verdicts.jsonl"), "{\"passed\":false}\n").unwrap();
        seal(dir.path(), &["verdicts.jsonl", "failures.jsonl"]).unwrap();
        check(dir.path()).unwrap();
        std::fs::write(dir.path().join("verdicts.jsonl"), "{\"passed\":true}\n").unwrap();
        assert!(
            matches!(check(dir.path()), Err(RunError::Tampered(p)) if p.ends_with("verdicts.jsonl"))
        );
        // A torn last line (what a kill leaves, cut on resume) is not a change.
        std::fs::write(
            dir.path().join("verdicts.jsonl"),
            "{\"passed\":false}\n{\"pa",
        )
        .unwrap();
        check(dir.path()).unwrap();
        // A file sealed as missing must stay missing.
        std::fs::write(dir.path().join("verdicts.jsonl"), "{\"passed\":false}\n").unwrap();
        std::fs::write(dir.path().join("failures.jsonl"), "{}\n").unwrap();
        assert!(check(dir.path()).is_err());
    }
}
