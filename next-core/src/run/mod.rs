//! The run directory: everything a run produces, written as it is produced.
//!
//! ```text
//! RUN/
//!   config.json            the loop configuration used
//!   roles.json             the roles used (their kinds and options), when the caller
//!                          described them
//!   tasks/train.jsonl      the training tasks D
//!   tasks/dev.jsonl        the development tasks D_dev
//!   prepare/               prompts.jsonl (one per task), failures.jsonl
//!   eval-0/                the base model on D_dev: samples, verdicts, failures, metrics.json
//!   filter/                the base model on D: samples, verdicts, failures, metrics.json
//!   iter-1/                samples, verdicts, failures, train.jsonl (B_1),
//!                          checkpoint/ (the trainer's files), train-state/ (what a
//!                          trainer keeps across a resume: a hosted job's id),
//!                          checkpoint.json, metrics.json; deferred.json while the
//!                          training is left to another trainer
//!   eval-1/                P_1 on D_dev
//!   ...
//!   summary.json           metrics per iteration and the chosen checkpoint
//!   report.html            the run's HTML report (`next report`, crate::html), written
//!                          at the end of a run
//! ```
//!
//! Every sample, verdict, failure and training example is appended to its JSON Lines
//! file (one `write` each) when it is produced. Whole-file results (`metrics.json`,
//! `checkpoint.json`, `summary.json`) are replaced atomically. A run killed at any moment
//! is continued by [`SelfTraining::resume`](crate::self_training::SelfTraining::resume):
//! it keeps every complete line, cuts a torn last line, and redoes only what has no
//! record.

mod lock;
mod phase;
mod phase_dir;
mod records;
mod report;
pub(crate) mod seal;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::repair::Stage;
pub use phase::Phase;
pub use phase_dir::PhaseDir;
pub(crate) use phase_dir::RecordFile;
pub use records::{FailureRecord, PromptRecord, SampleRecord, VerdictRecord};
pub use report::{Best, FailureCounts, IterationReport, PhaseMetrics, Summary};
pub use view::RunView;

use crate::checkpoint::Checkpoint;
use crate::error::InvalidInput;
use crate::jsonl::{self, JsonlError};
use crate::task::RepairTask;

/// The record of an iteration's training: `iter-N/checkpoint.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct CheckpointRecord {
    pub checkpoint: Checkpoint,
    /// Whether a training made it (false: the iteration kept nothing, and the
    /// checkpoint is the one it started from).
    pub trained: bool,
}

/// The file that marks an iteration whose training was left to another trainer.
pub(crate) const DEFERRED: &str = "deferred.json";

/// The record of a deferred training: `iter-N/deferred.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeferredRecord {
    /// The iteration.
    pub iteration: u32,
    /// What the trainer said to do.
    pub instructions: String,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration or the task sets are invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A run directory could not be created or read.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record file could not be read or written.
    #[error(transparent)]
    Records(#[from] JsonlError),
    /// `run` was asked to start in a directory that already holds a run.
    #[error("{0} already holds a run; resume it, or choose an empty directory")]
    AlreadyExists(PathBuf),
    /// `resume` was asked to continue a directory that holds no run.
    #[error("{0} holds no run (no config.json)")]
    NotARun(PathBuf),
    /// `run` was asked to start in a directory that holds files but no run: it would
    /// adopt records that are not its own.
    #[error("{0} is not empty and holds no run; choose an empty directory (or a new one)")]
    NotEmpty(PathBuf),
    /// Another process holds the run directory: a run or a resume is live in it.
    #[error("{path} is in use by another run ({holder}); wait for it to end, or stop it")]
    Locked {
        /// The run directory.
        path: PathBuf,
        /// Who holds it, as its lock file says.
        holder: String,
    },
    /// A record file of a finished phase is not as the phase left it: edited by hand,
    /// or damaged. Its records cannot be trusted.
    #[error("{0} was changed after its phase finished (its checksum in checksums.json differs); restore it, or start a new run")]
    Tampered(PathBuf),
    /// A file the run wrote whole was found cut short: the run directory was damaged.
    #[error("{0} ends in a torn line; the run's task files are written whole, so the run directory was damaged")]
    Damaged(PathBuf),
    /// The run directory was made with other roles (another model, say): its records
    /// would mix two models' samples.
    #[error("the run in {path} was made with other roles ({}); resume it with the roles in its roles.json", differences.join("; "))]
    RolesMismatch {
        /// The run directory.
        path: PathBuf,
        /// How they differ, one phrase per setting.
        differences: Vec<String>,
    },
    /// The run directory was made with another configuration.
    #[error("the run in {path} was made with another configuration ({}); resume it with the configuration in its config.json", differences.join("; "))]
    ConfigMismatch {
        /// The run directory.
        path: PathBuf,
        /// How they differ, one phrase per setting, such as
        /// `` `iterations` is 2 in the run and 3 here ``.
        differences: Vec<String>,
    },
    /// Training failed. Nothing recorded is lost; resuming retries the training.
    #[error("training for iteration {iteration} failed: {message}")]
    Train {
        /// The iteration.
        iteration: u32,
        /// The trainer's error, one line.
        message: String,
    },
    /// The trainer left the training of an iteration to another trainer (its examples
    /// were exported). The run stops; it continues once it is given the trained model
    /// ([`RunDir::supply_checkpoint`], `next resume DIR --checkpoint iter-N=MODEL`), or
    /// is resumed with a trainer that trains.
    #[error("iteration {iteration} is to be trained outside this run:\n{instructions}")]
    TrainingDeferred {
        /// The iteration.
        iteration: u32,
        /// What the trainer wrote where, and how to go on.
        instructions: String,
    },
    /// A checkpoint was supplied for an iteration that is not waiting for one.
    #[error("cannot take a checkpoint for iteration {iteration}: {reason}")]
    NotAwaitingCheckpoint {
        /// The iteration.
        iteration: u32,
        /// Why.
        reason: String,
    },
}

/// A run directory (see the module documentation for its layout).
///
/// Invariant: the directory exists and holds `config.json`, and this process holds its
/// lock (`RUN/lock`) for as long as a `RunDir` of the directory lives: no other process
/// can run or resume it meanwhile (see `run/lock.rs`).
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
    lock: Arc<lock::RunLock>,
}

/// What a directory that is not yet a run may hold: what a start killed before it
/// wrote `config.json` leaves behind.
const START_LEFTOVERS: [&str; 2] = [lock::LOCK, TASKS];

pub(crate) const CONFIG: &str = "config.json";
/// The description of the run's roles.
const ROLES: &str = "roles.json";
/// An iteration's training record.
pub(crate) const CHECKPOINT_RECORD: &str = "checkpoint.json";
/// A finished phase's metrics.
const METRICS: &str = "metrics.json";
/// A finished run's summary.
const SUMMARY: &str = "summary.json";
/// The run's HTML report.
const REPORT: &str = "report.html";
/// The task sets' directory and files.
const TASKS: &str = "tasks";
const TRAIN_TASKS: &str = "train.jsonl";
const DEV_TASKS: &str = "dev.jsonl";

/// Writes a JSON document atomically, pretty-printed, with a final newline.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), RunError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| JsonlError::Serialize {
        path: path.to_owned(),
        source,
    })?;
    bytes.push(b'\n');
    Ok(jsonl::write_atomic(path, &bytes)?)
}

/// The bytes of `path`, or `None` when there is no such file.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, RunError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RunError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        }),
    }
}

/// The JSON document of `path`, or `None` when there is no such file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, RunError> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(None);
    };
    let value = serde_json::from_slice(&bytes).map_err(|source| JsonlError::Malformed {
        path: path.to_owned(),
        line: 1,
        source,
    })?;
    Ok(Some(value))
}

/// The stored training and development tasks of the run in `root`.
fn read_tasks(root: &Path) -> Result<(Vec<RepairTask>, Vec<RepairTask>), RunError> {
    let dir = root.join(TASKS);
    let whole = |name: &str| -> Result<Vec<RepairTask>, RunError> {
        let path = dir.join(name);
        let lines = jsonl::read_lines(&path)?;
        if lines.torn_bytes > 0 {
            return Err(RunError::Damaged(path));
        }
        Ok(lines.records)
    };
    Ok((whole(TRAIN_TASKS)?, whole(DEV_TASKS)?))
}

impl RunDir {
    /// Whether `path` holds a run (one that [`RunDir::open`] can continue), finished or
    /// not.
    pub fn holds_run(path: &Path) -> bool {
        path.join(CONFIG).is_file()
    }

    /// Makes a new run directory at `path` (created if missing) and writes the
    /// configuration, the roles' description (when given) and the task sets into it.
    ///
    /// # Errors
    /// [`RunError::AlreadyExists`] when `path` already holds a run,
    /// [`RunError::NotEmpty`] when it holds other files, [`RunError::Locked`]; I/O
    /// errors.
    pub fn create(
        path: &Path, config_json: &[u8], roles: Option<&serde_json::Value>, train: &[RepairTask],
        dev: &[RepairTask],
    ) -> Result<Self, RunError> {
        std::fs::create_dir_all(path).map_err(|source| RunError::Io {
            action: "creating",
            path: path.to_owned(),
            source,
        })?;
        let lock = lock::RunLock::acquire(path)?;
        if path.join(CONFIG).exists() {
            return Err(RunError::AlreadyExists(path.to_owned()));
        }
        let entries = std::fs::read_dir(path).map_err(|source| RunError::Io {
            action: "listing",
            path: path.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| RunError::Io {
                action: "listing",
                path: path.to_owned(),
                source,
            })?;
            if !START_LEFTOVERS
                .iter()
                .any(|name| entry.file_name() == *name)
            {
                return Err(RunError::NotEmpty(path.to_owned()));
            }
        }
        let tasks = path.join(TASKS);
        std::fs::create_dir_all(&tasks).map_err(|source| RunError::Io {
            action: "creating",
            path: tasks.clone(),
            source,
        })?;
        jsonl::write_all(&tasks.join(TRAIN_TASKS), train)?;
        jsonl::write_all(&tasks.join(DEV_TASKS), dev)?;
        if let Some(roles) = roles {
            write_json(&path.join(ROLES), roles)?;
        }
        // The configuration goes last: its presence marks a complete start.
        jsonl::write_atomic(&path.join(CONFIG), config_json)?;
        Ok(Self {
            root: path.to_owned(),
            lock,
        })
    }

    /// Opens an existing run directory, taking its lock.
    ///
    /// # Errors
    /// [`RunError::NotARun`] when `path` holds no `config.json`; [`RunError::Locked`]
    /// when another run or resume holds it.
    pub fn open(path: &Path) -> Result<Self, RunError> {
        if !path.join(CONFIG).is_file() {
            return Err(RunError::NotARun(path.to_owned()));
        }
        let lock = lock::RunLock::acquire(path)?;
        Ok(Self {
            root: path.to_owned(),
            lock,
        })
    }

    /// The right to drive the loop over this run, held for as long as the value lives:
    /// one loop of this process at a time.
    ///
    /// # Errors
    /// [`RunError::Locked`] when a loop of this process drives it already.
    pub(crate) fn drive(&self) -> Result<lock::Driving, RunError> {
        self.lock.drive()
    }

    /// Compares a configuration, as JSON, with the one the run was made with, leaving
    /// out the top-level keys of `ignored` (settings that cannot change a result, such
    /// as concurrency).
    ///
    /// # Errors
    /// [`RunError::ConfigMismatch`] naming the keys that differ; I/O errors and a
    /// stored configuration that does not parse.
    pub fn check_config(
        &self, current: &serde_json::Value, ignored: &[&str],
    ) -> Result<(), RunError> {
        let differences = self
            .differences_from(CONFIG, current, ignored)?
            .ok_or_else(|| RunError::NotARun(self.root.clone()))?;
        if differences.is_empty() {
            Ok(())
        } else {
            Err(RunError::ConfigMismatch {
                path: self.root.clone(),
                differences,
            })
        }
    }

    /// How `current` differs from the run's JSON record `name` (see [`differences`]), or
    /// `None` when the run has no such record.
    fn differences_from(
        &self, name: &str, current: &serde_json::Value, ignored: &[&str],
    ) -> Result<Option<Vec<String>>, RunError> {
        let stored = read_json::<serde_json::Value>(&self.root.join(name))?;
        Ok(stored.map(|stored| differences(&stored, current, ignored)))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The stored configuration, as written.
    ///
    /// # Errors
    /// I/O errors.
    pub fn config_bytes(&self) -> Result<Vec<u8>, RunError> {
        let path = self.root.join(CONFIG);
        std::fs::read(&path).map_err(|source| RunError::Io {
            action: "reading",
            path,
            source,
        })
    }

    /// Compares a description of the roles with the one the run was made with. A run
    /// that recorded none (made by an earlier version) takes this one.
    ///
    /// # Errors
    /// [`RunError::RolesMismatch`] naming the keys that differ (`sampler.model`, say);
    /// I/O errors and a stored description that does not parse.
    pub fn check_roles(&self, current: &serde_json::Value) -> Result<(), RunError> {
        let Some(differences) = self.differences_from(ROLES, current, &[])? else {
            return write_json(&self.root.join(ROLES), current);
        };
        if differences.is_empty() {
            Ok(())
        } else {
            Err(RunError::RolesMismatch {
                path: self.root.clone(),
                differences,
            })
        }
    }

    /// The stored training and development tasks.
    ///
    /// # Errors
    /// I/O errors and malformed lines.
    pub fn tasks(&self) -> Result<(Vec<RepairTask>, Vec<RepairTask>), RunError> {
        read_tasks(&self.root)
    }

    /// Gives a deferred iteration the model that was trained outside the run: the next
    /// [`resume`](crate::self_training::SelfTraining::resume) samples from it, as if
    /// the run's own trainer had made it.
    ///
    /// # Errors
    /// [`RunError::NotAwaitingCheckpoint`] when iteration `iteration` did not stop for
    /// a training done elsewhere (no `iter-N/deferred.json`), or already has its
    /// checkpoint; I/O errors.
    pub fn supply_checkpoint(
        &self, iteration: u32, checkpoint: &Checkpoint,
    ) -> Result<(), RunError> {
        let dir = self.root.join(Phase::Iteration(iteration).to_string());
        let refuse = |reason: String| RunError::NotAwaitingCheckpoint { iteration, reason };
        if dir.join(CHECKPOINT_RECORD).exists() {
            return Err(refuse(format!(
                "{} already names its checkpoint",
                dir.join(CHECKPOINT_RECORD).display()
            )));
        }
        if !dir.join(DEFERRED).is_file() {
            return Err(refuse(format!(
                "its training was not left to another trainer (no {})",
                dir.join(DEFERRED).display()
            )));
        }
        let record = CheckpointRecord {
            checkpoint: checkpoint.clone(),
            trained: true,
        };
        write_json(&dir.join(CHECKPOINT_RECORD), &record)
    }

    /// The iterations whose training was left to another trainer and that wait for
    /// the model, in order.
    ///
    /// # Errors
    /// I/O errors.
    pub fn deferred_iterations(&self) -> Result<Vec<u32>, RunError> {
        let entries = std::fs::read_dir(&self.root).map_err(|source| RunError::Io {
            action: "listing",
            path: self.root.clone(),
            source,
        })?;
        let mut waiting = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix("iter-"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let dir = entry.path();
            if dir.join(DEFERRED).is_file() && !dir.join(CHECKPOINT_RECORD).exists() {
                waiting.push(n);
            }
        }
        waiting.sort_unstable();
        Ok(waiting)
    }

    /// The directory of a phase, created if missing.
    ///
    /// # Errors
    /// I/O errors.
    pub fn phase(&self, phase: Phase) -> Result<PhaseDir, RunError> {
        PhaseDir::create(self.root.join(phase.to_string()))
    }

    /// Writes the run's `summary.json`.
    pub(crate) fn write_summary(&self, summary: &Summary) -> Result<(), RunError> {
        write_json(&self.root.join(SUMMARY), summary)
    }
}

/// How two configurations differ, one phrase per setting (its dotted path), such as
/// `` `iterations` is 2 in the run and 3 here ``, leaving out the settings under the
/// top-level keys of `ignored`.
fn differences(
    stored: &serde_json::Value, current: &serde_json::Value, ignored: &[&str],
) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    /// The leaves of a JSON value by dotted path (`eval.ks`), objects walked into.
    fn flatten(
        prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>,
    ) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    flatten(&path, inner, out);
                }
            }
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }
    let (mut theirs, mut ours) = (BTreeMap::new(), BTreeMap::new());
    flatten("", stored, &mut theirs);
    flatten("", current, &mut ours);
    let missing = serde_json::Value::Null;
    let keys: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    keys.into_iter()
        .filter(|key| {
            let top = key.split('.').next().unwrap_or(key);
            !ignored.contains(&top)
        })
        .filter_map(|key| {
            let run = theirs.get(key).unwrap_or(&missing);
            let here = ours.get(key).unwrap_or(&missing);
            (run != here).then(|| format!("`{key}` is {run} in the run and {here} here"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuses_an_existing_run_and_open_needs_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            RunDir::open(dir.path()),
            Err(RunError::NotARun(_))
        ));
        RunDir::create(dir.path(), b"{}", None, &[], &[]).unwrap();
        assert!(matches!(
            RunDir::create(dir.path(), b"{}", None, &[], &[]),
            Err(RunError::AlreadyExists(_))
        ));
        let run = RunDir::open(dir.path()).unwrap();
        assert_eq!(run.config_bytes().unwrap(), b"{}");
        let (train, dev) = run.tasks().unwrap();
        assert!(train.is_empty() && dev.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_live_run_locks_its_directory_and_says_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let live = RunDir::create(dir.path(), b"{}", None, &[], &[]).unwrap();
        // Another process: a lock of its own on the same file is refused.
        let other = std::fs::File::open(dir.path().join(lock::LOCK)).unwrap();
        assert!(
            rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_err(),
            "the run's lock is exclusive"
        );
        // Within the process, a second RunDir shares the lock, but only one loop drives.
        let reader = RunDir::open(dir.path()).unwrap();
        let driving = live.drive().unwrap();
        match reader.drive() {
            Err(RunError::Locked { holder, .. }) => {
                assert!(holder.contains(&std::process::id().to_string()), "{holder}");
            }
            other => panic!("a second loop over a driven run: {other:?}"),
        }
        drop(driving);
        let again = reader.drive().expect("driving ends with its guard");
        drop((again, live, reader));
        rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .expect("the lock goes with the last RunDir");
    }

    #[cfg(unix)]
    #[test]
    fn a_run_held_by_another_process_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        drop(RunDir::create(dir.path(), b"{}", None, &[], &[]).unwrap());
        let other = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(lock::LOCK))
            .unwrap();
        rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        std::fs::write(dir.path().join(lock::LOCK), "process 4242 (next run)").unwrap();
        match RunDir::open(dir.path()) {
            Err(RunError::Locked { holder, .. }) => assert_eq!(holder, "process 4242 (next run)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_directory_with_other_files_is_not_adopted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("samples.jsonl"), "{}\n").unwrap();
        assert!(matches!(
            RunDir::create(dir.path(), b"{}", None, &[], &[]),
            Err(RunError::NotEmpty(_))
        ));
        // What a start killed before its config.json leaves is taken over.
        let started = tempfile::tempdir().unwrap();
        std::fs::create_dir(started.path().join("tasks")).unwrap();
        std::fs::write(started.path().join("tasks/train.jsonl"), "{\"torn").unwrap();
        std::fs::write(started.path().join(lock::LOCK), "").unwrap();
        RunDir::create(started.path(), b"{}", None, &[], &[]).unwrap();
    }

    #[test]
    fn a_torn_task_file_is_damage_not_a_shorter_task_set() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path(), b"{}", None, &[], &[]).unwrap();
        let dev = dir.path().join("tasks/dev.jsonl");
        std::fs::write(&dev, "{\"id\": \"half").unwrap();
        assert!(matches!(run.tasks(), Err(RunError::Damaged(path)) if path == dev));
    }

    #[test]
    fn a_configuration_check_names_what_differs_and_ignores_what_cannot_matter() {
        let dir = tempfile::tempdir().unwrap();
        let stored = br#"{"seed": 1, "concurrency": {"tasks": 4}, "sampling": {"temperature": 0.8, "top_p": 0.95}}"#;
        let run = RunDir::create(dir.path(), stored, None, &[], &[]).unwrap();
        let same_but_faster = serde_json::json!({
            "seed": 1, "concurrency": {"tasks": 16},
            "sampling": {"temperature": 0.8, "top_p": 0.95},
        });
        run.check_config(&same_but_faster, &["concurrency"])
            .unwrap();
        let other = serde_json::json!({
            "seed": 2, "concurrency": {"tasks": 4},
            "sampling": {"temperature": 0.5, "top_p": 0.95},
        });
        match run.check_config(&other, &["concurrency"]) {
            Err(RunError::ConfigMismatch { differences, .. }) => {
                assert_eq!(
                    differences,
                    [
                        "`sampling.temperature` is 0.8 in the run and 0.5 here",
                        "`seed` is 1 in the run and 2 here"
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_resume_with_other_roles_is_refused_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let roles = serde_json::json!({"sampler": {"kind": "candle", "temperature": 0.8}});
        let run = RunDir::create(dir.path(), b"{}", Some(&roles), &[], &[]).unwrap();
        run.check_roles(&roles).unwrap();
        let other = serde_json::json!({"sampler": {"kind": "openai", "temperature": 0.8}});
        match run.check_roles(&other) {
            Err(RunError::RolesMismatch { differences, .. }) => assert_eq!(
                differences,
                [r#"`sampler.kind` is "candle" in the run and "openai" here"#]
            ),
            other => panic!("{other:?}"),
        }
        // A run that recorded no roles takes the first description it is resumed with.
        let old = tempfile::tempdir().unwrap();
        let run = RunDir::create(old.path(), b"{}", None, &[], &[]).unwrap();
        run.check_roles(&other).unwrap();
        assert!(run.check_roles(&roles).is_err());
    }
}
