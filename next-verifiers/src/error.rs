//! [`Error`]: why a sandbox of this crate could not be built or could not run a job.

use std::io;

use next_core::sandbox::SandboxError;

/// What went wrong in this crate. A job that ran and misbehaved is never an error (it
/// is an [`Execution`](next_core::sandbox::Execution)); these are failures of the sandbox
/// itself. Converts into [`SandboxError`] at the role boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable Python interpreter: none on `PATH`, or the one configured does not
    /// answer.
    #[error("no usable Python interpreter: {0}")]
    Interpreter(String),
    /// An I/O operation of the sandbox itself failed.
    #[error("sandbox I/O failed while {context}")]
    Io {
        /// What the sandbox was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The child failed while setting itself up, before the job's code ran.
    #[error("the sandboxed child failed to {stage}")]
    Setup {
        /// The set-up step that failed, in words.
        stage: &'static str,
        /// The error the kernel returned.
        #[source]
        source: io::Error,
    },
    /// The kernel refused isolation that the configuration requires.
    #[error("the kernel refused required isolation: {0}")]
    IsolationRefused(String),
    /// The warm server misbehaved or died and could not be restarted.
    #[error("the warm fork server failed: {0}")]
    Server(String),
    /// No Docker engine answers, or it lacks the sandbox image; the message names the
    /// command that fixes it.
    #[error("the Docker sandbox is unavailable: {0}")]
    DockerUnavailable(String),
    /// A request to the Docker engine failed.
    #[error("the Docker engine failed while {context}")]
    Engine {
        /// What the sandbox was doing.
        context: String,
        /// The engine client's error.
        #[source]
        source: next_core::error::BoxError,
    },
    /// The sandbox image could not be built or does not work, or the Docker sandbox's
    /// configuration is invalid.
    #[error("docker sandbox: {0}")]
    Image(String),
    /// A runtime file the sandbox needs (the WASI CPython module) is not in the cache;
    /// the message names the command that fetches it.
    #[error(transparent)]
    Artifact(#[from] next_core::artifact::ArtifactError),
    /// The WebAssembly runtime could not load the module or set up a job, or the
    /// WASM sandbox's configuration is out of range.
    #[error("the WebAssembly runtime failed while {context}: {message}")]
    Wasm {
        /// What the sandbox was doing.
        context: String,
        /// The runtime's error, with its causes.
        message: String,
    },
}

impl Error {
    /// An [`Error::Io`] with its context.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::Engine`] with its context.
    #[cfg(feature = "docker")]
    pub(crate) fn engine(
        context: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Engine {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

impl From<Error> for SandboxError {
    fn from(error: Error) -> Self {
        match error {
            Error::Interpreter(message) | Error::DockerUnavailable(message) => {
                SandboxError::Unavailable(message)
            }
            Error::Artifact(missing) => SandboxError::Unavailable(missing.to_string()),
            Error::Io { context, source } => SandboxError::Io { context, source },
            other => SandboxError::Backend(Box::new(other)),
        }
    }
}
