//! [`RunView`]: a run directory opened to read it, by a report or a watcher, while a run
//! may still be writing into it.

use std::path::{Path, PathBuf};

use super::{
    read_json, read_tasks, Phase, PhaseDir, PromptRecord, RecordFile, RunError, SampleRecord,
    Summary, VerdictRecord, CONFIG, REPORT, SUMMARY,
};
use crate::run::PhaseMetrics;
use crate::task::{RepairTask, TaskId};

/// A run directory opened for reading: it takes no lock and writes nothing, so it can
/// read a run that another process is driving. Record files are read up to their last
/// complete line.
///
/// Invariant: the directory held `config.json` when it was opened.
#[derive(Debug, Clone)]
pub struct RunView {
    root: PathBuf,
}

impl RunView {
    /// Opens the run directory `path` for reading.
    ///
    /// # Errors
    /// [`RunError::NotARun`] when `path` holds no `config.json`.
    pub fn open(path: &Path) -> Result<Self, RunError> {
        if !path.join(CONFIG).is_file() {
            return Err(RunError::NotARun(path.to_owned()));
        }
        Ok(Self {
            root: path.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the run's HTML report goes: `report.html` in the run directory (see
    /// [`crate::html`]).
    pub fn report_path(&self) -> PathBuf {
        self.root.join(REPORT)
    }

    /// The run's configuration, as JSON.
    ///
    /// # Errors
    /// I/O errors and a configuration that is not JSON.
    pub fn config(&self) -> Result<serde_json::Value, RunError> {
        read_json(&self.root.join(CONFIG))?.ok_or_else(|| RunError::NotARun(self.root.clone()))
    }

    /// The run's `summary.json`, once the run has finished.
    ///
    /// # Errors
    /// I/O errors and a summary that does not parse.
    pub fn summary(&self) -> Result<Option<Summary>, RunError> {
        read_json(&self.root.join(SUMMARY))
    }

    /// The stored training and development tasks.
    ///
    /// # Errors
    /// I/O errors, malformed lines and torn task files ([`RunError::Damaged`]).
    pub fn tasks(&self) -> Result<(Vec<RepairTask>, Vec<RepairTask>), RunError> {
        read_tasks(&self.root)
    }

    /// The phases that have a directory, in [`Phase`]'s order (`prepare`, `filter`, the
    /// iterations, the evaluations).
    ///
    /// # Errors
    /// I/O errors listing the directory.
    pub fn phases(&self) -> Result<Vec<Phase>, RunError> {
        let entries = std::fs::read_dir(&self.root).map_err(|source| RunError::Io {
            action: "listing",
            path: self.root.clone(),
            source,
        })?;
        let mut phases: Vec<Phase> = entries
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().to_str().and_then(parse_phase))
            .collect();
        phases.sort_unstable();
        Ok(phases)
    }

    /// The metrics of `phase`, once it has finished.
    ///
    /// # Errors
    /// I/O errors and metrics that do not parse.
    pub fn metrics(&self, phase: Phase) -> Result<Option<PhaseMetrics>, RunError> {
        self.dir(phase).map_or(Ok(None), |dir| dir.metrics())
    }

    /// The prompt built for each task (`prepare/prompts.jsonl`).
    ///
    /// # Errors
    /// I/O errors and malformed lines.
    pub fn prompts(&self) -> Result<Vec<PromptRecord>, RunError> {
        self.records(Phase::Prepare, RecordFile::Prompts)
    }

    /// The samples recorded in `phase`.
    ///
    /// # Errors
    /// I/O errors and malformed lines.
    pub fn samples(&self, phase: Phase) -> Result<Vec<SampleRecord>, RunError> {
        self.records(phase, RecordFile::Samples)
    }

    /// The verdicts recorded in `phase`.
    ///
    /// # Errors
    /// I/O errors and malformed lines.
    pub fn verdicts(&self, phase: Phase) -> Result<Vec<VerdictRecord>, RunError> {
        self.records(phase, RecordFile::Verdicts)
    }

    /// The samples kept as training examples in iteration `iteration` (its `B_i`), as
    /// `(task, sample index)`.
    ///
    /// # Errors
    /// I/O errors and malformed lines.
    pub fn kept_samples(&self, iteration: u32) -> Result<Vec<(TaskId, u32)>, RunError> {
        let kept: Vec<Kept> = self.records(Phase::Iteration(iteration), RecordFile::Train)?;
        Ok(kept.into_iter().map(|k| (k.task, k.sample)).collect())
    }

    fn dir(&self, phase: Phase) -> Option<PhaseDir> {
        PhaseDir::existing(self.root.join(phase.to_string()))
    }

    fn records<T: serde::de::DeserializeOwned>(
        &self, phase: Phase, file: RecordFile,
    ) -> Result<Vec<T>, RunError> {
        self.dir(phase)
            .map_or(Ok(Vec::new()), |dir| dir.read_records(file))
    }
}

/// What a report needs of a line of `train.jsonl` (a training example): which sample
/// it is.
#[derive(serde::Deserialize)]
struct Kept {
    task: TaskId,
    sample: u32,
}

/// The phase a directory name names (`iter-2`), as [`Phase`]'s `Display` writes it.
fn parse_phase(name: &str) -> Option<Phase> {
    let number = |digits: &str| {
        (!digits.starts_with('+'))
            .then(|| digits.parse::<u32>().ok())
            .flatten()
    };
    match name {
        "prepare" => Some(Phase::Prepare),
        "filter" => Some(Phase::Filter),
        _ => name
            .strip_prefix("iter-")
            .and_then(number)
            .map(Phase::Iteration)
            .or_else(|| name.strip_prefix("eval-").and_then(number).map(Phase::Eval)),
    }
    .filter(|phase| phase.to_string() == name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_read_back_and_nothing_else_does() {
        for phase in [
            Phase::Prepare,
            Phase::Filter,
            Phase::Iteration(3),
            Phase::Eval(0),
        ] {
            assert_eq!(parse_phase(&phase.to_string()), Some(phase));
        }
        for other in [
            "iter-",
            "iter-01",
            "eval-+1",
            "tasks",
            "checkpoint",
            "iter-1x",
        ] {
            assert_eq!(parse_phase(other), None, "{other}");
        }
    }

    #[test]
    fn a_view_reads_without_locking_or_writing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            RunView::open(dir.path()),
            Err(RunError::NotARun(_))
        ));
        let live =
            super::super::RunDir::create(dir.path(), b"{\"seed\": 1}", None, &[], &[]).unwrap();
        let eval = live.phase(Phase::Eval(0)).unwrap();
        let samples = eval.path().join(RecordFile::Samples.name());
        std::fs::write(&samples, "{\"torn").unwrap();
        let view = RunView::open(dir.path()).unwrap();
        assert_eq!(view.config().unwrap(), serde_json::json!({"seed": 1}));
        assert_eq!(view.phases().unwrap(), [Phase::Eval(0)]);
        assert!(view.samples(Phase::Eval(0)).unwrap().is_empty());
        assert!(view.samples(Phase::Filter).unwrap().is_empty());
        assert!(view.metrics(Phase::Eval(0)).unwrap().is_none());
        assert!(view.summary().unwrap().is_none());
        assert_eq!(
            std::fs::read(&samples).unwrap(),
            b"{\"torn",
            "left as it was"
        );
    }
}
