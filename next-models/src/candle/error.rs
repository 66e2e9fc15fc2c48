//! [`CandleError`]: why the local model could not be loaded or could not answer.

use std::path::PathBuf;

use next_core::artifact::ArtifactError;
use next_core::sample::SampleError;

/// The command that fetches the default model into the cache.
pub const FETCH_COMMAND: &str = "next model fetch";

/// Why the local candle model could not be loaded or could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CandleError {
    /// The default model is not in the cache; the message names the command that
    /// fetches it.
    #[error(
        "{what} is not at {path} ({why}); fetch it with `{FETCH_COMMAND}`, or set the \
         sampler's `model` to a GGUF file"
    )]
    MissingModel {
        /// What the model is.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// What was wrong there.
        why: String,
    },
    /// No cache directory can be named for the default model.
    #[error("cannot look for the default local model")]
    NoCache(#[source] ArtifactError),
    /// A model file could not be opened or read.
    #[error("reading the model file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a GGUF candle can read, or a tensor in it is malformed.
    #[error("{path} is not a readable GGUF model: {message}")]
    Gguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The GGUF is readable but holds a model this backend does not run (another
    /// architecture, a `SentencePiece` tokenizer, a missing tensor, ...).
    #[error("{path}: {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        what: String,
    },
    /// The GGUF's chat template cannot be parsed or rendered for these messages.
    #[error("the model's chat template failed: {0}")]
    Template(String),
    /// The prompt and the tokens asked for do not fit into the context window.
    #[error(
        "the prompt has {prompt} tokens; with max_tokens = {max_tokens} it needs {needed}, \
         more than the context window of {limit}"
    )]
    ContextOverflow {
        /// Tokens in the prompt.
        prompt: usize,
        /// Tokens asked for.
        max_tokens: usize,
        /// Their sum.
        needed: usize,
        /// The context window.
        limit: usize,
    },
    /// A tensor operation failed while running the model.
    #[error("the model failed while {context}: {message}")]
    Inference {
        /// What it was doing.
        context: &'static str,
        /// candle's message.
        message: String,
    },
    /// An option is out of range.
    #[error("invalid candle configuration: {0}")]
    Config(String),
    /// A LoRA adapter directory cannot be read, or does not fit the model.
    #[error("{path} is not a usable adapter: {message}")]
    Adapter {
        /// The directory (or the model it was to apply to).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model's thread is gone (it panicked, or could not be started).
    #[error("the local model's worker thread stopped: {0}")]
    Worker(String),
}

impl CandleError {
    /// Wraps a candle error met while `context`.
    pub(crate) fn inference(context: &'static str) -> impl FnOnce(candle_core::Error) -> Self {
        move |err| CandleError::Inference {
            context,
            message: err.to_string(),
        }
    }
}

impl From<CandleError> for SampleError {
    /// A prompt too long for the window or one the template refuses is `Rejected`;
    /// everything else is `Backend`.
    fn from(err: CandleError) -> Self {
        match err {
            CandleError::ContextOverflow { .. } | CandleError::Template(_) => {
                SampleError::Rejected(err.to_string())
            }
            other => SampleError::Backend(Box::new(other)),
        }
    }
}
