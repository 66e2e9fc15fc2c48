//! Few-shot exemplars: hand-written repairs shown before a task.
//!
//! The paper samples and evaluates base models 3-shot and the NExT-tuned model 0-shot.
//! An [`Exemplar`] is a solved task as a person would write it: an MBPP-style buggy
//! program, its tests, the fixed program, and a rationale **per renderer**, since a
//! rationale cites the trace as its renderer writes it (`(5) total=5;` inline, a line
//! of the scratchpad, a block). Exemplars hold no rendered trace: the walk traces and
//! renders each one with its own tracer and renderer
//! ([`Repairer::render_shots`](crate::repair::Repairer::render_shots)), so the trace
//! before a task is always in the very format of the task's own.
//!
//! Three ship with the project ([`Exemplars::shipped`], from `exemplars.toml`): an
//! off-by-one, a wrong comparison and a wrong return value. A file of one's own has the
//! same TOML form ([`Exemplars::load`]):
//!
//! ```toml
//! [[shot]]
//! id = "shot/add"
//! bug = "wrong-operator"             # optional, for the reader
//! spec = "Add two numbers."
//! entry_point = "add"
//! tests = ["assert add(1, 2) == 3"]
//! program = "def add(a, b):\n    return a - b\n"
//! fix = "def add(a, b):\n    return a + b\n"
//! [shot.rationale]
//! trace = "The trace returns `__return__=-1` ..."  # any renderer that shows execution
//! none = "The function subtracts ..."               # the program alone
//! ```
//!
//! ```
//! use next_core::prompt::shots::Exemplars;
//!
//! let shipped = Exemplars::shipped();
//! assert_eq!(shipped.len(), 3);
//! let first = &shipped.first(1).unwrap()[0];
//! assert!(first.rationale("inline", true).unwrap().contains("__return__=5"));
//! assert!(first.rationale("none", false).is_some());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::task::{Program, RepairTask, TaskId, TestCase};

/// The exemplars that ship with the project.
const SHIPPED: &str = include_str!("exemplars.toml");

/// The rationale key that stands for every renderer that shows execution and has no
/// rationale of its own.
pub const ANY_TRACE: &str = "trace";

/// Why exemplars could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShotsError {
    /// The file could not be read.
    #[error("cannot read the exemplars {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not TOML of the exemplars' form.
    #[error("the exemplars {origin} are not valid: {source}")]
    Parse {
        /// Where they came from.
        origin: String,
        /// What the parser said.
        source: Box<toml::de::Error>,
    },
    /// An exemplar is not a valid task, or has no rationale.
    #[error("exemplar {id} of {origin}: {message}")]
    Invalid {
        /// Where it came from.
        origin: String,
        /// The exemplar.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// More exemplars were asked for than there are.
    #[error("{asked} shots asked for, but {origin} holds {available} exemplars")]
    TooFew {
        /// Where they came from.
        origin: String,
        /// How many were asked for.
        asked: usize,
        /// How many there are.
        available: usize,
    },
    /// An exemplar has no rationale for the renderer in use.
    #[error(
        "exemplar {id} has no rationale for the renderer {renderer} (nor a `{ANY_TRACE}` one)"
    )]
    NoRationale {
        /// The exemplar.
        id: String,
        /// The renderer.
        renderer: String,
    },
}

/// One hand-written repair.
///
/// Invariant: its task is a valid [`RepairTask`] and it has at least one rationale.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    task: RepairTask,
    bug: Option<String>,
    fix: Program,
    rationales: BTreeMap<String, String>,
}

impl Exemplar {
    /// The solved task: its buggy program and its tests.
    pub fn task(&self) -> &RepairTask {
        &self.task
    }

    /// The kind of bug, as its author named it.
    pub fn bug(&self) -> Option<&str> {
        self.bug.as_deref()
    }

    /// The fixed program.
    pub fn fix(&self) -> &Program {
        &self.fix
    }

    /// The rationale written for `renderer` (its registered name); for a renderer that
    /// `shows_execution` and has none of its own, the [`ANY_TRACE`] one.
    pub fn rationale(&self, renderer: &str, shows_execution: bool) -> Option<&str> {
        self.rationales
            .get(renderer)
            .or_else(|| {
                shows_execution
                    .then(|| self.rationales.get(ANY_TRACE))
                    .flatten()
            })
            .map(String::as_str)
    }

    /// The renderers this exemplar has a rationale for, by name.
    pub fn renderers(&self) -> impl Iterator<Item = &str> {
        self.rationales.keys().map(String::as_str)
    }
}

/// An ordered set of exemplars and where they came from.
///
/// Invariant: not empty; ids are distinct.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplars {
    origin: String,
    shots: Vec<Exemplar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    shot: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    id: String,
    #[serde(default)]
    bug: Option<String>,
    spec: String,
    entry_point: String,
    tests: Vec<String>,
    program: String,
    fix: String,
    rationale: BTreeMap<String, String>,
}

impl Exemplars {
    /// The three exemplars that ship with the project.
    ///
    /// # Panics
    /// Never: the shipped file is parsed by this crate's tests.
    pub fn shipped() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_toml(SHIPPED, "the shipped exemplars").expect("the shipped exemplars parse")
    }

    /// Reads exemplars from a TOML file of the form in the [module documentation](self).
    ///
    /// # Errors
    /// [`ShotsError::Io`] when the file cannot be read, and the errors of
    /// [`Exemplars::from_toml`].
    pub fn load(path: &Path) -> Result<Self, ShotsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ShotsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The exemplars of `file`, or the shipped ones when there is none: what a
    /// configuration's `shots_file` or a `--shots-file` selects.
    ///
    /// # Errors
    /// The errors of [`Exemplars::load`].
    pub fn load_or_shipped(file: Option<&Path>) -> Result<Self, ShotsError> {
        file.map_or_else(|| Ok(Self::shipped()), Self::load)
    }

    /// Parses exemplars from TOML text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`ShotsError::Parse`] for text not of the form, [`ShotsError::Invalid`] for an
    /// exemplar that is not a valid task, has no rationale or repeats an id.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ShotsError> {
        let file: File = toml::from_str(text).map_err(|source| ShotsError::Parse {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
        let invalid = |id: &str, message: String| ShotsError::Invalid {
            origin: origin.to_owned(),
            id: id.to_owned(),
            message,
        };
        let mut shots: Vec<Exemplar> = Vec::with_capacity(file.shot.len());
        for record in file.shot {
            let id = record.id.clone();
            let task = exemplar_task(
                record.id,
                record.spec,
                &record.program,
                record.tests,
                record.entry_point,
            )
            .map_err(|message| invalid(&id, message))?;
            if shots.iter().any(|shot| shot.task.id == task.id) {
                return Err(invalid(&id, "the id is repeated".to_owned()));
            }
            let rationales: BTreeMap<String, String> = record
                .rationale
                .into_iter()
                .map(|(renderer, text)| (renderer, text.trim().to_owned()))
                .filter(|(_, text)| !text.is_empty())
                .collect();
            if rationales.is_empty() {
                return Err(invalid(&id, "it has no rationale".to_owned()));
            }
            shots.push(Exemplar {
                task,
                bug: record.bug,
                fix: Program::new(record.fix.trim_start_matches('\n')),
                rationales,
            });
        }
        if shots.is_empty() {
            return Err(ShotsError::Invalid {
                origin: origin.to_owned(),
                id: "-".to_owned(),
                message: "the file holds no [[shot]]".to_owned(),
            });
        }
        Ok(Self {
            origin: origin.to_owned(),
            shots,
        })
    }

    /// Where the exemplars came from (a path, or "the shipped exemplars").
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.shots.len()
    }

    /// Always false (the invariant); for symmetry with [`Exemplars::len`].
    pub fn is_empty(&self) -> bool {
        self.shots.is_empty()
    }

    /// Every exemplar, in the file's order.
    pub fn all(&self) -> &[Exemplar] {
        &self.shots
    }

    /// The first `n`, in the file's order.
    ///
    /// # Errors
    /// [`ShotsError::TooFew`] when there are fewer than `n`.
    pub fn first(&self, n: usize) -> Result<&[Exemplar], ShotsError> {
        self.shots.get(..n).ok_or_else(|| ShotsError::TooFew {
            origin: self.origin.clone(),
            asked: n,
            available: self.shots.len(),
        })
    }
}

fn exemplar_task(
    id: String, spec: String, program: &str, tests: Vec<String>, entry_point: String,
) -> Result<RepairTask, String> {
    let id = TaskId::new(id).map_err(|e| e.to_string())?;
    let tests = tests
        .into_iter()
        .map(|test| TestCase::new(test).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    RepairTask::new(
        id,
        spec,
        Program::new(program.trim_start_matches('\n')),
        tests,
        entry_point,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_exemplars_have_a_rationale_for_every_renderer_and_distinct_bugs() {
        let shipped = Exemplars::shipped();
        assert_eq!(shipped.len(), 3);
        let bugs: std::collections::BTreeSet<&str> =
            shipped.all().iter().filter_map(Exemplar::bug).collect();
        assert_eq!(bugs.len(), 3, "{bugs:?}");
        for shot in shipped.all() {
            for renderer in ["inline", "scratchpad", "blocks", "none"] {
                let text = shot.rationale(renderer, renderer != "none").unwrap();
                assert!(text.len() > 100, "{renderer}: {text}");
            }
            assert!(!shot.task().program.source().starts_with('\n'));
            assert_ne!(shot.fix(), &shot.task().program);
        }
        assert!(matches!(
            shipped.first(4),
            Err(ShotsError::TooFew {
                asked: 4,
                available: 3,
                ..
            })
        ));
    }

    #[test]
    fn a_generic_trace_rationale_serves_renderers_that_show_execution_only() {
        let text = "[[shot]]\nid = \"s\"\nspec = \"Add.\"\nentry_point = \"add\"\n\
                    tests = [\"assert add(1, 2) == 3\"]\nprogram = \"def add(a, b):\\n    return a - b\\n\"\n\
                    fix = \"def add(a, b):\\n    return a + b\\n\"\n[shot.rationale]\ntrace = \"It subtracts.\"\n";
        let shots = Exemplars::from_toml(text, "test").unwrap();
        let shot = &shots.all()[0];
        assert_eq!(shot.rationale("my-renderer", true), Some("It subtracts."));
        assert_eq!(shot.rationale("none", false), None);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let err = Exemplars::from_toml("[[shot]]\nid = \"s\"\n", "mine.toml").unwrap_err();
        assert!(err.to_string().contains("mine.toml"), "{err}");
        let no_rationale = "[[shot]]\nid = \"s\"\nspec = \"Add.\"\nentry_point = \"add\"\n\
                            tests = [\"assert add(1, 2) == 3\"]\nprogram = \"x\"\nfix = \"y\"\n\
                            rationale = {}\n";
        let err = Exemplars::from_toml(no_rationale, "mine.toml").unwrap_err();
        assert!(err.to_string().contains("no rationale"), "{err}");
        let repeated = format!(
            "{}{}",
            no_rationale.replace("{}", "{ none = \"a\" }"),
            no_rationale.replace("{}", "{ none = \"b\" }")
        );
        let err = Exemplars::from_toml(&repeated, "mine.toml").unwrap_err();
        assert!(err.to_string().contains("repeated"), "{err}");
        let err = Exemplars::load(Path::new("/nonexistent/shots.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/shots.toml"), "{err}");
    }
}
