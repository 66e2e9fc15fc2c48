//! The `prepare` phase: every task traced, rendered and turned into its prompt, once per
//! run. The buggy program never changes, so neither does its trace.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::stream::{self, StreamExt as _};

use super::phase::{append, Prompts};
use super::SelfTraining;
use crate::jsonl::{self, Appender};
use crate::observe::{Observer, Phase, Progress};
use crate::render::TraceRenderer;
use crate::repair::StepFailure;
use crate::run::seal;
use crate::run::{FailureRecord, PromptRecord, RunDir, RunError};
use crate::sample::RationaleSampler;
use crate::task::RepairTask;
use crate::trace::Tracer;
use crate::train::Trainer;
use crate::verify::Verifier;

impl<T, R, S, V, Tn> SelfTraining<T, R, S, V, Tn>
where
    T: Tracer,
    R: TraceRenderer,
    S: RationaleSampler,
    V: Verifier,
    Tn: Trainer,
{
    /// Builds (or reloads) the prompt of every task.
    pub(super) async fn prepare(
        &self,
        run: &RunDir,
        tasks: &[&RepairTask],
        observer: &dyn Observer,
    ) -> Result<Prompts, RunError> {
        let phase = Phase::Prepare;
        let dir = run.phase_dir(phase)?;
        let prompts_path = dir.join("prompts.jsonl");
        let failures_path = dir.join("failures.jsonl");
        seal::check(&dir)?;
        jsonl::repair_tail(&prompts_path)?;
        jsonl::repair_tail(&failures_path)?;
        let mut prompts = Prompts {
            ready: HashMap::new(),
            failed: HashMap::new(),
        };
        for record in jsonl::read_lines::<PromptRecord>(&prompts_path)?.records {
            prompts.ready.entry(record.task).or_insert(record.prompt);
        }
        for record in jsonl::read_lines::<FailureRecord>(&failures_path)?.records {
            prompts.failed.entry(record.task).or_insert(record.stage);
        }
        let prompt_file = Mutex::new(Appender::open(&prompts_path)?);
        let failure_file = Mutex::new(Appender::open(&failures_path)?);
        let todo: Vec<&RepairTask> = tasks
            .iter()
            .copied()
            .filter(|task| {
                !prompts.ready.contains_key(&task.id) && !prompts.failed.contains_key(&task.id)
            })
            .collect();
        // On resume, only the tasks still without a prompt are reported.
        observer.observe(&Progress::PhaseStarted {
            phase,
            tasks: todo.len(),
        });
        let mut built = stream::iter(todo)
            .map(|task| async move { (task, self.repairer().prompt(task).await) })
            .buffer_unordered(self.config.concurrency.tasks);
        while let Some((task, built)) = built.next().await {
            match built {
                Ok(prompt) => {
                    let record = PromptRecord {
                        task: task.id.clone(),
                        prompt,
                    };
                    append(&prompt_file, &record)?;
                    prompts.ready.insert(record.task, record.prompt);
                }
                Err(StepFailure { stage, message }) => {
                    let record = FailureRecord {
                        task: task.id.clone(),
                        stage,
                        index: None,
                        message,
                    };
                    append(&failure_file, &record)?;
                    observer.observe(&Progress::RoleFailed {
                        phase,
                        task: &task.id,
                        stage,
                        message: &record.message,
                    });
                    prompts.failed.insert(record.task, stage);
                }
            }
            observer.observe(&Progress::TaskPrepared { task: &task.id });
        }
        seal::seal(&dir, &["prompts.jsonl", "failures.jsonl"])?;
        observer.observe(&Progress::Prepared {
            prompts: prompts.ready.len(),
            failures: prompts.failed.len(),
        });
        Ok(prompts)
    }
}
