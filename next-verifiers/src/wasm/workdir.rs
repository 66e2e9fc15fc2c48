//! Work directories: the sandbox's base directory, one fresh directory per job (removed
//! when the job ends, however it ends), and the check of what a job keeps in it.

use std::path::Path;

use tempfile::TempDir;

use crate::error::Error;

/// The directory under which a sandbox makes its jobs' directories, removed with it.
#[derive(Debug)]
pub(crate) struct Base {
    dir: TempDir,
}

impl Base {
    /// Makes `next-wasm-PID-XXXX` under `parent` (default: the system's temporary
    /// directory).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be made.
    pub fn create(parent: Option<&Path>) -> Result<Self, Error> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = tempfile::Builder::new()
            .prefix(&format!("next-wasm-{}-", std::process::id()))
            .tempdir_in(&parent)
            .map_err(|e| {
                Error::io(
                    format!("making the sandbox's directory in {}", parent.display()),
                    e,
                )
            })?;
        Ok(Self { dir })
    }

    /// The base directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh, empty directory for one job, removed with its contents when dropped.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be made.
    pub fn fresh(&self) -> Result<TempDir, Error> {
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(self.dir.path())
            .map_err(|e| Error::io("making a work directory", e))
    }
}

/// Whether what is under `dir` passes `bytes` (every file's length, added up) or
/// `entries` (files and directories). The walk stops as soon as either is passed, so
/// a job that made a million files costs one walk of `entries` entries.
pub(crate) fn over_limits(dir: &Path, bytes: u64, entries: u64) -> bool {
    let mut total = 0u64;
    let mut count = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in listing.flatten() {
            count += 1;
            if count > entries {
                return true;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total = total.saturating_add(meta.len());
                if total > bytes {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_directories_are_removed_and_sizes_add_up() {
        let base = Base::create(None).unwrap();
        let job = base.fresh().unwrap();
        std::fs::create_dir(job.path().join("sub")).unwrap();
        std::fs::write(job.path().join("sub/a"), vec![0u8; 600]).unwrap();
        std::fs::write(job.path().join("b"), vec![0u8; 500]).unwrap();
        assert!(!over_limits(job.path(), 1100, 3));
        assert!(over_limits(job.path(), 1099, 3));
        assert!(over_limits(job.path(), 1100, 2));
        let path = job.path().to_path_buf();
        drop(job);
        assert!(!path.exists());
        let base_path = base.path().to_path_buf();
        drop(base);
        assert!(!base_path.exists());
    }
}
