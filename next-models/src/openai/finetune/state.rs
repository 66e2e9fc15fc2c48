//! What the trainer notes in its state directory so that a killed run that resumes finds
//! its upload and its job again: one small JSON file, replaced atomically (written beside
//! it, synced, renamed over it).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use next_core::train::TrainError;
use serde::{Deserialize, Serialize};

use super::FineTuneError;

/// The name of the state file.
pub(super) const FILE: &str = "openai-ft.json";

/// The state of one training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct State {
    /// The idempotency key of the training (see [`key`]); also in the job's metadata.
    pub key: String,
    /// The uploaded training file, once its upload answered.
    #[serde(default)]
    pub file_id: Option<String>,
    /// The job, once its creation answered (or it was found by its key).
    #[serde(default)]
    pub job_id: Option<String>,
}

impl State {
    /// The state of a training that has sent nothing yet.
    pub fn new(key: String) -> Self {
        Self {
            key,
            file_id: None,
            job_id: None,
        }
    }
}

/// The idempotency key of a training: the iteration and a 128-bit FNV-1a hash of the
/// training file and the model it tunes. Not a cryptographic hash: it tells apart
/// trainings of one run, whose files differ, not files made to collide.
pub(super) fn key(content: &[u8], model: &str, iteration: u32) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let hash = content
        .iter()
        .chain(&[0])
        .chain(model.as_bytes())
        .fold(OFFSET, |hash, &byte| {
            (hash ^ u128::from(byte)).wrapping_mul(PRIME)
        });
    format!("next-ft-{iteration}-{hash:032x}")
}

/// The state recorded in `dir`, if there is one.
///
/// # Errors
/// [`TrainError::Io`] when the file exists but cannot be read; [`TrainError::Backend`]
/// with [`FineTuneError::State`] when it is not a state.
pub(super) fn load(dir: &Path) -> Result<Option<State>, TrainError> {
    let path = dir.join(FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(TrainError::Io {
                context: format!("reading {}", path.display()),
                source,
            })
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|err| {
        TrainError::Backend(Box::new(FineTuneError::State {
            path,
            reason: err.to_string(),
        }))
    })
}

/// Records `state` in `dir`, replacing what was there in one step.
///
/// # Errors
/// [`TrainError::Io`] when it cannot be written.
pub(super) fn save(dir: &Path, state: &State) -> Result<(), TrainError> {
    let path = dir.join(FILE);
    let partial: PathBuf = dir.join(format!("{FILE}.partial"));
    let io = |context: String| move |source| TrainError::Io { context, source };
    let mut text = serde_json::to_vec_pretty(state).map_err(|err| {
        TrainError::Backend(Box::new(FineTuneError::State {
            path: path.clone(),
            reason: format!("cannot encode the state: {err}"),
        }))
    })?;
    text.push(b'\n');
    let mut file =
        fs::File::create(&partial).map_err(io(format!("creating {}", partial.display())))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("writing {}", partial.display())))?;
    drop(file);
    fs::rename(&partial, &path).map_err(io(format!(
        "renaming {} to {}",
        partial.display(),
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_trainings_apart() {
        let a = key(b"{\"messages\": []}\n", "m", 1);
        assert_eq!(a, key(b"{\"messages\": []}\n", "m", 1));
        assert!(
            a.starts_with("next-ft-1-") && a.len() == "next-ft-1-".len() + 32,
            "{a}"
        );
        assert_ne!(a, key(b"{\"messages\": []}\n", "m", 2));
        assert_ne!(a, key(b"{\"messages\": [1]}\n", "m", 1));
        assert_ne!(a, key(b"{\"messages\": []}\n", "n", 1));
    }

    #[test]
    fn a_state_survives_a_round_trip_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let state = State {
            key: "k".into(),
            file_id: Some("file-1".into()),
            job_id: None,
        };
        save(dir.path(), &state).unwrap();
        save(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(state));
        assert!(!dir.path().join(format!("{FILE}.partial")).exists());
        fs::write(dir.path().join(FILE), "{").unwrap();
        let err = load(dir.path()).unwrap_err();
        let text = next_core::error::chain(&err);
        assert!(text.contains(FILE), "{text}");
    }
}
