//! NExT verifiers: the sandboxes that run untrusted code, and the verifier that judges a
//! fix by its tests.
//!
//! Every line of model output and every dataset program is untrusted: the
//! self-training loop runs model-written code many thousands of times. This crate holds
//! the [`Sandbox`](next_core::sandbox::Sandbox) backends that run it so that no program
//! can hang, exhaust, escape or fool the system, and fast enough that verification is
//! never the loop's bottleneck: [`process::ProcessSandbox`] (registered as the sandbox
//! factory `process`), `docker::DockerSandbox` (feature `docker`, factory `docker`: a
//! fresh locked-down container of the local Docker engine per job, in an image that
//! `next docker image` builds from the host's Python), `wasm::WasmSandbox` (feature
//! `wasm`, factory `wasm`: the WASI build of CPython in wasmtime, isolated by what its
//! imports allow), and
//! [`TestVerifier`] (the verifier factory `tests`), which runs a program on its tests in
//! any sandbox and decides the verdict outside the process that ran the candidate (see
//! [`verify`], "How the verdict is guaranteed").
//!
//! The design decision: **isolation comes from the kernel, not from the interpreter.**
//! A job is CPython started straight into fresh user, PID, network, mount and IPC
//! namespaces (one `clone3`), as an unprivileged user, on a read-only file tree, under
//! rlimits; nothing inside Python (no audit hook, no restricted builtins) is trusted to
//! hold. The warm mode keeps that: its fork server lives in the same jail and gives
//! every job a PID, mount and user namespace of its own. What the kernel allowed is
//! probed once and reported by [`process::ProcessSandbox::isolation`].
//!
//! ```no_run
//! use next_core::sandbox::{Job, Sandbox, Termination};
//! use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ProcessConfig { mode: Mode::Warm, ..ProcessConfig::default() };
//! let sandbox = ProcessSandbox::new(config)?;
//! let done = sandbox.run(Job::new("print(sum(range(10)))")).await?;
//! assert_eq!(done.termination, Termination::Exited { code: 0 });
//! assert_eq!(done.stdout, b"45\n");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod artifact;
#[cfg(feature = "docker")]
pub mod docker;
mod error;
mod options;
pub mod process;
#[cfg(feature = "wasm")]
pub mod wasm;

pub mod verify;

pub use error::Error;
pub use verify::{TestVerifier, TestVerifierConfig};
