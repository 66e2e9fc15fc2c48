//! The `Sandbox` role: the only thing that executes untrusted code.
//!
//! Every program the system runs (a dataset's program, a model's fix, the tracer's
//! harness around them) is untrusted. A [`Sandbox`] runs one Python source as a [`Job`]
//! with [`Limits`] and reports how it ended as an [`Execution`]. Tracers and verifiers
//! are generic over it, so that the isolation backend (a process, WASM, Docker) is
//! chosen once and applies everywhere.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::BoxError;

pub mod frame;
mod nonce;

pub use frame::FrameTooLarge;
pub use nonce::nonce;

/// Resource limits of one job.
///
/// Invariant: every limit is positive; [`Limits::new`] and deserialisation check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawLimits", into = "RawLimits")]
pub struct Limits {
    wall_time: Duration,
    memory_bytes: u64,
    output_bytes: u64,
    processes: u32,
}

impl Limits {
    /// Makes limits: wall-clock time, memory (address space) in bytes, captured output in
    /// bytes (stdout and stderr each), and processes the job may have at once.
    ///
    /// # Errors
    /// [`crate::error::InvalidInput`] when a limit is zero.
    pub fn new(
        wall_time: Duration, memory_bytes: u64, output_bytes: u64, processes: u32,
    ) -> Result<Self, crate::error::InvalidInput> {
        if wall_time.is_zero() || memory_bytes == 0 || output_bytes == 0 || processes == 0 {
            return Err(crate::error::InvalidInput::new(
                "every sandbox limit must be positive",
            ));
        }
        Ok(Self {
            wall_time,
            memory_bytes,
            output_bytes,
            processes,
        })
    }

    /// Wall-clock time after which the job is killed.
    pub fn wall_time(&self) -> Duration {
        self.wall_time
    }

    /// Memory the job may use, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }

    /// Bytes of stdout (and, separately, of stderr) kept; the rest is cut.
    pub fn output_bytes(&self) -> u64 {
        self.output_bytes
    }

    /// Processes (and threads, where the backend counts them so) the job may hold at once.
    pub fn processes(&self) -> u32 {
        self.processes
    }
}

impl Default for Limits {
    /// 10 s, 1 GiB, 1 MiB of output, 16 processes.
    fn default() -> Self {
        Self {
            wall_time: Duration::from_secs(10),
            memory_bytes: 1 << 30,
            output_bytes: 1 << 20,
            processes: 16,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RawLimits {
    wall_time_ms: u64,
    memory_bytes: u64,
    output_bytes: u64,
    processes: u32,
}

impl TryFrom<RawLimits> for Limits {
    type Error = crate::error::InvalidInput;
    fn try_from(raw: RawLimits) -> Result<Self, Self::Error> {
        Limits::new(
            Duration::from_millis(raw.wall_time_ms),
            raw.memory_bytes,
            raw.output_bytes,
            raw.processes,
        )
    }
}

impl From<Limits> for RawLimits {
    fn from(limits: Limits) -> Self {
        Self {
            wall_time_ms: u64::try_from(limits.wall_time.as_millis()).unwrap_or(u64::MAX),
            memory_bytes: limits.memory_bytes,
            output_bytes: limits.output_bytes,
            processes: limits.processes,
        }
    }
}

/// One piece of Python to run: its source, what it reads on stdin, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The Python source, run as the main module.
    pub source: String,
    /// Bytes offered on stdin, then end of file.
    pub stdin: Vec<u8>,
    /// The limits the job runs under.
    pub limits: Limits,
}

impl Job {
    /// A job with empty stdin and default limits.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            stdin: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Sets what the job reads on stdin.
    #[must_use]
    pub fn with_stdin(mut self, stdin: impl Into<Vec<u8>>) -> Self {
        self.stdin = stdin.into();
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum Termination {
    /// The interpreter exited by itself with this status code.
    Exited {
        /// The exit status.
        code: i32,
    },
    /// The process died of a signal it did not ask for (a segfault, say).
    Signaled {
        /// The signal number.
        signal: i32,
    },
    /// Killed at the wall-time limit.
    TimedOut,
    /// Killed or failed for exceeding a resource limit other than time.
    ResourceLimit {
        /// Which limit, in words (memory, processes, file size, ...).
        resource: String,
    },
}

/// What a job did: its captured output and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// Captured stdout, cut at the output limit.
    pub stdout: Vec<u8>,
    /// Captured stderr, cut at the output limit.
    pub stderr: Vec<u8>,
    /// How the job ended.
    pub termination: Termination,
    /// Whether stdout or stderr was cut at the output limit.
    pub output_truncated: bool,
    /// Wall-clock time the job took.
    pub wall_time: Duration,
}

impl Execution {
    /// Whether the job exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.termination == Termination::Exited { code: 0 }
    }
}

/// Why a sandbox could not run a job at all. A job that ran and misbehaved is not an
/// error: it is an [`Execution`] with its [`Termination`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The backend is missing or broken (no interpreter, no Docker engine, no module).
    #[error("sandbox backend unavailable: {0}")]
    Unavailable(String),
    /// An I/O operation of the sandbox itself failed.
    #[error("sandbox I/O failed while {context}")]
    Io {
        /// What the sandbox was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other backend failure.
    #[error("sandbox backend failed")]
    Backend(#[source] BoxError),
}

/// Runs untrusted Python with limits. The only role that executes code.
///
/// Implementations must enforce every field of [`Limits`], run each job in a fresh
/// temporary working directory, close stdin after [`Job::stdin`], and leave no process or
/// file behind when the call returns, also when the future is dropped.
#[async_trait]
pub trait Sandbox: Send + Sync {
    /// Runs one job to its end or to a limit.
    ///
    /// # Errors
    /// [`SandboxError`] only when the job could not be run at all.
    async fn run(&self, job: Job) -> Result<Execution, SandboxError>;

    /// Offers a module of *trusted* Python (a harness of this project's, never a
    /// program under test) that later jobs may find already imported, as
    /// `sys.modules[name]`, so that they need not load it themselves. A sandbox that
    /// keeps a warm interpreter to start jobs from (the process sandbox's fork server)
    /// can execute it there once; every other sandbox declines, which is the default.
    ///
    /// Returns whether the sandbox took the module. Even then a job must not rely on
    /// finding it (a job must carry what it needs and use the module only when it is
    /// there): the module's top level must only define things, with no effect on the
    /// interpreter or the process (no descriptors, no global settings), since it runs
    /// before any job and outside them.
    ///
    /// # Errors
    /// [`SandboxError`] when the sandbox tried to load the module and failed.
    async fn preload(&self, name: &str, source: &str) -> Result<bool, SandboxError> {
        let _ = (name, source);
        Ok(false)
    }
}

/// What a job prints, alone, when the harness it was sent without was not preloaded
/// after all (see [`Preload`]): the job ran nothing else, and is to be sent again with
/// its harness.
pub const HARNESS_MISSING: &str = "NEXT-HARNESS-MISSING";

/// A part of Python for a harness that runs a program's code in its own process, to
/// join to its source: the program's recursion limit and depth kept what they are in a
/// plain script (`python program.py`), though its code runs below the harness's frames.
/// It defines `harness_depth()`, to call from the frame about to run the program's
/// code, and the class `RecursionLimit`, whose `install()` gives the program its view
/// of the limit in `sys` and whose `enter(harness_depth())` and `leave()` go around
/// each run of the program's code (the file says more). Both of this project's
/// harnesses join it, the tracer's and the verifier's, so that a trace and a verdict
/// see a program recurse equally deep.
pub const HARNESS_RECURSION: &str = include_str!("sandbox/recursion.py");

/// A harness (trusted Python that runs in many jobs: the tracer's, the verifier's) as
/// offered to a sandbox to preload ([`Sandbox::preload`]), and whether the sandbox
/// holds it, so that jobs may be sent without it.
///
/// Invariant: the module name is a prefix and a hash of the source, so two harnesses
/// never pass for each other in one sandbox.
#[derive(Debug)]
pub struct Preload {
    name: String,
    source: &'static str,
    /// 0: not offered yet; 1: the sandbox holds it; 2: declined, failed or lost.
    state: std::sync::atomic::AtomicU8,
}

impl Preload {
    /// A harness with this source, to be preloaded under `prefix` and its hash.
    pub fn new(prefix: &str, source: &'static str) -> Self {
        let hash = source.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Self {
            name: format!("{prefix}{hash:016x}"),
            source,
            state: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// The module name a job looks for in `sys.modules`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The harness's source.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Offers the harness to `sandbox` the first time (a sandbox that fails to load it
    /// counts as declining); returns whether jobs may now be sent without it.
    pub async fn offer<S: Sandbox + ?Sized>(&self, sandbox: &S) -> bool {
        use std::sync::atomic::Ordering;
        if self.state.load(Ordering::Acquire) == 0 {
            let taken = sandbox
                .preload(&self.name, self.source)
                .await
                .unwrap_or(false);
            let _ = self.state.compare_exchange(
                0,
                if taken { 1 } else { 2 },
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        self.state.load(Ordering::Acquire) == 1
    }

    /// The source of a job sent without its harness (the sandbox said it holds it):
    /// it calls `function` of the preloaded module, which reads the job's stdin itself
    /// (all of it: no [`Preload::stdin_head`]), or, where the module is not there after
    /// all, prints [`HARNESS_MISSING`] and ends as a bootstrap does. A sandbox compiles
    /// the source of every job: this one is a few lines, where a bootstrap that can
    /// also load the harness from stdin costs a few tenths of a millisecond more.
    ///
    /// # Panics
    /// If `function` is not an ASCII identifier (a name in this crate's callers' code,
    /// never input).
    pub fn entry(&self, function: &str) -> String {
        assert!(
            function
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && function
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{function:?} is not a Python identifier"
        );
        format!(
            "import sys as _s\n\
             _h = _s.modules.get({})\n\
             if _h is None:\n    _s.stdout.write({})\n    _s.exit(3)\n\
             del _s\n\
             _h.{function}()\n",
            python_str(&self.name),
            python_str(&format!("{HARNESS_MISSING}\n")),
        )
    }

    /// The head of a job's stdin, for its `bootstrap.py`: four [`frame`]s, the module
    /// name under which the sandbox may hold the harness ([`Preload::name`]), the tag of
    /// the interpreter build that compiled it, its `marshal` bytes, and its source. The
    /// tag and bytes are `compiled`'s (a job on that build loads them; the tag is
    /// `"%s %s" % (sys.implementation.cache_tag, sys.version)`), empty where nothing was
    /// compiled yet. (A job sent without the harness has no head: see
    /// [`Preload::entry`].)
    ///
    /// # Errors
    /// [`FrameTooLarge`] when a field is 4 GiB or longer.
    pub fn stdin_head(&self, compiled: Option<(&str, &[u8])>) -> Result<Vec<u8>, FrameTooLarge> {
        let (tag, code) = compiled.map_or((&[][..], &[][..]), |(tag, code)| (tag.as_bytes(), code));
        let source = self.source;
        let mut head = Vec::with_capacity(
            4 * frame::LENGTH_BYTES + self.name.len() + tag.len() + code.len() + source.len(),
        );
        frame::write(&mut head, "the harness's module name", self.name.as_bytes())?;
        frame::write(&mut head, "the harness's interpreter tag", tag)?;
        frame::write(&mut head, "the compiled harness", code)?;
        frame::write(&mut head, "the harness's source", source.as_bytes())?;
        Ok(head)
    }

    /// Whether a job's stdout says that it did not find the harness ([`HARNESS_MISSING`]);
    /// if so, jobs carry the harness from now on.
    pub fn missing_in(&self, stdout: &[u8]) -> bool {
        let missing = stdout.strip_suffix(b"\n").unwrap_or(stdout) == HARNESS_MISSING.as_bytes();
        if missing {
            self.state.store(2, std::sync::atomic::Ordering::Release);
        }
        missing
    }
}

/// A Python string literal of `text` (every character not printable ASCII, the quote
/// and the backslash escaped).
fn python_str(text: &str) -> String {
    use std::fmt::Write as _;

    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
            out.push(c);
        } else {
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
    out.push('"');
    out
}

crate::forward::forward_role! {
    Sandbox {
        async fn run(&self, job: Job) -> Result<Execution, SandboxError>;
        async fn preload(&self, name: &str, source: &str) -> Result<bool, SandboxError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_limits_are_rejected_also_when_read() {
        assert!(Limits::new(Duration::ZERO, 1, 1, 1).is_err());
        let json = r#"{"wall_time_ms":1000,"memory_bytes":0,"output_bytes":1,"processes":1}"#;
        assert!(serde_json::from_str::<Limits>(json).is_err());
    }

    #[test]
    fn preload_names_differ_with_the_source_and_missing_is_exact() {
        let a = Preload::new("__h_", "x = 1\n");
        let b = Preload::new("__h_", "x = 2\n");
        assert_ne!(a.name(), b.name());
        assert!(a.name().starts_with("__h_") && a.name().len() == 4 + 16);
        assert!(!a.missing_in(b"NEXT-HARNESS-MISSING and more"));
        assert!(!a.missing_in(b""));
        assert!(a.missing_in(b"NEXT-HARNESS-MISSING\n"));
    }

    #[test]
    fn the_entry_calls_the_preloaded_module_by_its_name() {
        let harness = Preload::new("__h_", "x = 1\n");
        let entry = harness.entry("enter");
        assert!(
            entry.contains(&format!("_s.modules.get(\"{}\")", harness.name())),
            "{entry}"
        );
        assert!(entry.ends_with("_h.enter()\n"), "{entry}");
        // Anything not plain ASCII is escaped, so the literal is Python's reading of it.
        assert_eq!(
            python_str("a\"b\\c\né z"),
            "\"a\\U00000022b\\U0000005cc\\U0000000a\\U000000e9 z\""
        );
        for bad in ["", "1a", "a.b", "a()", "a b"] {
            assert!(
                std::panic::catch_unwind(|| harness.entry(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_stdin_head_is_four_frames() {
        let harness = Preload::new("__h_", "x = 1\n");
        let name = harness.name().to_owned();
        let mut expected = Vec::new();
        for field in [name.as_bytes(), b"t 1", b"\x00\n", b"x = 1\n"] {
            frame::write(&mut expected, "a field", field).unwrap();
        }
        let head = harness.stdin_head(Some(("t 1", b"\x00\n"))).unwrap();
        assert_eq!(head, expected);
        // Nothing compiled yet: an empty tag and empty bytes.
        let mut expected = Vec::new();
        for field in [name.as_bytes(), b"", b"", b"x = 1\n"] {
            frame::write(&mut expected, "a field", field).unwrap();
        }
        assert_eq!(harness.stdin_head(None).unwrap(), expected);
    }

    /// Takes every module offered, counting the offers.
    struct Taking(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl Sandbox for Taking {
        async fn run(&self, _job: Job) -> Result<Execution, SandboxError> {
            Err(SandboxError::Unavailable("runs nothing".to_owned()))
        }

        async fn preload(&self, _name: &str, _source: &str) -> Result<bool, SandboxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(true)
        }
    }

    /// Declines every module (the trait's default).
    struct Declining;

    #[async_trait]
    impl Sandbox for Declining {
        async fn run(&self, _job: Job) -> Result<Execution, SandboxError> {
            Err(SandboxError::Unavailable("runs nothing".to_owned()))
        }
    }

    #[test]
    fn a_harness_is_offered_once_and_carried_again_once_lost() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let taking = Taking(AtomicUsize::new(0));
        let harness = Preload::new("__h_", "x = 1\n");
        assert!(futures::executor::block_on(harness.offer(&taking)));
        assert!(futures::executor::block_on(harness.offer(&taking)));
        assert_eq!(taking.0.load(Ordering::SeqCst), 1);
        assert!(harness.missing_in(b"NEXT-HARNESS-MISSING\n"));
        assert!(!futures::executor::block_on(harness.offer(&taking)));
        assert_eq!(taking.0.load(Ordering::SeqCst), 1);
        // A sandbox that declines (the default) is never relied on.
        let harness = Preload::new("__h_", "x = 1\n");
        assert!(!futures::executor::block_on(harness.offer(&Declining)));
    }

    #[test]
    fn limits_round_trip() {
        let limits = Limits::new(Duration::from_millis(1500), 1 << 20, 4096, 2).unwrap();
        let json = serde_json::to_string(&limits).unwrap();
        assert_eq!(serde_json::from_str::<Limits>(&json).unwrap(), limits);
    }
}
