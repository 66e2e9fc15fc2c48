//! Mock roles, fault injection and proptest strategies, for property-testing loop setups.
//!
//! Enabled by the `testing` feature. Everything here is deterministic: the mocks draw
//! their randomness from a hash of their inputs, never from a global generator, so a
//! failing property test replays exactly.
//!
//! - [`MockSampler`]: a model whose fixes pass with a chosen [`Skill`] that grows with
//!   the training examples recorded in its checkpoint; some answers are unparseable and
//!   fixes repeat, as with a real model.
//! - [`MockVerifier`] and [`MockTracer`]: judge and trace a program by the
//!   `# mock-verdict:` marker it carries ([`VerdictPattern`]), executing nothing.
//! - [`MockTrainer`]: "trains" by counting examples into the checkpoint (the convention
//!   is in [`trainer`]).
//! - [`ScriptedSandbox`]: a sandbox whose results the test scripts, which records the
//!   jobs it gets; for testing tracer and verifier backends without Python.
//! - [`FailOn`]: wraps any role so that it returns an error, or panics, on the inputs a
//!   rule picks.
//! - [`strategies`]: proptest strategies for tasks, programs, tests, verdicts, sampling
//!   parameters, model answers and mock models.
//!
//! With the `testing` feature the mocks are also registered with the
//! [`registry`](crate::registry) as factories named `mock` (sampler, verifier, trainer and
//! tracer), so that a configuration file can choose them, as in `[sampler] kind = "mock"`
//! with options `skill`, `growth`, `max`, `unparseable_rate` and `variants`, or
//! `[trainer] kind = "mock"` with `continuing`; the `next` command built with its
//! `testing` feature then runs the whole loop without a model.
//!
//! One iteration of self-training by hand: a model of skill 0.1 samples, the verifier
//! keeps the passing fixes, training on them makes a checkpoint that does better.
//!
//! ```
//! use futures::executor::block_on;
//! use next_core::prompt;
//! use next_core::sample::{RationaleSampler, SamplingParams};
//! use next_core::task::{Program, RepairTask, TaskId, TestCase};
//! use next_core::testing::{task_tag, MockSampler, MockTrainer, MockVerifier, Skill};
//! use next_core::train::{Checkpoint, TrainContext, TrainExample, Trainer};
//! use next_core::verify::Verifier;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! block_on(async {
//!     let id = TaskId::new("demo/1")?;
//!     let task = RepairTask::new(
//!         id.clone(),
//!         format!("{} Add one to x.", task_tag(&id)),
//!         Program::new("def f(x):\n    return x\n# mock-verdict: fail\n"),
//!         vec![TestCase::new("assert f(1) == 2")?],
//!         "f",
//!     )?;
//!     let prompt = prompt::repair(&task, None, &[]);
//!     let sampler = MockSampler::new(Skill::growing(0.1, 0.05, 0.9));
//!     let verifier = MockVerifier::new();
//!     let params = SamplingParams { seed: Some(7), ..SamplingParams::default() };
//!
//!     let base = Checkpoint::base();
//!     let mut kept = Vec::new();
//!     for (i, sample) in sampler.sample(&base, &prompt, 32, &params).await?.into_iter().enumerate() {
//!         let Some(fix) = sample.fix() else { continue };
//!         if verifier.verify(fix, &task.tests).await?.passed() {
//!             kept.push(TrainExample {
//!                 task: task.id.clone(),
//!                 sample: u32::try_from(i)?,
//!                 prompt: prompt.clone(),
//!                 completion: sample.raw.clone(),
//!             });
//!         }
//!     }
//!     assert!(!kept.is_empty());
//!
//!     let out = tempfile::tempdir()?;
//!     let trained = MockTrainer::new().train(&base, &kept, &TrainContext::new(out.path())).await?;
//!     assert!(out.path().join("checkpoint.json").exists());
//!     assert!(sampler.pass_probability(&trained, &prompt)? > sampler.pass_probability(&base, &prompt)?);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })
//! # }
//! ```
//!
//! The strategies drive properties; with proptest's runner (or its `proptest!` macro):
//!
//! ```
//! use next_core::testing::{strategies, MockTracer, MockVerifier};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! runner
//!     .run(&strategies::repair_tasks(1..5), |tasks| {
//!         for task in &tasks {
//!             // Generated tasks are buggy: the mock verifier fails them.
//!             let verdict = MockVerifier::judge(&task.program, &task.tests);
//!             assert_eq!(verdict.outcomes.len(), task.tests.len());
//!             assert!(!verdict.passed());
//!             assert_eq!(MockTracer::traces(&task.program, &task.tests).len(), task.tests.len());
//!         }
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

mod fail;
mod registered;
mod rng;
mod sampler;
pub mod sandbox;
pub mod strategies;
mod tracer;
pub mod trainer;
pub mod verdict;
mod verifier;

/// `n` tests `assert NAME(i) == i`, for the mock roles' own tests.
#[cfg(test)]
fn identity_tests(name: &str, n: usize) -> Vec<crate::task::TestCase> {
    (0..n)
        .filter_map(|i| crate::task::TestCase::new(format!("assert {name}({i}) == {i}")).ok())
        .collect()
}

pub use fail::{FailOn, Fault, InjectedFault, RoleInput};
pub use sampler::{task_tag, MockSampler, Skill};
pub use sandbox::ScriptedSandbox;
pub use tracer::MockTracer;
pub use trainer::{examples_in, mock_checkpoint, MockTrainer};
pub use verdict::{mark, MockOutcome, VerdictPattern, VERDICT_MARKER};
pub use verifier::MockVerifier;
