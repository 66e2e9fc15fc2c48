//! [`PhaseDir`]: a phase's directory, and every read and write of the files in it.
//!
//! The loop never names a file of the run directory: it asks the phase's directory for
//! its records, an appender, its seal, its training record, so that the layout of the
//! [module documentation](super) is written down in one place.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::{
    read_json, seal, write_json, CheckpointRecord, DeferredRecord, PhaseMetrics, RunError,
};
use crate::jsonl::{self, Appender};

/// A record file of a phase: JSON Lines, one record appended as it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordFile {
    /// `prompts.jsonl` (the `prepare` phase).
    Prompts,
    /// `samples.jsonl`.
    Samples,
    /// `verdicts.jsonl`.
    Verdicts,
    /// `failures.jsonl`.
    Failures,
    /// `train.jsonl`: an iteration's training examples.
    Train,
}

impl RecordFile {
    /// Its file name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RecordFile::Prompts => "prompts.jsonl",
            RecordFile::Samples => "samples.jsonl",
            RecordFile::Verdicts => "verdicts.jsonl",
            RecordFile::Failures => "failures.jsonl",
            RecordFile::Train => "train.jsonl",
        }
    }
}

/// The directory of one phase of a run.
///
/// Invariant: the directory exists.
#[derive(Debug, Clone)]
pub struct PhaseDir {
    dir: PathBuf,
}

impl PhaseDir {
    /// The directory `dir`, created if missing.
    pub(crate) fn create(dir: PathBuf) -> Result<Self, RunError> {
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The directory `dir`, if it exists (a reader's view: nothing is created).
    pub(crate) fn existing(dir: PathBuf) -> Option<Self> {
        dir.is_dir().then_some(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Every complete record of `file`, leaving the file as it is (a torn last line,
    /// which a live run is finishing, is not read).
    pub(crate) fn read_records<T: DeserializeOwned>(
        &self, file: RecordFile,
    ) -> Result<Vec<T>, RunError> {
        Ok(jsonl::read_lines(&self.dir.join(file.name()))?.records)
    }

    /// The phase's `metrics.json`, if the phase finished.
    pub(crate) fn metrics(&self) -> Result<Option<PhaseMetrics>, RunError> {
        read_json(&self.dir.join(super::METRICS))
    }

    /// Every complete record of `file`, after cutting a torn last line (what a kill in
    /// the middle of a write leaves) so that appending starts on a fresh line.
    pub(crate) fn records<T: DeserializeOwned>(
        &self, file: RecordFile,
    ) -> Result<Vec<T>, RunError> {
        let path = self.dir.join(file.name());
        jsonl::repair_tail(&path)?;
        Ok(jsonl::read_lines(&path)?.records)
    }

    /// An appender to `file`.
    pub(crate) fn appender(&self, file: RecordFile) -> Result<Appender, RunError> {
        Ok(Appender::open(&self.dir.join(file.name()))?)
    }

    /// Writes the phase's `metrics.json`.
    pub(crate) fn write_metrics(&self, metrics: &PhaseMetrics) -> Result<(), RunError> {
        write_json(&self.dir.join(super::METRICS), metrics)
    }

    /// Seals `files` (see [`seal`]): the phase is finished.
    pub(crate) fn seal(&self, files: &[RecordFile]) -> Result<(), RunError> {
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        seal::seal(&self.dir, &names)
    }

    /// Checks the seal, if the phase was finished before.
    pub(crate) fn check_seal(&self) -> Result<(), RunError> {
        seal::check(&self.dir)
    }

    /// The recorded result of an iteration's training, if it ended.
    pub(crate) fn checkpoint_record(&self) -> Result<Option<CheckpointRecord>, RunError> {
        read_json(&self.dir.join(super::CHECKPOINT_RECORD))
    }

    /// Records the result of an iteration's training.
    pub(crate) fn write_checkpoint_record(
        &self, record: &CheckpointRecord,
    ) -> Result<(), RunError> {
        write_json(&self.dir.join(super::CHECKPOINT_RECORD), record)
    }

    /// Records that an iteration's training was left to another trainer.
    pub(crate) fn write_deferred(&self, record: &DeferredRecord) -> Result<(), RunError> {
        write_json(&self.dir.join(super::DEFERRED), record)
    }

    /// The directories of a training about to start: `checkpoint/`, emptied of what a
    /// killed training left (its files are not trusted), and `train-state/`, kept (a
    /// hosted trainer notes there the job it started, to find it again).
    pub(crate) fn training_dirs(&self) -> Result<(PathBuf, PathBuf), RunError> {
        let out = self.dir.join("checkpoint");
        if out.exists() {
            std::fs::remove_dir_all(&out).map_err(|source| RunError::Io {
                action: "removing the unfinished checkpoint",
                path: out.clone(),
                source,
            })?;
        }
        let state = self.dir.join("train-state");
        for path in [&out, &state] {
            std::fs::create_dir_all(path).map_err(|source| RunError::Io {
                action: "creating",
                path: path.clone(),
                source,
            })?;
        }
        Ok((out, state))
    }
}
