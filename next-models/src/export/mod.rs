//! [`JsonlExportTrainer`]: a trainer that trains nothing, but writes the training set of
//! an iteration in the chat fine-tuning formats that other trainers read, and stops the
//! run until the model trained on it is handed back.
//!
//! Registered as the trainer factory `export` (no cargo feature):
//!
//! ```toml
//! [trainer]
//! kind = "export"
//! formats = ["openai", "gemini", "hf"]   # the default: all three
//! ```
//!
//! Each training writes into its output directory (in a run, `RUN_DIR/iter-N/checkpoint/`)
//! one JSON Lines file per format, one line per example in the order received, and a
//! `README.md` on how to train on each (the [`README`] constant, this folder's
//! `README.md`):
//!
//! | file | format | read by |
//! |---|---|---|
//! | `openai.jsonl` | `{"messages": [system, user, assistant]}` | OpenAI chat fine-tuning |
//! | `gemini.jsonl` | `{"systemInstruction": ..., "contents": [user, model]}` | Gemini supervised tuning on Vertex AI |
//! | `hf.jsonl` | `{"prompt": [system, user], "completion": [assistant]}` | TRL's `SFTTrainer` |
//!
//! Every line holds the prompt exactly as the sampler saw it, and the target answer (the
//! rationale and the fix) as the one final assistant (`model`) turn. The answers of
//! solved examples that a few-shot prompt shows are earlier assistant turns; the OpenAI
//! file gives them `"weight": 0`, so that, as in this project's own training, only the
//! target answer is learnt. The Hugging Face file uses TRL's prompt-completion type,
//! not `messages`, for the same reason: `SFTTrainer` computes the loss on the
//! completion only (its default for this type), where a `messages` dataset is trained
//! on the whole conversation unless told otherwise.
//!
//! Then [`Trainer::train`] returns [`TrainError::Deferred`], whose instructions name the
//! folder, the files and the command that continues the run once a model is trained:
//! `next resume RUN_DIR --config CONFIG --checkpoint iter-N=MODEL`, where `MODEL` is read
//! by [`checkpoint_from_spec`](crate::checkpoint::checkpoint_from_spec).
//!
//! ```
//! use next_core::prompt::{Message, Prompt, Role};
//! use next_core::task::TaskId;
//! use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
//! use next_models::export::{ExportConfig, JsonlExportTrainer};
//!
//! let example = TrainExample {
//!     task: TaskId::new("t/1").unwrap(),
//!     sample: 0,
//!     prompt: Prompt {
//!         messages: vec![
//!             Message::new(Role::System, "You repair programs."),
//!             Message::new(Role::User, "Fix `def f(): return 1`; f() should be 2."),
//!         ],
//!     },
//!     completion: "It returns 1.\n```python\ndef f(): return 2\n```".into(),
//! };
//! let out = tempfile::tempdir().unwrap();
//! let trainer = JsonlExportTrainer::new(&ExportConfig::default()).unwrap();
//! let err = futures::executor::block_on(trainer.train(
//!     &Checkpoint::base(),
//!     &[example],
//!     &TrainContext::new(out.path()),
//! ))
//! .unwrap_err();
//! assert!(matches!(&err, TrainError::Deferred { instructions } if instructions.contains("next resume")));
//! let openai = std::fs::read_to_string(out.path().join("openai.jsonl")).unwrap();
//! assert!(openai.starts_with(r#"{"messages":[{"role":"system","content":"You repair programs."}"#));
//! ```

mod config;
mod lines;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use next_core::jsonl::{self, JsonlError};
use next_core::registry::{self, Context, OptionDoc, RegistryError, RoleKind};
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, TrainUpdate, Trainer};

pub use config::{ExportConfig, Format};

/// The name the trainer is registered under.
const NAME: &str = "export";

/// What every export's `README.md` says: what each file is and how to train on it.
pub const README: &str = include_str!("README.md");

/// The name of the guide written beside the exported files.
pub const README_FILE: &str = "README.md";

/// A [`Trainer`] that writes its examples in chat fine-tuning formats for another
/// trainer and defers the training (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct JsonlExportTrainer {
    formats: Vec<Format>,
}

impl JsonlExportTrainer {
    /// A trainer that writes the formats of `config`.
    ///
    /// # Errors
    /// [`ExportError::NoFormat`] when `config` names no format.
    pub fn new(config: &ExportConfig) -> Result<Self, ExportError> {
        let formats = config.formats();
        if formats.is_empty() {
            return Err(ExportError::NoFormat);
        }
        Ok(Self { formats })
    }

    /// The formats written, each once, in the order of [`Format::ALL`].
    pub fn formats(&self) -> &[Format] {
        &self.formats
    }

    /// Writes `examples` in every format, and the guide, into `out`.
    fn write(&self, examples: &[TrainExample], out: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(out).map_err(|source| TrainError::Io {
            context: format!("creating {}", out.display()),
            source,
        })?;
        for example in examples {
            check(example)?;
        }
        for &format in &self.formats {
            let path = out.join(format.file_name());
            let mut bytes = Vec::new();
            for example in examples {
                let line = lines::line(format, example).map_err(|source| {
                    TrainError::Backend(Box::new(JsonlError::Serialize {
                        path: path.clone(),
                        source,
                    }))
                })?;
                bytes.extend_from_slice(&line);
                bytes.push(b'\n');
            }
            write_atomic(&path, &bytes)?;
        }
        write_atomic(&out.join(README_FILE), README.as_bytes())
    }

    /// The message of [`TrainError::Deferred`]: what was written where, and how to go
    /// on.
    fn instructions(&self, base: &Checkpoint, examples: usize, cx: &TrainContext<'_>) -> String {
        let out = cx.out();
        let n = cx.iteration();
        let run_dir =
            run_dir(out, n).map_or_else(|| "RUN_DIR".to_owned(), |d| d.display().to_string());
        let iteration = if n == 0 {
            "N".to_owned()
        } else {
            n.to_string()
        };
        let mut text = format!(
            "wrote the {examples} training example(s) of iteration {iteration} to {}:\n",
            out.display()
        );
        for format in &self.formats {
            let _ = writeln!(text, "  {:<13} {}", format.file_name(), format.reader());
        }
        let _ = writeln!(text, "  {README_FILE:<13} how to train on each");
        let start = if base.is_base() {
            "the base model".to_owned()
        } else {
            format!("checkpoint {} ({})", base.name, base.data)
        };
        let _ = writeln!(
            text,
            "fine-tune {start} on one of them, then continue the run with"
        );
        let _ = writeln!(
            text,
            "  next resume {run_dir} --config CONFIG --checkpoint iter-{iteration}=MODEL"
        );
        text.push_str(
            "where MODEL is the tuned model's id, an adapter directory, a .gguf file, or the \
             checkpoint's data as a JSON object",
        );
        text
    }
}

#[async_trait]
impl Trainer for JsonlExportTrainer {
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        self.write(examples, cx.out())?;
        cx.report(&TrainUpdate::Status {
            message: format!(
                "exported {} example(s) to {}",
                examples.len(),
                cx.out().display()
            ),
        });
        Err(TrainError::Deferred {
            instructions: self.instructions(base, examples.len(), cx),
        })
    }
}

/// Why an export trainer could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The configuration names no format to write.
    #[error("`formats` is empty: name at least one of \"openai\", \"gemini\", \"hf\"")]
    NoFormat,
}

/// The run directory of a training whose output is `RUN_DIR/iter-N/checkpoint`, when
/// `out` has that shape.
fn run_dir(out: &Path, iteration: u32) -> Option<PathBuf> {
    let iter_dir = out.parent()?;
    if iteration == 0 || iter_dir.file_name()? != format!("iter-{iteration}").as_str() {
        return None;
    }
    let dir = iter_dir.parent()?;
    Some(if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_owned()
    })
}

/// Refuses an example that no format could carry: an empty message or completion
/// (OpenAI and Gemini reject empty texts).
fn check(example: &TrainExample) -> Result<(), TrainError> {
    let empty_message = example
        .prompt
        .messages
        .iter()
        .position(|m| m.content.trim().is_empty());
    let problem = match empty_message {
        Some(i) => format!("its prompt's message {} is empty", i + 1),
        None if example.completion.trim().is_empty() => "its completion is empty".to_owned(),
        None => return Ok(()),
    };
    Err(TrainError::Backend(
        format!(
            "cannot export the example of task {} sample {}: {problem}",
            example.task, example.sample
        )
        .into(),
    ))
}

/// [`jsonl::write_atomic`], its error as a [`TrainError`].
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    jsonl::write_atomic(path, bytes).map_err(|err| match err {
        JsonlError::Io {
            action,
            path,
            source,
        } => TrainError::Io {
            context: format!("{action} {}", path.display()),
            source,
        },
        other => TrainError::Backend(Box::new(other)),
    })
}

fn build(options: &toml::Table, _cx: &Context) -> Result<Box<dyn Trainer>, RegistryError> {
    let config: ExportConfig = registry::options(RoleKind::Trainer, NAME, options)?;
    let trainer = JsonlExportTrainer::new(&config)
        .map_err(|err| RegistryError::options(RoleKind::Trainer, NAME, err.to_string()))?;
    Ok(Box::new(trainer))
}

next_core::register_factory!(
    trainer,
    "export",
    "writes the training set as OpenAI, Gemini and TRL chat JSONL and stops the run until the model trained on it is given back",
    build,
    options = &[OptionDoc::new(
        "formats",
        r#"["openai", "gemini", "hf"]"#,
        "the JSONL formats written",
    )],
);
