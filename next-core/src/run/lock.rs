//! The run directory's lock: `RUN/lock`, held exclusively (an advisory `flock`) by the
//! one process that writes into the run, and holding a line that says who that is.
//!
//! The lock ends with the process, however it ends, so a run killed with `kill -9` never
//! leaves its directory locked. On platforms without `flock` the directory is not
//! locked.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use super::RunError;

/// The lock file's name.
pub(crate) const LOCK: &str = "lock";

/// A held run lock; released when dropped.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of the run directory `dir` (which exists), and writes who holds
    /// it.
    ///
    /// # Errors
    /// [`RunError::Locked`] naming the holder when another process holds it; I/O
    /// errors.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, RunError> {
        let path = dir.join(LOCK);
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| RunError::Io {
                action,
                path,
                source,
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("opening"))?;
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut holder = String::new();
                // What the holder wrote; a holder still writing it reads as unknown.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(RunError::Locked {
                    path: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "a process that has not said who it is".to_owned()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(source) => return Err(io("locking")(source)),
        }
        let holder = format!(
            "process {} ({}), since {} s after the epoch",
            std::process::id(),
            std::env::args().next().unwrap_or_default(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        file.set_len(0).map_err(io("writing"))?;
        file.seek(SeekFrom::Start(0)).map_err(io("writing"))?;
        file.write_all(holder.as_bytes()).map_err(io("writing"))?;
        Ok(Self { _file: file })
    }
}

/// Takes `file`'s exclusive lock without waiting: `false` when another holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

/// No lock where there is no `flock`.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}
