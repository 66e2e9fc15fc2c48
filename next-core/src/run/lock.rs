//! The run directory's lock: `RUN/lock`, held exclusively (an advisory `flock`) by the
//! one process that writes into the run, and holding a line that says who that is.
//!
//! The lock ends with the process, however it ends, so a run killed with `kill -9` never
//! leaves its directory locked. On platforms without `flock` the directory is not
//! locked against other processes.
//!
//! Within one process the lock is shared: every [`super::RunDir`] of one directory holds
//! the same lock, so that a program may open a run to read it (its deferred iterations,
//! say) while it resumes it. What must not happen twice at once, driving the loop over
//! the directory, takes [`RunLock::drive`] on top, exclusive within the process.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::RunError;

/// The lock file's name.
pub(crate) const LOCK: &str = "lock";

/// The locks this process holds, by canonical directory.
static HELD: Mutex<Vec<(PathBuf, Weak<RunLock>)>> = Mutex::new(Vec::new());

/// A held run lock; released when the last holder drops it.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
    dir: PathBuf,
    /// Whether a loop of this process drives the run.
    driving: AtomicBool,
}

/// The right to drive the loop over a run directory; given back when dropped.
#[derive(Debug)]
pub(crate) struct Driving(Arc<RunLock>);

impl Drop for Driving {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::SeqCst);
    }
}

impl RunLock {
    /// Takes the lock of the run directory `dir` (which exists), and writes who holds
    /// it.
    ///
    /// # Errors
    /// [`RunError::Locked`] naming the holder when another process holds it; I/O
    /// errors.
    pub(crate) fn acquire(dir: &Path) -> Result<Arc<Self>, RunError> {
        let key = dir.canonicalize().map_err(|source| RunError::Io {
            action: "resolving",
            path: dir.to_owned(),
            source,
        })?;
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|(_, lock)| lock.strong_count() > 0);
        if let Some(lock) = held
            .iter()
            .filter(|(path, _)| *path == key)
            .find_map(|(_, lock)| lock.upgrade())
        {
            return Ok(lock);
        }
        let lock = Arc::new(Self::take(&key)?);
        held.push((key, Arc::downgrade(&lock)));
        Ok(lock)
    }

    /// Takes the `flock` of the directory `dir`.
    fn take(dir: &Path) -> Result<Self, RunError> {
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
        Ok(Self {
            _file: file,
            dir: dir.to_owned(),
            driving: AtomicBool::new(false),
        })
    }

    /// The right to drive the loop over the run: one loop of this process at a time.
    ///
    /// # Errors
    /// [`RunError::Locked`] when a loop of this process drives it already.
    pub(crate) fn drive(self: &Arc<Self>) -> Result<Driving, RunError> {
        if self.driving.swap(true, Ordering::SeqCst) {
            return Err(RunError::Locked {
                path: self.dir.clone(),
                holder: format!("a run of this process, {}", std::process::id()),
            });
        }
        Ok(Driving(Arc::clone(self)))
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
