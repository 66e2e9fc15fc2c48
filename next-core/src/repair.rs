//! One repair: a task walked through the roles, trace → render → prompt → sample →
//! verify, exactly as the self-training loop walks each of its tasks and as
//! `next repair` walks one.
//!
//! The walk is written once, here, over the role traits: [`Repairer`] borrows a tracer,
//! a renderer, a sampler and a verifier and offers the walk's steps, each calling its
//! role guarded (an error or a panic becomes a [`StepFailure`] naming the [`Stage`]),
//! with a task's setup code applied once to every program it runs. The loop calls the
//! steps one at a time, because it records each step's result and resumes between
//! them; a tool that repairs one task calls [`Repairer::repair`].
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # futures::executor::block_on(async {
//! use next_core::repair::Repairer;
//! use next_core::render::NoneRenderer;
//! use next_core::sample::SamplingParams;
//! use next_core::testing::{MockSampler, MockTracer, MockVerifier};
//! use next_core::task::{Program, RepairTask, TaskId, TestCase};
//! use next_core::checkpoint::Checkpoint;
//!
//! let task = RepairTask::new(
//!     TaskId::new("add").unwrap(),
//!     "Add two numbers.",
//!     Program::new("def add(a, b):\n    return a - b\n"),
//!     vec![TestCase::new("assert add(1, 2) == 3").unwrap()],
//!     "add",
//! )
//! .unwrap();
//! let (tracer, renderer) = (MockTracer::new(), NoneRenderer);
//! let (sampler, verifier) = (MockSampler::default(), MockVerifier::new());
//! let repairer = Repairer::new(&tracer, &renderer, &sampler, &verifier);
//! let repair = repairer
//!     .repair(&task, &Checkpoint::base(), 2, &SamplingParams::default())
//!     .await
//!     .unwrap();
//! assert_eq!(repair.attempts.len(), 2);
//! # });
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::guard::{guarded, guarded_sync};
use crate::prompt::shots::Exemplar;
use crate::prompt::{self, FewShot, Prompt, Shown};
use crate::render::TraceRenderer;
use crate::sample::{RationaleSampler, Sample, SamplingParams};
use crate::task::{Program, RepairTask};
use crate::trace::Tracer;
use crate::verify::{Verdict, Verifier};

/// The step of a task at which a role failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The tracer.
    Trace,
    /// The trace renderer.
    Render,
    /// The rationale sampler.
    Sample,
    /// The verifier.
    Verify,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Trace => "trace",
            Stage::Render => "render",
            Stage::Sample => "sample",
            Stage::Verify => "verify",
        })
    }
}

/// A step of the walk that failed: its stage and the role's one-line message (an
/// error's chain, or a panic's payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{stage}: {message}")]
pub struct StepFailure {
    /// Where the walk stopped.
    pub stage: Stage,
    /// What the role said.
    pub message: String,
}

impl StepFailure {
    fn at(stage: Stage) -> impl FnOnce(String) -> Self {
        move |message| Self { stage, message }
    }
}

/// A sample and the verdict on its fix: `None` when the answer holds no fix, an error
/// when the fix could not be judged.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The sampled answer.
    pub sample: Sample,
    /// The verdict on its fix.
    pub verdict: Option<Result<Verdict, StepFailure>>,
}

impl Attempt {
    /// Whether its fix passed every test.
    pub fn passed(&self) -> bool {
        matches!(&self.verdict, Some(Ok(verdict)) if verdict.passed())
    }
}

/// A task repaired: its prompt and every attempt, in the sampler's order.
#[derive(Debug, Clone)]
pub struct Repair {
    /// The prompt the sampler saw.
    pub prompt: Prompt,
    /// The attempts.
    pub attempts: Vec<Attempt>,
}

/// The roles of a repair, borrowed; see the [module documentation](self).
#[derive(Clone, Copy)]
pub struct Repairer<'a> {
    tracer: &'a dyn Tracer,
    renderer: &'a dyn TraceRenderer,
    sampler: &'a dyn RationaleSampler,
    verifier: &'a dyn Verifier,
    shots: &'a [FewShot],
    shots_for_tuned: bool,
}

impl fmt::Debug for Repairer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repairer")
            .field("renderer", &self.renderer.name())
            .field("shots", &self.shots.len())
            .field("shots_for_tuned", &self.shots_for_tuned)
            .finish_non_exhaustive()
    }
}

impl<'a> Repairer<'a> {
    /// A repairer over these roles, without few-shot examples.
    pub fn new(
        tracer: &'a dyn Tracer, renderer: &'a dyn TraceRenderer, sampler: &'a dyn RationaleSampler,
        verifier: &'a dyn Verifier,
    ) -> Self {
        Self {
            tracer,
            renderer,
            sampler,
            verifier,
            shots: &[],
            shots_for_tuned: false,
        }
    }

    /// The same repairer, the prompts it samples the base checkpoint with led by `shots`
    /// (see [`Repairer::led`]); [`Repairer::render_shots`] makes them.
    #[must_use]
    pub fn with_shots(mut self, shots: &'a [FewShot]) -> Self {
        self.shots = shots;
        self
    }

    /// The same repairer, showing its shots to tuned checkpoints too (the paper shows
    /// them to the base model alone).
    #[must_use]
    pub fn shots_for_tuned(mut self, yes: bool) -> Self {
        self.shots_for_tuned = yes;
        self
    }

    /// The legend that explains this repairer's renderings (the inline one for a
    /// renderer that shows no execution, whose prompts hold none).
    fn legend(&self) -> &'a str {
        if self.renderer.shows_execution() {
            self.renderer.legend()
        } else {
            crate::render::INLINE_LEGEND
        }
    }

    /// Few-shot examples made from `exemplars` for this repairer's prompts: each one's
    /// buggy program traced on its tests and rendered as a task's would be, with the
    /// rationale written for this renderer, ending in the answer's "Here is a fixed
    /// version:".
    ///
    /// # Errors
    /// A [`StepFailure`] at [`Stage::Trace`] or [`Stage::Render`] naming the exemplar,
    /// or at [`Stage::Render`] for an exemplar without a rationale for this renderer.
    pub async fn render_shots(&self, exemplars: &[Exemplar]) -> Result<Vec<FewShot>, StepFailure> {
        let name = self.renderer.name();
        let shows = self.renderer.shows_execution();
        let mut rendered_shots = Vec::with_capacity(exemplars.len());
        for exemplar in exemplars {
            let task = exemplar.task();
            let named = |failure: StepFailure| StepFailure {
                stage: failure.stage,
                message: format!("exemplar {}: {}", task.id, failure.message),
            };
            let rationale = exemplar.rationale(name, shows).ok_or_else(|| StepFailure {
                stage: Stage::Render,
                message: format!(
                    "exemplar {} has no rationale for the renderer {name}",
                    task.id
                ),
            })?;
            let rendered = if shows {
                Some(self.rendered(task).await.map_err(named)?)
            } else {
                None
            };
            rendered_shots.push(FewShot {
                task: task.clone(),
                rendered,
                rationale: format!("{rationale}\n\nHere is a fixed version:"),
                fix: exemplar.fix().clone(),
            });
        }
        Ok(rendered_shots)
    }

    /// `prompt` as `checkpoint` is shown it: led by this repairer's shots when the
    /// checkpoint is the base model (or any, with [`Repairer::shots_for_tuned`]).
    pub fn led<'p>(&self, checkpoint: &Checkpoint, prompt: &'p Prompt) -> Cow<'p, Prompt> {
        if self.shots.is_empty() || !(checkpoint.is_base() || self.shots_for_tuned) {
            Cow::Borrowed(prompt)
        } else {
            Cow::Owned(prompt::lead(prompt, self.shots, self.legend()))
        }
    }

    /// The task's buggy program (with its setup) traced on its tests and rendered.
    async fn rendered(&self, task: &RepairTask) -> Result<String, StepFailure> {
        let program = task.with_setup(&task.program);
        let traces = guarded(self.tracer.trace(&program, task.prompt_tests()))
            .await
            .map_err(StepFailure::at(Stage::Trace))?;
        guarded_sync(|| self.renderer.render(&program, task.prompt_tests(), &traces))
            .map_err(StepFailure::at(Stage::Render))
    }

    /// The task's bare prompt (no shots; [`Repairer::sample`] leads it): its buggy
    /// program (with its setup) traced on its tests and rendered, unless the renderer
    /// shows no execution, in which case nothing runs.
    ///
    /// # Errors
    /// A [`StepFailure`] at [`Stage::Trace`] or [`Stage::Render`].
    pub async fn prompt(&self, task: &RepairTask) -> Result<Prompt, StepFailure> {
        if !self.renderer.shows_execution() {
            return Ok(prompt::repair(task, None, &[]));
        }
        let rendered = self.rendered(task).await?;
        let shown = Shown {
            text: &rendered,
            legend: self.renderer.legend(),
        };
        Ok(prompt::repair(task, Some(shown), &[]))
    }

    /// Up to `n` answers of `checkpoint` to `prompt` (a sampler may return fewer),
    /// `prompt` [led](Repairer::led) by the shots this checkpoint is shown.
    ///
    /// # Errors
    /// A [`StepFailure`] at [`Stage::Sample`].
    pub async fn sample(
        &self, checkpoint: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, StepFailure> {
        let prompt = self.led(checkpoint, prompt);
        guarded(self.sampler.sample(checkpoint, &prompt, n, params))
            .await
            .map_err(StepFailure::at(Stage::Sample))
    }

    /// The verdict on `fix` (with the task's setup) on the task's tests: one outcome
    /// per test.
    ///
    /// # Errors
    /// A [`StepFailure`] at [`Stage::Verify`] when the verifier fails, or returns a
    /// verdict whose outcomes do not match the tests one to one.
    pub async fn judge(&self, task: &RepairTask, fix: &Program) -> Result<Verdict, StepFailure> {
        let program = task.with_setup(fix);
        let verdict = guarded(self.verifier.verify(&program, &task.tests))
            .await
            .map_err(StepFailure::at(Stage::Verify))?;
        if verdict.outcomes.len() == task.tests.len() {
            Ok(verdict)
        } else {
            Err(StepFailure {
                stage: Stage::Verify,
                message: format!(
                    "the verifier returned {} outcomes for {} tests",
                    verdict.outcomes.len(),
                    task.tests.len()
                ),
            })
        }
    }

    /// The whole walk: the prompt, `n` samples of `checkpoint`, and the verdict on each
    /// fix, judged one after another. The [`Repair`] holds the prompt as the sampler saw
    /// it, shots included.
    ///
    /// # Errors
    /// A [`StepFailure`] when the prompt cannot be built or the sampler fails; a fix
    /// that cannot be judged is an [`Attempt`] with an error instead.
    pub async fn repair(
        &self, task: &RepairTask, checkpoint: &Checkpoint, n: usize, params: &SamplingParams,
    ) -> Result<Repair, StepFailure> {
        let prompt = self.prompt(task).await?;
        let samples = self.sample(checkpoint, &prompt, n, params).await?;
        let prompt = self.led(checkpoint, &prompt).into_owned();
        let mut attempts = Vec::with_capacity(samples.len());
        for sample in samples {
            let verdict = match sample.fix() {
                Some(fix) => Some(self.judge(task, fix).await),
                None => None,
            };
            attempts.push(Attempt { sample, verdict });
        }
        Ok(Repair { prompt, attempts })
    }
}
