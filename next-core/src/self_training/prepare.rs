//! The `prepare` phase: every task traced, rendered and turned into its prompt, once per
//! run. The buggy program never changes, so neither does its trace.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::stream::{self, StreamExt as _};

use super::phase::{append, Prompts};
use super::Worker;
use crate::observe::{Observer, Phase, Progress};
use crate::repair::StepFailure;
use crate::run::RecordFile;
use crate::run::{FailureRecord, PromptRecord, RunDir, RunError};
use crate::task::RepairTask;

impl Worker<'_> {
    /// Builds (or reloads) the prompt of every task.
    pub(super) async fn prepare(
        &self, run: &RunDir, tasks: &[&RepairTask], observer: &dyn Observer,
    ) -> Result<Prompts, RunError> {
        let phase = Phase::Prepare;
        let dir = run.phase(phase)?;
        dir.check_seal()?;
        let mut prompts = Prompts {
            ready: HashMap::new(),
            failed: HashMap::new(),
        };
        for record in dir.records::<PromptRecord>(RecordFile::Prompts)? {
            prompts.ready.entry(record.task).or_insert(record.prompt);
        }
        for record in dir.records::<FailureRecord>(RecordFile::Failures)? {
            prompts.failed.entry(record.task).or_insert(record.stage);
        }
        let prompt_file = Mutex::new(dir.appender(RecordFile::Prompts)?);
        let failure_file = Mutex::new(dir.appender(RecordFile::Failures)?);
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
            .map(|task| async move { (task, self.repairer.prompt(task).await) })
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
        dir.seal(&[RecordFile::Prompts, RecordFile::Failures])?;
        observer.observe(&Progress::Prepared {
            prompts: prompts.ready.len(),
            failures: prompts.failed.len(),
        });
        Ok(prompts)
    }
}
