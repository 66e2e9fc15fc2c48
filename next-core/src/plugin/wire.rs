//! What crosses the plugin boundary, as serde JSON: the [`Manifest`], the [`Request`] of
//! each role call, its [`Response`] and the [`WireError`] a role returns.
//!
//! The design decision: **the wire types are the core types themselves** (a [`Trace`],
//! a [`Verdict`], a [`Checkpoint`] as they serialise in run directories), wrapped in one
//! tagged enum per direction, so the plugin format follows the core types, and a plugin
//! built against another version of them is told apart by the manifest's
//! `core_version` instead of by a half-understood message.

use std::borrow::Cow;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::factory::RegistryError;
use crate::prompt::Prompt;
use crate::sample::{Sample, SampleError, SamplingParams};
use crate::sandbox::{Execution, Job, Limits, SandboxError};
use crate::task::{Program, TestCase};
use crate::trace::{Trace, TraceError};
use crate::train::{TrainError, TrainExample};
use crate::verify::{Verdict, VerifyError};

/// The version of the core types this build of `next-core` speaks: a plugin's manifest
/// must name the host's.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a plugin exports: the core version it was built against and its factories, in
/// the order [`abi::BuildFn`](super::abi::BuildFn) numbers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The `next-core` version the plugin was built against ([`CORE_VERSION`]).
    pub core_version: String,
    /// The factories.
    pub factories: Vec<FactoryInfo>,
}

/// One factory of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactoryInfo {
    /// The role, as configuration files name it (`verifier`, `renderer`, ...).
    pub role: String,
    /// The factory's name, what `kind` selects.
    pub name: String,
    /// Its one-line description.
    pub summary: String,
    /// The configuration keys it takes.
    #[serde(default)]
    pub options: Vec<OptionInfo>,
}

/// One configuration key of a plugin's factory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionInfo {
    /// The key.
    pub key: String,
    /// Its default as TOML text, empty when required.
    #[serde(default)]
    pub default: String,
    /// What it sets.
    #[serde(default)]
    pub summary: String,
}

/// A [`Job`] as it crosses the boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireJob {
    /// [`Job::source`].
    pub source: String,
    /// [`Job::stdin`].
    pub stdin: Vec<u8>,
    /// [`Job::limits`].
    pub limits: Limits,
}

impl From<Job> for WireJob {
    fn from(job: Job) -> Self {
        Self {
            source: job.source,
            stdin: job.stdin,
            limits: job.limits,
        }
    }
}

impl From<WireJob> for Job {
    fn from(job: WireJob) -> Self {
        Job::new(job.source)
            .with_stdin(job.stdin)
            .with_limits(job.limits)
    }
}

/// One call of a role, host to plugin. Borrowed on the host, owned in the plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Request<'a> {
    /// `Sandbox::run`.
    Run {
        /// The job.
        job: WireJob,
    },
    /// `Sandbox::preload`.
    Preload {
        /// The module's name.
        name: Cow<'a, str>,
        /// Its source.
        source: Cow<'a, str>,
    },
    /// `Tracer::trace`.
    Trace {
        /// The program.
        program: Cow<'a, Program>,
        /// Its tests.
        tests: Cow<'a, [TestCase]>,
    },
    /// A renderer's `name`, `shows_execution` and `legend`, asked once after building.
    Describe,
    /// `TraceRenderer::render`.
    Render {
        /// The program.
        program: Cow<'a, Program>,
        /// Its tests.
        tests: Cow<'a, [TestCase]>,
        /// The traces.
        traces: Cow<'a, [Trace]>,
    },
    /// `RationaleSampler::sample`.
    Sample {
        /// The model.
        model: Cow<'a, Checkpoint>,
        /// The prompt.
        prompt: Cow<'a, Prompt>,
        /// How many samples.
        n: usize,
        /// How to sample.
        params: Cow<'a, SamplingParams>,
    },
    /// `Verifier::verify`.
    Verify {
        /// The program.
        program: Cow<'a, Program>,
        /// Its tests.
        tests: Cow<'a, [TestCase]>,
    },
    /// `Trainer::train`; the plugin's trainer reports its progress to no one.
    Train {
        /// The checkpoint to start from.
        base: Cow<'a, Checkpoint>,
        /// The examples.
        examples: Cow<'a, [TrainExample]>,
        /// `TrainContext::out`.
        out: PathBuf,
        /// `TrainContext::state`.
        state: Option<PathBuf>,
        /// `TrainContext::iteration`.
        iteration: u32,
    },
}

impl Request<'_> {
    /// The call's name, for messages: `run`, `preload`, `trace`, `describe`, `render`,
    /// `sample`, `verify` or `train`.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Run { .. } => "run",
            Request::Preload { .. } => "preload",
            Request::Trace { .. } => "trace",
            Request::Describe => "describe",
            Request::Render { .. } => "render",
            Request::Sample { .. } => "sample",
            Request::Verify { .. } => "verify",
            Request::Train { .. } => "train",
        }
    }
}

/// The result of a call, plugin to host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", content = "value", rename_all = "snake_case")]
pub enum Response {
    /// Of [`Request::Run`].
    Executed(Execution),
    /// Of [`Request::Preload`].
    Preloaded(bool),
    /// Of [`Request::Trace`].
    Traced(Vec<Trace>),
    /// Of [`Request::Describe`].
    Described {
        /// `TraceRenderer::name`.
        name: String,
        /// `TraceRenderer::shows_execution`.
        shows_execution: bool,
        /// `TraceRenderer::legend`.
        legend: String,
    },
    /// Of [`Request::Render`].
    Rendered(String),
    /// Of [`Request::Sample`].
    Sampled(Vec<Sample>),
    /// Of [`Request::Verify`].
    Verified(Verdict),
    /// Of [`Request::Train`].
    Trained(Checkpoint),
}

impl Response {
    /// The result's name, for messages (`executed`, `rendered`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Response::Executed(_) => "executed",
            Response::Preloaded(_) => "preloaded",
            Response::Traced(_) => "traced",
            Response::Described { .. } => "described",
            Response::Rendered(_) => "rendered",
            Response::Sampled(_) => "sampled",
            Response::Verified(_) => "verified",
            Response::Trained(_) => "trained",
        }
    }
}

/// A role's error as it crosses the boundary: the variants the loop tells apart keep
/// their kind, every other error becomes `other` with its whole chain as the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// `unavailable`, `protocol`, `rejected`, `checkpoint`, `deferred`, `options` or
    /// `other`.
    pub kind: String,
    /// The message (for `checkpoint`, the reason).
    pub message: String,
    /// The checkpoint's name, for `checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl WireError {
    /// An error of `kind` with `message`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.into(),
            name: None,
        }
    }

    /// An `other` error carrying `error`'s whole chain.
    pub fn other(error: &(dyn std::error::Error + 'static)) -> Self {
        Self::new("other", crate::error::chain(error))
    }
}

impl From<SandboxError> for WireError {
    fn from(error: SandboxError) -> Self {
        match error {
            SandboxError::Unavailable(message) => Self::new("unavailable", message),
            other => Self::other(&other),
        }
    }
}

impl From<TraceError> for WireError {
    fn from(error: TraceError) -> Self {
        match error {
            TraceError::Protocol(message) => Self::new("protocol", message),
            other => Self::other(&other),
        }
    }
}

impl From<VerifyError> for WireError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Protocol(message) => Self::new("protocol", message),
            other => Self::other(&other),
        }
    }
}

impl From<SampleError> for WireError {
    fn from(error: SampleError) -> Self {
        match error {
            SampleError::Rejected(message) => Self::new("rejected", message),
            SampleError::Unavailable(message) => Self::new("unavailable", message),
            SampleError::Checkpoint { name, reason } => Self {
                name: Some(name),
                ..Self::new("checkpoint", reason)
            },
            other @ SampleError::Backend(_) => Self::other(&other),
        }
    }
}

impl From<TrainError> for WireError {
    fn from(error: TrainError) -> Self {
        match error {
            TrainError::Checkpoint { name, reason } => Self {
                name: Some(name),
                ..Self::new("checkpoint", reason)
            },
            TrainError::Deferred { instructions } => Self::new("deferred", instructions),
            other => Self::other(&other),
        }
    }
}

impl From<RegistryError> for WireError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Options { message, .. } => Self::new("options", message),
            other => Self::other(&other),
        }
    }
}
