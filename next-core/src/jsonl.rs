//! JSON Lines, the on-disk form of tasks, samples, verdicts and training examples.
//!
//! One JSON value a line, `\n` after each. [`Appender`] writes a line with one `write`
//! call and no user-space buffer, so a line reaches the operating system as soon as it
//! is produced and a killed process loses nothing it reported. [`read_lines`] reads a
//! file back and tolerates exactly one kind of damage: a last line cut short by a kill
//! (no final newline), which [`repair_tail`] removes before appending resumes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failure to read or write a JSON Lines file.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// The file could not be opened, read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A complete line is not valid JSON of the expected shape.
    #[error("{path}:{line}: malformed record")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A record repeats the key of an earlier one (a task id, say).
    #[error("{path}:{line}: `{key}` again (first at line {first})")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the repeat.
        line: usize,
        /// The 1-based line of the first.
        first: usize,
        /// The repeated key.
        key: String,
    },
    /// A value could not be serialised (a map with non-string keys, say).
    #[error("cannot serialise a record for {path}")]
    Serialize {
        /// The file.
        path: PathBuf,
        /// What the serialiser said.
        #[source]
        source: serde_json::Error,
    },
}

/// What [`read_lines`] found.
#[derive(Debug)]
pub struct Lines<T> {
    /// The complete records, in file order.
    pub records: Vec<T>,
    /// Bytes of a last line cut short (no final newline), 0 when the file ends cleanly.
    pub torn_bytes: usize,
}

/// Reads every complete line of `path` as a `T`. A missing file reads as empty. A last
/// line without its newline is reported in [`Lines::torn_bytes`] and not parsed; blank
/// lines are skipped.
///
/// # Errors
/// [`JsonlError::Io`] when the file cannot be read, [`JsonlError::Malformed`] for a
/// complete line that does not parse.
pub fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Lines<T>, JsonlError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(JsonlError::Io {
                action: "reading",
                path: path.to_owned(),
                source,
            })
        }
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    for (index, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = serde_json::from_slice(line).map_err(|source| JsonlError::Malformed {
            path: path.to_owned(),
            line: index + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(Lines {
        records,
        torn_bytes: bytes.len() - complete,
    })
}

/// Cuts a torn last line (one without its newline) off `path`, so that appending starts
/// on a fresh line. Returns how many bytes were cut. A missing file is left missing.
///
/// # Errors
/// [`JsonlError::Io`] when the file cannot be read or truncated.
pub fn repair_tail(path: &Path) -> Result<u64, JsonlError> {
    let io_err = |action, source| JsonlError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("reading", e)),
    };
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let torn = (bytes.len() - complete) as u64;
    if torn > 0 {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io_err("opening", e))?;
        file.set_len(complete as u64)
            .map_err(|e| io_err("truncating", e))?;
    }
    Ok(torn)
}

/// Appends records to a JSON Lines file, one `write` per record.
#[derive(Debug)]
pub struct Appender {
    file: File,
    path: PathBuf,
    buffer: Vec<u8>,
}

impl Appender {
    /// Opens `path` for appending, creating it if needed. Call [`repair_tail`] first when
    /// the file may end in a torn line.
    ///
    /// # Errors
    /// [`JsonlError::Io`] when the file cannot be opened.
    pub fn open(path: &Path) -> Result<Self, JsonlError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| JsonlError::Io {
                action: "opening",
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            file,
            path: path.to_owned(),
            buffer: Vec::with_capacity(1024),
        })
    }

    /// Appends one record and its newline with a single write.
    ///
    /// # Errors
    /// [`JsonlError`] when the record cannot be serialised or written.
    pub fn append<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), JsonlError> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, record).map_err(|source| {
            JsonlError::Serialize {
                path: self.path.clone(),
                source,
            }
        })?;
        self.buffer.push(b'\n');
        self.file
            .write_all(&self.buffer)
            .map_err(|source| JsonlError::Io {
                action: "appending to",
                path: self.path.clone(),
                source,
            })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes all `records` to `path` as JSON Lines, replacing it atomically (a temporary
/// file beside it, then a rename), so that readers see the old file or the new one.
///
/// # Errors
/// [`JsonlError`] when a record cannot be serialised or the file cannot be written.
pub fn write_all<T: Serialize>(path: &Path, records: &[T]) -> Result<(), JsonlError> {
    let mut bytes = Vec::new();
    for record in records {
        serde_json::to_writer(&mut bytes, record).map_err(|source| JsonlError::Serialize {
            path: path.to_owned(),
            source,
        })?;
        bytes.push(b'\n');
    }
    write_atomic(path, &bytes)
}

/// Replaces `path` with `bytes` atomically: a temporary file beside it, then a rename.
///
/// # Errors
/// [`JsonlError::Io`] when writing or renaming fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JsonlError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|source| JsonlError::Io {
        action: "writing",
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| JsonlError::Io {
        action: "renaming into place",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_reported_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut out = Appender::open(&path).unwrap();
        out.append(&1u32).unwrap();
        out.append(&2u32).unwrap();
        drop(out);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"half")
            .unwrap();
        let lines = read_lines::<u32>(&path).unwrap();
        assert_eq!(lines.records, [1, 2]);
        assert_eq!(lines.torn_bytes, 6);
        assert_eq!(repair_tail(&path).unwrap(), 6);
        let mut out = Appender::open(&path).unwrap();
        out.append(&3u32).unwrap();
        assert_eq!(read_lines::<u32>(&path).unwrap().records, [1, 2, 3]);
    }

    #[test]
    fn malformed_complete_line_names_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "1\nnope\n").unwrap();
        let err = read_lines::<u32>(&path).unwrap_err();
        assert!(
            err.to_string().ends_with("x.jsonl:2: malformed record"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let lines = read_lines::<u32>(&dir.path().join("none.jsonl")).unwrap();
        assert!(lines.records.is_empty());
        assert_eq!(repair_tail(&dir.path().join("none.jsonl")).unwrap(), 0);
    }
}
