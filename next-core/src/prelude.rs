//! What a program embedding NExT needs, in one `use`.
//!
//! ```
//! use next_core::prelude::*;
//! ```
//!
//! brings in
//!
//! - the six roles, each with the error it returns: [`Sandbox`] ([`SandboxError`], and
//!   the [`Job`] it runs into an [`Execution`]), [`Tracer`] ([`TraceError`]),
//!   [`TraceRenderer`], [`RationaleSampler`] ([`SampleError`]), [`Verifier`]
//!   ([`VerifyError`]) and [`Trainer`] ([`TrainError`]), and [`BoxError`], the boxed
//!   error their `Backend` variants carry;
//! - the trivial roles for runs without traces: [`NoneTracer`] and [`NoneRenderer`];
//! - the words the roles speak: [`RepairTask`], [`TaskId`], [`Program`], [`TestCase`],
//!   [`Trace`], [`Prompt`], [`Sample`], [`SamplingParams`], [`Answer`], [`Verdict`],
//!   [`TestOutcome`], [`Checkpoint`], [`TrainExample`], [`TrainContext`],
//!   [`TrainUpdate`], and [`InvalidInput`], the error of their checked constructors;
//! - the loop: [`SelfTraining`] over its [`Roles`], configured by [`LoopConfig`] (with
//!   its [`Evaluation`] and [`HardFilter`] parts), ending in a [`Summary`] or a
//!   [`RunError`], and watched by an [`Observer`] ([`NoObserver`], or any
//!   `Fn(&Progress)`) that receives [`Progress`] events;
//! - one repair outside the loop: [`Repairer`], giving a [`Repair`] or a
//!   [`StepFailure`];
//! - the registry, to build roles by name from configuration: the module [`registry`]
//!   itself (`registry::from_table`, `registry::sampler`, `registry::Context`,
//!   `registry::list`, ...), [`RoleKind`], [`RegistryError`], and
//!   [`register_factory!`](crate::register_factory) for a role of one's own.
//!
//! Everything else (the prompt's parts, trace events, the run directory's records,
//! the metrics, the mock roles of feature `testing`) stays in its module.
//!
//! ```
//! use next_core::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let task = RepairTask::new(
//!     TaskId::new("add")?,
//!     "Add two numbers.",
//!     Program::new("def add(a, b):\n    return a - b\n"),
//!     vec![TestCase::new("assert add(1, 2) == 3")?],
//!     "add",
//! )?;
//! let renderer = registry::renderer("none", &toml::Table::new(), &registry::Context::new())?;
//! assert_eq!(renderer.name(), NoneRenderer.name());
//! assert_eq!(renderer.render(&task.program, &task.tests, &[]), task.program.source());
//! # Ok(())
//! # }
//! ```

pub use crate::checkpoint::Checkpoint;
pub use crate::error::{BoxError, InvalidInput};
pub use crate::observe::{NoObserver, Observer, Progress, TrainUpdate};
pub use crate::prompt::{Answer, Prompt};
pub use crate::register_factory;
pub use crate::registry::{self, RegistryError, RoleKind};
pub use crate::render::{NoneRenderer, TraceRenderer};
pub use crate::repair::{Repair, Repairer, StepFailure};
pub use crate::run::{RunError, Summary};
pub use crate::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
pub use crate::sandbox::{Execution, Job, Sandbox, SandboxError};
pub use crate::self_training::{Evaluation, HardFilter, LoopConfig, Roles, SelfTraining};
pub use crate::task::{Program, RepairTask, TaskId, TestCase};
pub use crate::trace::{NoneTracer, Trace, TraceError, Tracer};
pub use crate::train::{TrainContext, TrainError, TrainExample, Trainer};
pub use crate::verify::{TestOutcome, Verdict, Verifier, VerifyError};
