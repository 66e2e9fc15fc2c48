//! The roles a plugin built, as the host holds them: one proxy per role trait, each
//! sending its calls across the boundary through a shared [`Handle`].
//!
//! The design decision: **an async call runs on a thread of the host's blocking pool**
//! (`spawn_blocking`), where the plugin blocks on its own runtime until the role is done,
//! so the host's async workers never wait on a plugin and the two runtimes never meet.
//! Outside a tokio runtime the call blocks the calling thread.

use std::borrow::Cow;
use std::ffi::c_void;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::checkpoint::Checkpoint;
use crate::factory::RoleKind;
use crate::prompt::Prompt;
use crate::render::TraceRenderer;
use crate::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use crate::sandbox::{Execution, Job, Sandbox, SandboxError};
use crate::task::{Program, TestCase};
use crate::trace::{Trace, TraceError, Tracer};
use crate::train::{TrainContext, TrainError, TrainExample, Trainer};
use crate::verify::{Verdict, Verifier, VerifyError};

use super::library::{CallError, Library};
use super::role_error::{FromCallError, RoleId};
use super::wire::{Request, Response};
use super::{Direction, PluginError};

/// A role built by a plugin: its library and its handle there, dropped with the last
/// proxy that shares it.
pub(crate) struct Handle {
    library: &'static Library,
    instance: *mut c_void,
    role: RoleKind,
    name: &'static str,
}

// SAFETY: the handle points at a role the plugin built as a `Box<dyn Role>`, and every
// role trait requires `Send + Sync`, so the plugin's object may be used from any thread
// and from several at once; the library itself is never unloaded.
#[allow(unsafe_code)]
unsafe impl Send for Handle {}
// SAFETY: as for `Send`.
#[allow(unsafe_code)]
unsafe impl Sync for Handle {}

impl Handle {
    /// The role `instance` of `library`, built by its factory `name`.
    pub(crate) fn new(
        library: &'static Library, instance: *mut c_void, role: RoleKind, name: &'static str,
    ) -> Self {
        Self {
            library,
            instance,
            role,
            name,
        }
    }

    /// The plugin's file.
    pub(crate) fn path(&self) -> &'static Path {
        self.library.path
    }

    /// Which role of which plugin it is.
    fn id(&self) -> RoleId<'static> {
        RoleId::new(self.library.path, self.role, self.name)
    }

    /// Sends `request` and waits for the answer on this thread.
    pub(crate) fn call_blocking(&self, request: &Request<'_>) -> Result<Response, CallError> {
        let call = request.name();
        let bytes = self.encode(request)?;
        self.library.call(self.instance, call, &bytes)
    }

    /// Sends `request` from a thread of the host's blocking pool (or this thread,
    /// outside a tokio runtime) and waits for the answer.
    async fn call(self: &Arc<Self>, request: &Request<'_>) -> Result<Response, CallError> {
        let call = request.name();
        let bytes = self.encode(request)?;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.library.call(self.instance, call, &bytes);
        };
        let handle = Arc::clone(self);
        runtime
            .spawn_blocking(move || handle.library.call(handle.instance, call, &bytes))
            .await
            .map_err(|err| CallError::Plugin(self.library.protocol(call, err.to_string())))?
    }

    fn encode(&self, request: &Request<'_>) -> Result<Vec<u8>, CallError> {
        serde_json::to_vec(request).map_err(|err| {
            CallError::Plugin(PluginError::Malformed {
                path: self.path().to_owned(),
                direction: Direction::ToPlugin,
                call: request.name().to_owned(),
                message: err.to_string(),
            })
        })
    }

    /// The error of an answer of the wrong kind.
    pub(crate) fn unexpected(&self, response: &Response) -> CallError {
        CallError::Plugin(self.library.protocol(
            self.role.as_str(),
            format!("a {} answered `{}`", self.role, response.name()),
        ))
    }

    /// The role error of a failed call.
    fn error<E: FromCallError>(&self, error: CallError) -> E {
        E::from_call(&self.id(), error)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.library.drop_instance(self.instance);
    }
}

/// Calls `$handle` with `$request` and unpacks the `$variant` answer, or returns the
/// role's error.
macro_rules! answer {
    ($handle:expr, $request:expr, $variant:ident) => {
        match $handle.call(&$request).await {
            Ok(Response::$variant(value)) => Ok(value),
            Ok(other) => Err($handle.error($handle.unexpected(&other))),
            Err(err) => Err($handle.error(err)),
        }
    };
}

/// A plugin's sandbox.
pub(crate) struct PluginSandbox(pub(crate) Arc<Handle>);

#[async_trait]
impl Sandbox for PluginSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        answer!(self.0, Request::Run { job: job.into() }, Executed)
    }

    async fn preload(&self, name: &str, source: &str) -> Result<bool, SandboxError> {
        let request = Request::Preload {
            name: name.into(),
            source: source.into(),
        };
        answer!(self.0, request, Preloaded)
    }
}

/// A plugin's tracer.
pub(crate) struct PluginTracer(pub(crate) Arc<Handle>);

#[async_trait]
impl Tracer for PluginTracer {
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError> {
        let request = Request::Trace {
            program: Cow::Borrowed(program),
            tests: tests.into(),
        };
        answer!(self.0, request, Traced)
    }
}

/// A plugin's renderer, with what it said of itself when built.
pub(crate) struct PluginRenderer {
    pub(crate) handle: Arc<Handle>,
    pub(crate) name: String,
    pub(crate) shows_execution: bool,
    pub(crate) legend: String,
}

impl TraceRenderer for PluginRenderer {
    fn name(&self) -> &str {
        &self.name
    }

    fn shows_execution(&self) -> bool {
        self.shows_execution
    }

    fn legend(&self) -> &str {
        &self.legend
    }

    /// Renders through the plugin. The trait has no error: a failed call renders as the
    /// program under a comment line that says what failed.
    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        let request = Request::Render {
            program: Cow::Borrowed(program),
            tests: tests.into(),
            traces: traces.into(),
        };
        let error = match self.handle.call_blocking(&request) {
            Ok(Response::Rendered(text)) => return text,
            Ok(other) => self.handle.unexpected(&other),
            Err(err) => err,
        };
        let error: TraceError = self.handle.error(error);
        format!(
            "# rendering failed: {}\n{}",
            crate::error::chain(&error),
            program.source()
        )
    }
}

/// A plugin's sampler.
pub(crate) struct PluginSampler(pub(crate) Arc<Handle>);

#[async_trait]
impl RationaleSampler for PluginSampler {
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        let request = Request::Sample {
            model: Cow::Borrowed(model),
            prompt: Cow::Borrowed(prompt),
            n,
            params: Cow::Borrowed(params),
        };
        answer!(self.0, request, Sampled)
    }
}

/// A plugin's verifier.
pub(crate) struct PluginVerifier(pub(crate) Arc<Handle>);

#[async_trait]
impl Verifier for PluginVerifier {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        let request = Request::Verify {
            program: Cow::Borrowed(program),
            tests: tests.into(),
        };
        answer!(self.0, request, Verified)
    }
}

/// A plugin's trainer; it reports no progress to the host's observer.
pub(crate) struct PluginTrainer(pub(crate) Arc<Handle>);

#[async_trait]
impl Trainer for PluginTrainer {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        let request = Request::Train {
            base: Cow::Borrowed(base),
            examples: examples.into(),
            out: cx.out().to_owned(),
            state: cx.state().map(Path::to_owned),
            iteration: cx.iteration(),
        };
        answer!(self.0, request, Trained)
    }
}
