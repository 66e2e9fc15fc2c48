//! Progress bars drawn from the loop's progress events.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use next_core::observe::{Observer, Progress};
use next_core::train::TrainUpdate;

/// An observer that draws one bar per phase on stderr (hidden when stderr is not a
/// terminal) and prints one line per finished phase, failure and training.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// No bar yet.
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
        }
    }

    fn line(&self, text: &str) {
        match &*self.lock() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// The line of a finished training.
    fn trained(&self, event: &Progress<'_>) {
        if let Progress::Trained {
            iteration,
            checkpoint,
            examples,
        } = event
        {
            if *examples == 0 {
                self.line(&format!(
                    "iter-{iteration}: no passing samples to train on; keeping {}",
                    checkpoint.name
                ));
            } else {
                self.line(&format!(
                    "iter-{iteration}: trained {} on {examples} examples",
                    checkpoint.name
                ));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Observer for Bars {
    fn observe(&self, event: &Progress<'_>) {
        match event {
            Progress::RunStarted {
                train_tasks,
                dev_tasks,
                resumed,
            } => {
                let verb = if *resumed { "resuming" } else { "starting" };
                self.line(&format!(
                    "{verb} run: {train_tasks} training tasks, {dev_tasks} development tasks"
                ));
            }
            Progress::PhaseStarted { phase, tasks } => {
                let bar = ProgressBar::new(*tasks as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {pos}/{len} tasks {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(phase.to_string());
                *self.lock() = Some(bar);
            }
            Progress::TaskFinished { .. } | Progress::TaskPrepared { .. } => {
                if let Some(bar) = &*self.lock() {
                    bar.inc(1);
                }
            }
            Progress::RoleFailed {
                phase,
                task,
                stage,
                message,
            } => self.line(&format!("{phase}: {stage} failed on {task}: {message}")),
            // The loop trains only when some sample passed; otherwise the iteration's
            // checkpoint is the one it would have trained from.
            Progress::Training {
                iteration,
                update:
                    TrainUpdate::Step {
                        step,
                        steps,
                        loss,
                        tokens_per_sec,
                        ..
                    },
            } => {
                let mut bar = self.lock();
                let bar = bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(*steps);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>8} [{bar:30}] {pos}/{len} steps {elapsed} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(format!("train-{iteration}"));
                    bar
                });
                bar.set_length(*steps);
                bar.set_position(*step);
                bar.set_message(format!("loss {loss:.4}, {tokens_per_sec:.0} tokens/s"));
            }
            Progress::Training {
                iteration,
                update: TrainUpdate::Status { message },
            } => self.line(&format!("iter-{iteration}: {message}")),
            Progress::Trained { .. } => {
                if let Some(bar) = self.lock().take() {
                    bar.finish_and_clear();
                }
                self.trained(event);
            }
            Progress::Prepared { prompts, failures } => {
                if let Some(bar) = self.lock().take() {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "prepare: {prompts} prompts, {failures} tasks failed to trace or render"
                ));
            }
            Progress::PhaseFinished { phase, metrics } => {
                if let Some(bar) = self.lock().take() {
                    bar.finish_and_clear();
                }
                let rates: Vec<String> = metrics
                    .pass_at_k
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect();
                self.line(&format!(
                    "{phase}: {} tasks, {} of {} samples passed; {}",
                    metrics.tasks,
                    metrics.passed,
                    metrics.samples_requested,
                    rates.join(", ")
                ));
            }
            _ => {}
        }
    }
}
