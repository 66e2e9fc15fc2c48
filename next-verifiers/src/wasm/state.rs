//! [`JobState`], the data of a job's store: the guest's WASI context, its memory limit,
//! and what the epoch callback watches once a tick (deadline, [`Cancel`], output and work
//! directory). The loaded module is linked for it; a job's run fills it in.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Notify;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p1::WasiP1Ctx;

use super::output::Captured;
use super::termination::Stop;
use super::workdir::over_limits;

/// Table elements a guest may grow its tables to (CPython's table never grows).
const TABLE_ELEMENTS: usize = 1 << 20;

/// What a sandbox's jobs share beyond the loaded module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobSettings {
    /// Bytes a job may keep in its work directory.
    pub workdir_bytes: u64,
    /// Entries a job may keep in its work directory.
    pub workdir_entries: u64,
    /// Stop the job when an output stream passes its limit.
    pub kill_on_output: bool,
}

/// Cancellation of one job, set when its future is dropped.
#[derive(Debug, Default)]
pub(crate) struct Cancel {
    flag: AtomicBool,
    pub(super) wake: Notify,
}

impl Cancel {
    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// The store's data: the guest's WASI context and what the host watches.
pub(crate) struct JobState {
    /// The guest's WASI preview 1 context.
    pub wasi: WasiP1Ctx,
    pub(super) memory: MemoryLimit,
    pub(super) watch: Watch,
}

/// The memory limit, remembering whether it refused a growth.
pub(super) struct MemoryLimit {
    pub(super) bytes: usize,
    pub(super) refused: bool,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self, _current: usize, desired: usize, _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.bytes;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self, _current: usize, desired: usize, _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS)
    }
}

/// What the epoch callback checks once a tick.
pub(super) struct Watch {
    pub(super) deadline: Instant,
    pub(super) cancel: Arc<Cancel>,
    pub(super) workdir: PathBuf,
    pub(super) settings: JobSettings,
    pub(super) stdout: Captured,
    pub(super) stderr: Captured,
    pub(super) stopped: Option<Stop>,
}

impl Watch {
    pub(super) fn check(&self) -> Option<Stop> {
        if self.cancel.is_cancelled() {
            Some(Stop::Cancelled)
        } else if Instant::now() >= self.deadline {
            Some(Stop::Timeout)
        } else if self.settings.kill_on_output
            && (self.stdout.truncated() || self.stderr.truncated())
        {
            Some(Stop::Output)
        } else if over_limits(
            &self.workdir,
            self.settings.workdir_bytes,
            self.settings.workdir_entries,
        ) {
            Some(Stop::Disk)
        } else {
            None
        }
    }
}
