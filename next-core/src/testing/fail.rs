//! [`FailOn`]: makes any role fail, or panic, on the inputs a test picks.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use crate::prompt::Prompt;
use crate::render::TraceRenderer;
use crate::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use crate::sandbox::{Execution, Job, Sandbox, SandboxError};
use crate::task::{Program, TestCase};
use crate::trace::{Trace, TraceError, Tracer};
use crate::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
use crate::verify::{Verdict, Verifier, VerifyError};

/// What [`FailOn`] does to a call it picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Return the role's error: its `Backend` variant holding an [`InjectedFault`] with
    /// this message. A [`TraceRenderer`], which cannot fail, returns a garbage rendering
    /// that contains the message instead.
    Error(String),
    /// Panic with this message (prefixed with `injected panic: `), as a buggy backend
    /// would.
    Panic(String),
}

/// The error [`FailOn`] puts in a role error's `Backend` variant; downcast the source to
/// it to tell an injected failure from a real one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected fault: {0}")]
pub struct InjectedFault(pub String);

/// The input of one role call, as [`FailOn`]'s rule sees it.
#[derive(Debug, Clone, Copy)]
pub enum RoleInput<'a> {
    /// [`Sandbox::run`].
    Run {
        /// The job.
        job: &'a Job,
    },
    /// [`Tracer::trace`].
    Trace {
        /// The program.
        program: &'a Program,
        /// The tests.
        tests: &'a [TestCase],
    },
    /// [`TraceRenderer::render`].
    Render {
        /// The program.
        program: &'a Program,
        /// The tests.
        tests: &'a [TestCase],
        /// The traces.
        traces: &'a [Trace],
    },
    /// [`RationaleSampler::sample`].
    Sample {
        /// The checkpoint sampled from.
        model: &'a Checkpoint,
        /// The prompt.
        prompt: &'a Prompt,
        /// The number of samples asked for.
        n: usize,
    },
    /// [`Verifier::verify`].
    Verify {
        /// The program.
        program: &'a Program,
        /// The tests.
        tests: &'a [TestCase],
    },
    /// [`Trainer::train`].
    Train {
        /// The starting checkpoint.
        base: &'a Checkpoint,
        /// The examples.
        examples: &'a [TrainExample],
    },
}

impl RoleInput<'_> {
    /// The name of the role called: `sandbox`, `tracer`, `renderer`, `sampler`,
    /// `verifier`, `trainer`.
    pub fn role(&self) -> &'static str {
        match self {
            RoleInput::Run { .. } => "sandbox",
            RoleInput::Trace { .. } => "tracer",
            RoleInput::Render { .. } => "renderer",
            RoleInput::Sample { .. } => "sampler",
            RoleInput::Verify { .. } => "verifier",
            RoleInput::Train { .. } => "trainer",
        }
    }

    /// The input as text, what [`FailOn::when_contains`] searches: the job's source; the
    /// program's source (tracer, renderer, verifier); the prompt's plain text (sampler);
    /// each example's prompt text and completion, one after the other (trainer).
    pub fn text(&self) -> String {
        match self {
            RoleInput::Run { job } => job.source.clone(),
            RoleInput::Trace { program, .. }
            | RoleInput::Render { program, .. }
            | RoleInput::Verify { program, .. } => program.source().to_owned(),
            RoleInput::Sample { prompt, .. } => prompt.to_plain_text(),
            RoleInput::Train { examples, .. } => {
                let mut text = String::new();
                for example in *examples {
                    text.push_str(&example.prompt.to_plain_text());
                    text.push_str(&example.completion);
                    text.push('\n');
                }
                text
            }
        }
    }
}

type Rule = dyn Fn(&RoleInput<'_>) -> Option<Fault> + Send + Sync;

/// A role wrapped so that it fails on demand: a rule looks at each call's input and
/// returns the [`Fault`] to inject, or `None` to pass the call to the wrapped role.
///
/// `FailOn<R>` is a [`Sandbox`], [`Tracer`], [`TraceRenderer`], [`RationaleSampler`],
/// [`Verifier`] or [`Trainer`] whenever `R` is one. Use it to check that a loop records
/// a failing backend instead of stopping, or that a run killed by a panic resumes.
///
/// Clones share the rule and the fault counter.
pub struct FailOn<R> {
    inner: R,
    rule: Arc<Rule>,
    faults: Arc<AtomicUsize>,
}

impl<R: Clone> Clone for FailOn<R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rule: Arc::clone(&self.rule),
            faults: Arc::clone(&self.faults),
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for FailOn<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailOn")
            .field("inner", &self.inner)
            .field("faults", &self.faults())
            .finish_non_exhaustive()
    }
}

impl<R> FailOn<R> {
    /// Wraps `inner` with a rule over each call's input.
    pub fn new(
        inner: R, rule: impl Fn(&RoleInput<'_>) -> Option<Fault> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            rule: Arc::new(rule),
            faults: Arc::default(),
        }
    }

    /// Injects `fault` into every call whose input text ([`RoleInput::text`]) contains
    /// `needle`.
    pub fn when_contains(inner: R, needle: impl Into<String>, fault: Fault) -> Self {
        let needle = needle.into();
        Self::new(inner, move |input| {
            input.text().contains(&needle).then(|| fault.clone())
        })
    }

    /// Injects `fault` into the calls with these 0-based numbers, counted in order of
    /// arrival over this wrapper and its clones.
    pub fn on_calls(inner: R, calls: impl IntoIterator<Item = usize>, fault: Fault) -> Self {
        let picked: Vec<usize> = calls.into_iter().collect();
        let counter = AtomicUsize::new(0);
        Self::new(inner, move |_input| {
            let call = counter.fetch_add(1, Ordering::SeqCst);
            picked.contains(&call).then(|| fault.clone())
        })
    }

    /// Injects `fault` into every call.
    pub fn always(inner: R, fault: Fault) -> Self {
        Self::new(inner, move |_input| Some(fault.clone()))
    }

    /// The wrapped role.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// How many faults were injected so far (errors and panics).
    pub fn faults(&self) -> usize {
        self.faults.load(Ordering::SeqCst)
    }

    /// Applies the rule: `Err(message)` for an injected error; panics for an injected
    /// panic.
    fn check(&self, input: &RoleInput<'_>) -> Result<(), InjectedFault> {
        match (self.rule)(input) {
            None => Ok(()),
            Some(Fault::Error(message)) => {
                self.faults.fetch_add(1, Ordering::SeqCst);
                Err(InjectedFault(message))
            }
            Some(Fault::Panic(message)) => {
                self.faults.fetch_add(1, Ordering::SeqCst);
                panic!("injected panic: {message}")
            }
        }
    }
}

#[async_trait]
impl<R: Sandbox> Sandbox for FailOn<R> {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        self.check(&RoleInput::Run { job: &job })
            .map_err(|fault| SandboxError::Backend(Box::new(fault)))?;
        self.inner.run(job).await
    }

    async fn preload(&self, name: &str, source: &str) -> Result<bool, SandboxError> {
        self.inner.preload(name, source).await
    }
}

#[async_trait]
impl<R: Tracer> Tracer for FailOn<R> {
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError> {
        self.check(&RoleInput::Trace { program, tests })
            .map_err(|fault| TraceError::Backend(Box::new(fault)))?;
        self.inner.trace(program, tests).await
    }
}

impl<R: TraceRenderer> TraceRenderer for FailOn<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn shows_execution(&self) -> bool {
        self.inner.shows_execution()
    }

    /// Renders with the wrapped renderer, or, on an injected error, returns
    /// `<<injected fault: MESSAGE>>` instead of a rendering.
    fn render(&self, program: &Program, tests: &[TestCase], traces: &[Trace]) -> String {
        match self.check(&RoleInput::Render {
            program,
            tests,
            traces,
        }) {
            Ok(()) => self.inner.render(program, tests, traces),
            Err(fault) => format!("<<{fault}>>"),
        }
    }
}

#[async_trait]
impl<R: RationaleSampler> RationaleSampler for FailOn<R> {
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        self.check(&RoleInput::Sample { model, prompt, n })
            .map_err(|fault| SampleError::Backend(Box::new(fault)))?;
        self.inner.sample(model, prompt, n, params).await
    }
}

#[async_trait]
impl<R: Verifier> Verifier for FailOn<R> {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        self.check(&RoleInput::Verify { program, tests })
            .map_err(|fault| VerifyError::Backend(Box::new(fault)))?;
        self.inner.verify(program, tests).await
    }
}

#[async_trait]
impl<R: Trainer> Trainer for FailOn<R> {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        self.check(&RoleInput::Train { base, examples })
            .map_err(|fault| TrainError::Backend(Box::new(fault)))?;
        self.inner.train(base, examples, cx).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use futures::executor::block_on;

    use super::*;
    use crate::error::chain;
    use crate::prompt::{Message, Role};
    use crate::render::NoneRenderer;
    use crate::task::TaskId;
    use crate::testing::{MockSampler, MockTracer, MockTrainer, MockVerifier, ScriptedSandbox};

    fn tests() -> Vec<TestCase> {
        vec![TestCase::new("assert f(1) == 1").unwrap()]
    }

    fn injected<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a InjectedFault> {
        error.source()?.downcast_ref::<InjectedFault>()
    }

    #[test]
    fn errors_only_on_matching_inputs() {
        let verifier = FailOn::when_contains(MockVerifier::new(), "bad", Fault::Error("no".into()));
        let good = Program::new("good = 1\n# mock-verdict: pass\n");
        let bad = Program::new("bad = 1\n# mock-verdict: pass\n");
        assert!(block_on(verifier.verify(&good, &tests())).unwrap().passed());
        let err = block_on(verifier.verify(&bad, &tests())).unwrap_err();
        assert!(matches!(err, VerifyError::Backend(_)));
        assert_eq!(injected(&err), Some(&InjectedFault("no".into())));
        assert_eq!(chain(&err), "verifier failed: injected fault: no");
        assert_eq!(verifier.faults(), 1);
        assert_eq!(verifier.inner().calls(), 1);

        let tracer = FailOn::when_contains(MockTracer::new(), "bad", Fault::Error("t".into()));
        assert!(block_on(tracer.trace(&good, &tests())).is_ok());
        assert!(matches!(
            block_on(tracer.trace(&bad, &tests())),
            Err(TraceError::Backend(_))
        ));

        let sandbox = FailOn::when_contains(
            ScriptedSandbox::always(crate::testing::sandbox::exited(0, "", "")),
            "bad",
            Fault::Error("s".into()),
        );
        assert!(block_on(sandbox.run(Job::new("good"))).is_ok());
        assert!(matches!(
            block_on(sandbox.run(Job::new("bad"))),
            Err(SandboxError::Backend(_))
        ));
    }

    #[test]
    fn panics_only_on_matching_inputs() {
        let sampler = FailOn::when_contains(
            MockSampler::default(),
            "explode",
            Fault::Panic("boom".into()),
        );
        let prompt = |text: &str| Prompt {
            messages: vec![Message::new(Role::User, text)],
        };
        let params = SamplingParams::default();
        let fine = block_on(sampler.sample(&Checkpoint::base(), &prompt("calm"), 2, &params));
        assert_eq!(fine.unwrap().len(), 2);
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            block_on(sampler.sample(&Checkpoint::base(), &prompt("explode"), 2, &params))
        }));
        let payload = panicked.unwrap_err();
        let message = payload.downcast_ref::<String>().unwrap();
        assert_eq!(message, "injected panic: boom");
        assert_eq!(sampler.faults(), 1);
    }

    #[test]
    fn call_numbers_and_trainer_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let trainer = FailOn::on_calls(MockTrainer::new(), [1], Fault::Error("second".into()));
        let example = TrainExample {
            task: TaskId::new("t").unwrap(),
            sample: 0,
            prompt: Prompt { messages: vec![] },
            completion: "answer".into(),
        };
        let examples = [example];
        assert!(block_on(trainer.train(
            &Checkpoint::base(),
            &examples,
            &TrainContext::new(dir.path())
        ))
        .is_ok());
        assert!(matches!(
            block_on(trainer.train(
                &Checkpoint::base(),
                &examples,
                &TrainContext::new(dir.path())
            )),
            Err(TrainError::Backend(_))
        ));
        assert!(block_on(trainer.train(
            &Checkpoint::base(),
            &examples,
            &TrainContext::new(dir.path())
        ))
        .is_ok());
        assert_eq!(trainer.inner().calls(), 2);

        let by_text = FailOn::new(MockTrainer::new(), |input| {
            (input.role() == "trainer" && input.text().contains("answer"))
                .then(|| Fault::Error("seen".into()))
        });
        assert!(block_on(by_text.train(
            &Checkpoint::base(),
            &examples,
            &TrainContext::new(dir.path())
        ))
        .is_err());
        assert!(
            block_on(by_text.train(&Checkpoint::base(), &[], &TrainContext::new(dir.path())))
                .is_ok()
        );
    }

    #[test]
    fn renderers_return_garbage_or_panic() {
        let program = Program::new("def f():\n    return 1\n");
        let garbage = FailOn::always(NoneRenderer, Fault::Error("junk".into()));
        assert_eq!(garbage.name(), "none");
        assert_eq!(
            garbage.render(&program, &[], &[]),
            "<<injected fault: junk>>"
        );
        let panicking = FailOn::when_contains(NoneRenderer, "return 2", Fault::Panic("r".into()));
        assert_eq!(
            panicking.render(&program, &[], &[]),
            "def f():\n    return 1\n"
        );
        let other = Program::new("def f():\n    return 2\n");
        assert!(catch_unwind(AssertUnwindSafe(|| panicking.render(&other, &[], &[]))).is_err());
    }
}
