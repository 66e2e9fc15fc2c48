//! Work directories: the sandbox's base directory and one fresh directory per cold job,
//! removed by a drop guard (also when the job times out or its future is dropped).

use std::fs::{DirBuilder, Permissions};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{FlockOperation, Mode, OFlags};
use tempfile::TempDir;

use crate::error::Error;

/// The directory under which a sandbox makes its work directories, removed with it.
#[derive(Debug)]
pub(crate) struct Base {
    dir: TempDir,
    next: AtomicU64,
    // Held while the sandbox lives: `sweep` leaves locked directories alone.
    _held: OwnedFd,
}

impl Base {
    /// Makes `next-sandbox-PID-XXXX` under `parent` (default: the system's temporary
    /// directory), searchable but not listable by others (mode 0711), so that a job
    /// running as another user can enter its own directory and see no other. First
    /// removes the empty base directories of sandboxes whose process is gone.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be made.
    pub fn create(parent: Option<&Path>) -> Result<Self, Error> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        sweep(&parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir_in(&parent)
            .map_err(|e| Error::io("making the sandbox's base directory", e))?;
        std::fs::set_permissions(dir.path(), Permissions::from_mode(0o711))
            .map_err(|e| Error::io("setting the base directory's mode", e))?;
        let held = lock_fd(dir.path(), FlockOperation::LockExclusive).ok_or_else(|| {
            Error::io(
                "locking the base directory",
                std::io::Error::last_os_error(),
            )
        })?;
        Ok(Self {
            dir,
            next: AtomicU64::new(0),
            _held: held,
        })
    }

    /// The base directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh, empty directory `NAME-N` (mode 0700), owned by `owner` when given.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be made or given away.
    pub fn fresh(&self, name: &str, owner: Option<(u32, u32)>) -> Result<WorkDir, Error> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("{name}-{n}"));
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::io("making a work directory", e))?;
        let dir = WorkDir { path };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir.path, Some(uid), Some(gid))
                .map_err(|e| Error::io("giving the work directory to the job's user", e))?;
        }
        Ok(dir)
    }
}

/// Base directories are `next-sandbox-PID-XXXX`.
const PREFIX: &str = "next-sandbox-";

/// Opens `dir` and takes the lock `operation` on it; whether it got it. The lock is
/// released when the returned descriptor is closed.
fn lock_fd(dir: &Path, operation: FlockOperation) -> Option<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    rustix::fs::flock(&fd, operation).ok()?;
    Some(fd)
}

/// Whether the lock `operation` on `dir` can be had now (it is let go at once).
fn lock(dir: &Path, operation: FlockOperation) -> bool {
    lock_fd(dir, operation).is_some()
}

/// Removes what sandboxes that are gone (killed before they could clean up) left in
/// `parent`: their base directories, when these hold nothing but empty
/// directories (the mount points of work directories whose files were in tmpfs). Only
/// empty directories are ever removed here.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        // A live sandbox holds a lock on its base directory (wherever its process is:
        // pids of other PID namespaces are not seen here, locks are).
        if pid == std::process::id() || !lock(&dir, FlockOperation::NonBlockingLockExclusive) {
            continue;
        }
        if let Ok(inner) = std::fs::read_dir(&dir) {
            for work in inner.flatten() {
                let _ = std::fs::remove_dir(work.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

/// A work directory, removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Where the job had a mount namespace, this is an empty mount point (the job's
        // files were in its private tmpfs, gone with its namespace).
        if std::fs::remove_dir(&self.path).is_err() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_sandbox_is_not_swept() {
        let parent = tempfile::tempdir().unwrap();
        let live = Base::create(Some(parent.path())).unwrap();
        let dir = live.path().to_path_buf();
        // Seen from elsewhere (another process, another PID namespace): renamed so that
        // its pid is not this process's.
        let elsewhere = parent.path().join(format!("{PREFIX}{}-live", u32::MAX - 2));
        std::fs::rename(&dir, &elsewhere).unwrap();
        let _other = Base::create(Some(parent.path())).unwrap();
        assert!(elsewhere.exists());
        std::fs::rename(&elsewhere, &dir).unwrap();
    }

    #[test]
    fn what_dead_processes_left_is_swept() {
        let parent = tempfile::tempdir().unwrap();
        // No process has pid u32::MAX - 1.
        let stale = parent.path().join(format!("{PREFIX}{}-abcd", u32::MAX - 1));
        std::fs::create_dir_all(stale.join("job-3")).unwrap();
        let with_files = parent.path().join(format!("{PREFIX}{}-efgh", u32::MAX - 1));
        std::fs::create_dir_all(&with_files).unwrap();
        std::fs::write(with_files.join("kept"), "x").unwrap();
        let base = Base::create(Some(parent.path())).unwrap();
        assert!(!stale.exists());
        assert!(with_files.join("kept").exists());
        assert!(base.path().exists());
    }

    #[test]
    fn work_dirs_are_fresh_and_removed() {
        let base = Base::create(None).unwrap();
        let first = base.fresh("job", None).unwrap();
        let second = base.fresh("job", None).unwrap();
        assert_ne!(first.path(), second.path());
        std::fs::write(first.path().join("x"), "data").unwrap();
        let path = first.path().to_path_buf();
        drop(first);
        assert!(!path.exists());
        let base_path = base.path().to_path_buf();
        drop(second);
        drop(base);
        assert!(!base_path.exists());
    }
}
