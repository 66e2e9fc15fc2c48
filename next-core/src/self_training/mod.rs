//! The NExT loop: Algorithm 1 of `self-training.md`.
//!
//! 1. Every task is traced and rendered into its prompt once (`prepare`).
//! 2. The base model is evaluated on the development tasks (`eval-0`) and, when the
//!    filter is on, sampled on the training tasks; those whose pass@k is below the
//!    threshold are the hard tasks `D_H` (`filter`).
//! 3. Iteration `i` samples `P_{i-1}` on `D_H`, keeps up to `max_rationales_per_task`
//!    distinct passing samples per task (`B_i`), trains `P_i` from the base model (or
//!    the previous checkpoint) on `B_i` (or on every `B` so far), and evaluates `P_i` on
//!    the development tasks (`iter-i`, `eval-i`).
//! 4. The checkpoint with the best mean pass@k on the development tasks is chosen.
//!
//! A role that errors or panics on a task is recorded against that task and counted in
//! the metrics; the loop goes on.
//!
//! Concurrency: within a phase, up to `concurrency.tasks` tasks are in flight, so one
//! task's sampling overlaps another's verification; sampler calls and verifications are
//! further bounded by `concurrency.samplers` and `concurrency.verifiers`. All of it is
//! driven from the one future that [`SelfTraining::run`] returns (it needs no particular
//! runtime), so a backend whose work is CPU-bound should move it off the async thread
//! itself (`tokio::task::spawn_blocking`, a thread pool, a child process). Everything is written to the run directory as it is
//! produced ([`crate::run`]), and [`SelfTraining::resume`] continues a killed run to the
//! same result as an uninterrupted one with the same seed, given deterministic roles.

mod config;
mod phase;
mod prepare;

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::OnceLock;

use futures::FutureExt as _;

pub use config::{Concurrency, Evaluation, HardFilter, LoopConfig, TrainFrom};

use crate::error::InvalidInput;
use crate::jsonl;
use crate::metrics;
use crate::observe::{Observer, Phase, Progress};
use crate::prompt::shots::Exemplars;
use crate::prompt::FewShot;
use crate::render::TraceRenderer;
use crate::repair::Repairer;
use crate::run::{
    Best, CheckpointRecord, DeferredRecord, IterationReport, PhaseMetrics, RunDir, RunError,
    Summary, CONFIG,
};
use crate::sample::RationaleSampler;
use crate::task::RepairTask;
use crate::trace::Tracer;
use crate::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
use crate::verify::Verifier;

use phase::Plan;

/// The five roles the loop drives, by name.
#[derive(Debug, Clone)]
pub struct Roles<T, R, S, V, Tn> {
    /// Runs the buggy program on its tests.
    pub tracer: T,
    /// Writes the traces into the program.
    pub renderer: R,
    /// The model.
    pub sampler: S,
    /// Judges fixes.
    pub verifier: V,
    /// Fine-tunes the model.
    pub trainer: Tn,
}

/// The self-training loop over five roles.
///
/// Invariant: its configuration is valid ([`SelfTraining::new`] checks it).
#[derive(Debug)]
pub struct SelfTraining<T, R, S, V, Tn> {
    tracer: T,
    renderer: R,
    sampler: S,
    verifier: V,
    trainer: Tn,
    config: LoopConfig,
    /// Exemplars given in code, instead of `shots_file` or the shipped ones.
    exemplars: Option<Exemplars>,
    /// The shots, rendered by this loop's roles when a run starts.
    shots: OnceLock<Vec<FewShot>>,
    /// The roles' description, recorded in the run and compared on resume.
    roles_record: Option<serde_json::Value>,
}

/// What a phase runs with, borrowed from a [`SelfTraining`] with its roles' types
/// erased: the phases (`prepare.rs`, `phase.rs`) are written once, not once per set of
/// roles.
#[derive(Clone, Copy)]
struct Worker<'a> {
    repairer: Repairer<'a>,
    config: &'a LoopConfig,
}

impl<T, R, S, V, Tn> SelfTraining<T, R, S, V, Tn>
where
    T: Tracer,
    R: TraceRenderer,
    S: RationaleSampler,
    V: Verifier,
    Tn: Trainer,
{
    /// Makes the loop.
    ///
    /// # Errors
    /// [`InvalidInput`] when the configuration is invalid.
    pub fn new(roles: Roles<T, R, S, V, Tn>, config: LoopConfig) -> Result<Self, InvalidInput> {
        config.validate()?;
        Ok(Self {
            tracer: roles.tracer,
            renderer: roles.renderer,
            sampler: roles.sampler,
            verifier: roles.verifier,
            trainer: roles.trainer,
            config,
            exemplars: None,
            shots: OnceLock::new(),
            roles_record: None,
        })
    }

    /// Takes the configuration's `shots` from these exemplars instead of its
    /// `shots_file` or the shipped ones. They are traced and rendered by this loop's
    /// tracer and renderer when a run starts, and lead the prompts of the base model
    /// (and of tuned checkpoints, with `shots_for_tuned`); training examples are kept
    /// without them.
    #[must_use]
    pub fn with_exemplars(mut self, exemplars: Exemplars) -> Self {
        self.exemplars = Some(exemplars);
        self
    }

    /// The same loop, with a description of its roles (their kinds and options, as
    /// JSON) that a run records in its `roles.json` and that a resume must match: a
    /// run resumed with another model would mix two models' samples.
    #[must_use]
    pub fn with_roles_record(mut self, roles: serde_json::Value) -> Self {
        self.roles_record = Some(roles);
        self
    }

    /// What the phases run with: the walk of one task over this loop's roles, and the
    /// settings.
    fn worker(&self) -> Worker<'_> {
        Worker {
            repairer: Repairer::new(&self.tracer, &self.renderer, &self.sampler, &self.verifier)
                .with_shots(self.shots.get().map_or(&[], Vec::as_slice))
                .shots_for_tuned(self.config.shots_for_tuned),
            config: &self.config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LoopConfig {
        &self.config
    }

    /// Starts a run in `dir` (created if missing; it must not hold a run).
    ///
    /// # Errors
    /// [`RunError::Invalid`] for empty task sets or duplicate task ids,
    /// [`RunError::AlreadyExists`], I/O errors, and [`RunError::Train`] when training
    /// fails (the run can then be resumed).
    pub async fn run(
        &self, dir: &Path, train: &[RepairTask], dev: &[RepairTask], observer: &dyn Observer,
    ) -> Result<Summary, RunError> {
        check_tasks(train, dev)?;
        let config = serde_json::to_vec_pretty(&self.config).map_err(|source| {
            jsonl::JsonlError::Serialize {
                path: dir.join(CONFIG),
                source,
            }
        })?;
        let run = RunDir::create(dir, &config, self.roles_record.as_ref(), train, dev)?;
        let _driving = run.drive()?;
        self.drive(&run, train, dev, false, observer).await
    }

    /// Continues the run in `dir` where it stopped, reusing every record it holds.
    ///
    /// # Errors
    /// [`RunError::NotARun`], [`RunError::ConfigMismatch`] when this loop's
    /// configuration differs from the run's, and the errors of [`SelfTraining::run`].
    pub async fn resume(&self, dir: &Path, observer: &dyn Observer) -> Result<Summary, RunError> {
        let run = RunDir::open(dir)?;
        let _driving = run.drive()?;
        let current =
            serde_json::to_value(&self.config).map_err(|source| jsonl::JsonlError::Serialize {
                path: dir.join(CONFIG),
                source,
            })?;
        // How many calls run at once changes no record: a run may resume with more or
        // fewer.
        run.check_config(&current, &["concurrency"])?;
        if let Some(roles) = &self.roles_record {
            run.check_roles(roles)?;
        }
        let (train, dev) = run.tasks()?;
        check_tasks(&train, &dev)?;
        self.drive(&run, &train, &dev, true, observer).await
    }

    async fn drive(
        &self, run: &RunDir, train: &[RepairTask], dev: &[RepairTask], resumed: bool,
        observer: &dyn Observer,
    ) -> Result<Summary, RunError> {
        observer.observe(&Progress::RunStarted {
            train_tasks: train.len(),
            dev_tasks: dev.len(),
            resumed,
        });
        self.render_shots().await?;
        let all: Vec<&RepairTask> = train.iter().chain(dev).collect();
        let prompts = self.worker().prepare(run, &all, observer).await?;
        let dev: Vec<&RepairTask> = dev.iter().collect();
        let train: Vec<&RepairTask> = train.iter().collect();
        let base = Checkpoint::base();
        let eval = &self.config.eval;

        let base_eval = self
            .evaluate(run, 0, &dev, &base, &prompts, observer)
            .await?;

        let (filter, hard) = if self.config.hard_filter.enabled {
            let (metrics, hard) = self.filter(run, &train, &base, &prompts, observer).await?;
            (Some(metrics), hard)
        } else {
            (None, train.clone())
        };

        let mut iterations = Vec::new();
        let mut latest = base.clone();
        let mut kept: Vec<TrainExample> = Vec::new();
        for iteration in 1..=self.config.iterations {
            let sampled = self
                .worker()
                .phase(
                    run,
                    &Plan {
                        phase: Phase::Iteration(iteration),
                        tasks: &hard,
                        checkpoint: &latest,
                        samples_per_task: self.config.samples_per_task,
                        keep: Some(self.config.max_rationales_per_task),
                        ks: &[1],
                    },
                    &prompts,
                    observer,
                )
                .await?;
            if self.config.accumulate {
                kept.extend(sampled.examples);
            } else {
                kept = sampled.examples;
            }
            let start = match self.config.train_from {
                TrainFrom::Base => &base,
                TrainFrom::Previous => &latest,
            };
            let (checkpoint, trained) = self
                .train_step(run, iteration, start, &kept, observer)
                .await?;
            observer.observe(&Progress::Trained {
                iteration,
                checkpoint: &checkpoint,
                examples: kept.len(),
            });
            // A checkpoint already evaluated (the base model again, when an iteration
            // kept nothing to train on) keeps its score: the same model is not
            // re-sampled, so noise cannot make it look better or worse.
            let seen = std::iter::once((&base, &base_eval))
                .chain(
                    iterations
                        .iter()
                        .map(|r: &IterationReport| (&r.checkpoint, &r.eval)),
                )
                .find(|(c, _)| **c == checkpoint)
                .map(|(_, m)| m.clone());
            let eval_metrics = match seen {
                Some(metrics) => metrics,
                None => {
                    self.evaluate(run, iteration, &dev, &checkpoint, &prompts, observer)
                        .await?
                }
            };
            latest = checkpoint.clone();
            iterations.push(IterationReport {
                iteration,
                train: sampled.metrics,
                checkpoint,
                trained,
                eval: eval_metrics,
            });
        }

        let best = choose_best(&base_eval, &iterations, eval.select_k);
        let summary = Summary {
            base_eval,
            filter,
            hard_tasks: hard.len(),
            iterations,
            best,
        };
        run.write_summary(&summary)?;
        observer.observe(&Progress::RunFinished { summary: &summary });
        Ok(summary)
    }

    /// Renders the configuration's shots with this loop's roles, once.
    async fn render_shots(&self) -> Result<(), RunError> {
        let count = self.config.shots;
        if count == 0 || self.shots.get().is_some() {
            return Ok(());
        }
        let invalid =
            |e: &dyn std::fmt::Display| RunError::Invalid(InvalidInput::new(e.to_string()));
        let loaded;
        let exemplars = if let Some(given) = &self.exemplars {
            given
        } else {
            loaded = Exemplars::load_or_shipped(self.config.shots_file.as_deref())
                .map_err(|e| invalid(&e))?;
            &loaded
        };
        let chosen = exemplars.first(count).map_err(|e| invalid(&e))?;
        let shots = Repairer::new(&self.tracer, &self.renderer, &self.sampler, &self.verifier)
            .render_shots(chosen)
            .await
            .map_err(|e| invalid(&format!("the few-shot exemplars: {e}")))?;
        // A concurrent first call of the same loop rendered the same shots.
        let _ = self.shots.set(shots);
        Ok(())
    }

    async fn evaluate(
        &self, run: &RunDir, iteration: u32, dev: &[&RepairTask], checkpoint: &Checkpoint,
        prompts: &phase::Prompts, observer: &dyn Observer,
    ) -> Result<PhaseMetrics, RunError> {
        let plan = Plan {
            phase: Phase::Eval(iteration),
            tasks: dev,
            checkpoint,
            samples_per_task: self.config.eval.samples_per_task,
            keep: None,
            ks: &self.config.eval.ks,
        };
        Ok(self
            .worker()
            .phase(run, &plan, prompts, observer)
            .await?
            .metrics)
    }

    async fn filter<'t>(
        &self, run: &RunDir, train: &[&'t RepairTask], base: &Checkpoint, prompts: &phase::Prompts,
        observer: &dyn Observer,
    ) -> Result<(PhaseMetrics, Vec<&'t RepairTask>), RunError> {
        let filter = &self.config.hard_filter;
        let plan = Plan {
            phase: Phase::Filter,
            tasks: train,
            checkpoint: base,
            samples_per_task: filter.samples_per_task,
            keep: None,
            ks: &[filter.k],
        };
        let outcome = self.worker().phase(run, &plan, prompts, observer).await?;
        let mut hard = Vec::new();
        for (task, counts) in train.iter().zip(&outcome.counts) {
            if metrics::pass_at_k(*counts, filter.k)? < filter.threshold {
                hard.push(*task);
            }
        }
        let mut metrics = outcome.metrics;
        metrics.hard_tasks = Some(hard.len());
        run.phase(Phase::Filter)?.write_metrics(&metrics)?;
        Ok((metrics, hard))
    }

    /// Trains (or reloads the recorded result of training) for one iteration.
    async fn train_step(
        &self, run: &RunDir, iteration: u32, start: &Checkpoint, examples: &[TrainExample],
        observer: &dyn Observer,
    ) -> Result<(Checkpoint, bool), RunError> {
        let dir = run.phase(Phase::Iteration(iteration))?;
        if let Some(record) = dir.checkpoint_record()? {
            return Ok((record.checkpoint, record.trained));
        }
        let record = if examples.is_empty() {
            CheckpointRecord {
                checkpoint: start.clone(),
                trained: false,
            }
        } else {
            let (out, state) = dir.training_dirs()?;
            let cx = TrainContext::for_iteration(&out, &state, iteration, observer);
            let trained = self.trainer.train(start, examples, &cx);
            let checkpoint = match AssertUnwindSafe(trained).catch_unwind().await {
                Ok(Ok(checkpoint)) => checkpoint,
                Ok(Err(TrainError::Deferred { instructions })) => {
                    dir.write_deferred(&DeferredRecord {
                        iteration,
                        instructions: instructions.clone(),
                    })?;
                    return Err(RunError::TrainingDeferred {
                        iteration,
                        instructions,
                    });
                }
                Ok(Err(err)) => {
                    return Err(RunError::Train {
                        iteration,
                        message: crate::error::chain(&err),
                    })
                }
                Err(payload) => {
                    return Err(RunError::Train {
                        iteration,
                        message: crate::guard::panic_message(payload.as_ref()),
                    })
                }
            };
            CheckpointRecord {
                checkpoint,
                trained: true,
            }
        };
        dir.write_checkpoint_record(&record)?;
        Ok((record.checkpoint, record.trained))
    }
}

/// The best checkpoint on the development tasks; the earliest wins a tie.
fn choose_best(base: &PhaseMetrics, iterations: &[IterationReport], k: usize) -> Best {
    let value = |m: &PhaseMetrics| m.pass_at(k).unwrap_or(0.0);
    let mut best = Best {
        iteration: 0,
        checkpoint: Checkpoint::base(),
        metric: format!("pass@{k}"),
        value: value(base),
    };
    for report in iterations {
        let v = value(&report.eval);
        if v > best.value {
            best.iteration = report.iteration;
            best.checkpoint = report.checkpoint.clone();
            best.value = v;
        }
    }
    best
}

fn check_tasks(train: &[RepairTask], dev: &[RepairTask]) -> Result<(), InvalidInput> {
    if train.is_empty() {
        return Err(InvalidInput::new("the training task set is empty"));
    }
    if dev.is_empty() {
        return Err(InvalidInput::new("the development task set is empty"));
    }
    let mut seen = HashSet::new();
    for task in train.iter().chain(dev) {
        if !seen.insert(&task.id) {
            return Err(InvalidInput::new(format!(
                "task id {} appears more than once across the training and development sets",
                task.id
            )));
        }
    }
    Ok(())
}
