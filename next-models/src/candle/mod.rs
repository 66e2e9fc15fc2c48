//! The local model (feature `candle`, factory `candle`): a llama-family GGUF run on the
//! CPU with candle, for laptops, tests and CI without a model server.
//!
//! Everything the model needs comes from the one file: the weights, the tokenizer
//! (built from `tokenizer.ggml.*`, see [`GgufTokenizer`]) and the chat template
//! (`tokenizer.chat_template`, rendered with minijinja, see [`ChatTemplate`]). The
//! default file is SmolLM2-135M-Instruct in `Q4_1` ([`SMOLLM2`]), which
//! `next model fetch` puts into the cache; a missing one is an error naming that
//! command.
//!
//! # Design
//!
//! - **The samples of one prompt are one batch that shares the prompt.** The prompt
//!   runs once, in chunks; its keys and values are kept once, and the `n` samples decode
//!   together, each row keeping only its own generated keys and values and attending to
//!   the prompt's through the shared copy. A row that writes an end-of-generation token,
//!   reaches a stop string or its `max_tokens` leaves the batch.
//! - **Weights are converted at load so that decoding is fast.** candle has no SIMD
//!   kernel for `Q4_1` (nor `Q5_0`, `Q5_1`); such weights are re-quantized to `Q8_0`
//!   (by default; [`WeightFormat`] lists the choices). On CPUs with AVX-512 VNNI or
//!   AVX-VNNI candle's tiled int8 kernel serves `Q8_0` matrices whose width is a
//!   multiple of 256: a matrix of SmolLM2's width of 576 is split into its first 512
//!   columns and its last 64, folded into a 256-wide matrix (see `linear.rs`), so that
//!   the kernel applies with no padding; the query, key and value matrices are stacked
//!   into one, as are the gate and up matrices, and the rest of a decoding step runs as
//!   plain loops over rows (`decode.rs`). Measured in `benches/decode.rs` against
//!   llama.cpp on the same file and thread count: decoding 1.20x at 2 threads, 1.32x
//!   at 1.
//! - **Kernels are chosen at run time, not at compile time.** candle 0.11 detects AVX2,
//!   AVX-512 VNNI and AVX-VNNI when it runs, so the project needs no `target-cpu` flag
//!   and its binaries still run (slowly, on scalar code) on CPUs without them. The
//!   trade-off: code that candle does not dispatch (our own loops, element-wise tensor
//!   operations) is compiled for baseline x86-64: the attention loops, about a quarter
//!   of a batched decoding step.
//! - **One thread owns the model.** [`CandleSampler`] hands each call to a worker
//!   thread through a queue and awaits the answer, so it works under any async runtime
//!   and never blocks one; calls run one at a time, each using candle's thread pool (all
//!   cores; `CANDLE_NUM_THREADS` sets the count). A call whose future is dropped stops at
//!   the next decoding step.
//!
//! # Seeds
//!
//! Sample `k` of a call with `SamplingParams::seed = Some(s)` is drawn with the seed
//! `s + k` (the hosted backends' convention). What is promised: the same call (prompt,
//! `n`, parameters, seed, `max_batch`) gives the same samples, on the same machine and
//! thread count; sample `k` starts like the sample of a call with `n = 1` and seed
//! `s + k` (the same first token, drawn from the same logits), but a batch's arithmetic
//! (the kernels' blocking over rows) can round differently from a single row's, and a
//! rounding difference can tip a later draw, so the two may part after that. Greedy
//! decoding (temperature 0, the first most likely token, as llama.cpp picks it) gives
//! every row of a batch the single-row result but at exact ties. Without a seed each
//! call draws one at random.
//!
//! # Checkpoints
//!
//! [`Checkpoint::base()`] is the configured GGUF (`model`, or the default model). A
//! checkpoint whose data names another GGUF, `{"gguf": "/path/to/tuned.gguf"}`
//! ([`gguf_checkpoint`]), is that file; one whose data names a LoRA adapter directory,
//! `{"adapter": "/runs/a/iter-1/checkpoint"}` (what [`CandleLoraTrainer`] returns), is
//! the base GGUF (or the one its `gguf` names) with the adapter's update merged into
//! its weights at load. Either is loaded when first asked for (the sampler keeps one
//! model loaded at a time). Any other checkpoint (a hosted model id) is refused with
//! [`SampleError::Checkpoint`].
//!
//! # Training
//!
//! [`CandleLoraTrainer`] (factory `candle-lora`) fine-tunes LoRA adapters of the same
//! model on the CPU; see [`train`].
//!
//! ```no_run
//! use next_core::prompt::{Message, Prompt, Role};
//! use next_core::sample::{RationaleSampler, SamplingParams};
//! use next_core::train::Checkpoint;
//! use next_models::candle::{CandleConfig, CandleSampler};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sampler = CandleSampler::new(CandleConfig::default())?; // the cached SmolLM2
//! let prompt = Prompt { messages: vec![Message::new(Role::User, "Name a colour.")] };
//! let params = SamplingParams { max_tokens: 16, seed: Some(1), ..SamplingParams::default() };
//! let samples = sampler.sample(&Checkpoint::base(), &prompt, 4, &params).await?;
//! assert_eq!(samples.len(), 4);
//! # Ok(())
//! # }
//! ```

mod adapter;
mod config;
mod decode;
mod error;
mod generate;
mod gguf;
mod kernels;
mod linear;
mod model;
mod sampling;
mod target;
mod template;
mod tokenizer;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use futures::channel::oneshot;
use next_core::prompt::Prompt;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::train::Checkpoint;

pub use self::config::CandleConfig;
pub use self::error::{CandleError, FETCH_COMMAND};
pub use self::generate::{Completion, Finish, Generation, LocalModel};
pub use self::gguf::WeightFormat;
pub use self::template::ChatTemplate;
pub use self::tokenizer::GgufTokenizer;
pub use self::train::{Adapter, CandleLoraTrainer, LoraConfig};
use crate::artifact::SMOLLM2;

/// The name of the backend in messages, and of its factory.
const NAME: &str = "candle";

/// The key of a checkpoint's data that names a GGUF file.
pub const GGUF_KEY: &str = "gguf";

/// The key of a checkpoint's data that names a LoRA adapter directory (see
/// [`Adapter`]).
pub const ADAPTER_KEY: &str = "adapter";

/// What a checkpoint stands for: a GGUF, and an adapter to merge into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// The GGUF.
    pub gguf: PathBuf,
    /// The adapter directory, if any.
    pub adapter: Option<PathBuf>,
}

/// A checkpoint named `name` that stands for the GGUF at `path`, in the form the candle
/// sampler reads.
///
/// ```
/// let tuned = next_models::candle::gguf_checkpoint("iter-1", "/runs/a/iter-1.gguf");
/// assert_eq!(tuned.data, serde_json::json!({"gguf": "/runs/a/iter-1.gguf"}));
/// ```
pub fn gguf_checkpoint(name: impl Into<String>, path: impl AsRef<Path>) -> Checkpoint {
    Checkpoint {
        name: name.into(),
        data: serde_json::json!({ GGUF_KEY: path.as_ref().display().to_string() }),
    }
}

/// Where the default model is: [`SMOLLM2`] in the cache directory.
///
/// # Errors
/// [`CandleError::MissingModel`], naming [`FETCH_COMMAND`], when it is not there;
/// [`CandleError::NoCache`] when no cache directory can be named.
pub fn default_model() -> Result<PathBuf, CandleError> {
    match SMOLLM2.locate() {
        Ok(path) => Ok(path),
        Err(next_core::artifact::ArtifactError::Missing {
            name, path, why, ..
        }) => Err(CandleError::MissingModel {
            what: name,
            path,
            why,
        }),
        Err(err) => Err(CandleError::NoCache(err)),
    }
}

/// The base model: the `configured` GGUF, or the cached default model.
///
/// # Errors
/// As [`default_model`], when none is configured.
fn configured_or_default(configured: Option<&PathBuf>) -> Result<PathBuf, CandleError> {
    configured.map_or_else(default_model, |path| Ok(path.clone()))
}

/// The paths a checkpoint's data names: a GGUF under [`GGUF_KEY`] and an adapter
/// directory under [`ADAPTER_KEY`], each `None` when the key is absent.
///
/// # Errors
/// The key whose value is not a path (a non-empty string).
fn checkpoint_paths(
    checkpoint: &Checkpoint,
) -> Result<(Option<PathBuf>, Option<PathBuf>), &'static str> {
    let path = |key: &'static str| match checkpoint.data.get(key) {
        None => Ok(None),
        Some(serde_json::Value::String(path)) if !path.trim().is_empty() => {
            Ok(Some(PathBuf::from(path)))
        }
        Some(_) => Err(key),
    };
    Ok((path(GGUF_KEY)?, path(ADAPTER_KEY)?))
}

/// One call of the sampler, as the worker thread gets it.
struct Job {
    files: ModelFiles,
    checkpoint: String,
    prompt: Prompt,
    n: usize,
    params: SamplingParams,
    reply: oneshot::Sender<Result<Vec<Sample>, SampleError>>,
}

/// A [`RationaleSampler`] backed by a GGUF run locally with candle; see the
/// [module documentation](self).
///
/// Invariant: the worker thread runs while the sampler lives, holding a loaded model.
pub struct CandleSampler {
    config: CandleConfig,
    base: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CandleSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_role(f, "CandleSampler", &self.config, &self.base)
    }
}

/// Shows a candle role as its configuration and its base model, leaving out what it
/// holds at run time.
fn debug_role(
    f: &mut std::fmt::Formatter<'_>, name: &str, config: &dyn std::fmt::Debug, base: &Path,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field("config", config)
        .field("base", &base)
        .finish_non_exhaustive()
}

impl CandleSampler {
    /// Loads the base model (the configured `model`, or the cached default) and starts
    /// the worker thread that runs it.
    ///
    /// # Errors
    /// [`CandleError::MissingModel`] when the default model is not cached (the message
    /// names `next model fetch`), and any error of [`LocalModel::load`].
    pub fn new(config: CandleConfig) -> Result<Self, CandleError> {
        let base = configured_or_default(config.model.as_ref())?;
        let model = LocalModel::load(&base, config.weights, config.context_length)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let settings = config.clone();
        let worker = std::thread::Builder::new()
            .name("next-candle".into())
            .spawn(move || serve(model, &settings, &queue))
            .map_err(|err| CandleError::Worker(format!("starting it: {err}")))?;
        Ok(Self {
            config,
            base,
            jobs: Some(jobs),
            worker: Some(worker),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &CandleConfig {
        &self.config
    }

    /// The GGUF of the base checkpoint.
    pub fn base_model(&self) -> &Path {
        &self.base
    }

    /// The files a checkpoint stands for (see the [module documentation](self)).
    ///
    /// # Errors
    /// [`SampleError::Checkpoint`] for a checkpoint that names neither a GGUF nor an
    /// adapter.
    pub fn model_of(&self, checkpoint: &Checkpoint) -> Result<ModelFiles, SampleError> {
        if checkpoint.is_base() {
            return Ok(ModelFiles {
                gguf: self.base.clone(),
                adapter: None,
            });
        }
        let refuse = || SampleError::Checkpoint {
            name: checkpoint.name.clone(),
            reason: format!(
                "the candle sampler needs the base checkpoint or one whose data is \
                 {{\"{GGUF_KEY}\": \"<path of a GGUF file>\"}} or \
                 {{\"{ADAPTER_KEY}\": \"<adapter directory>\"}} (or both)"
            ),
        };
        let (gguf, adapter) = checkpoint_paths(checkpoint).map_err(|_| refuse())?;
        if gguf.is_none() && adapter.is_none() {
            return Err(refuse());
        }
        Ok(ModelFiles {
            gguf: gguf.unwrap_or_else(|| self.base.clone()),
            adapter,
        })
    }
}

impl Drop for CandleSampler {
    fn drop(&mut self) {
        // Closing the queue ends the worker once its current call is done (or seen
        // to be cancelled).
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[async_trait]
impl RationaleSampler for CandleSampler {
    /// Samples `n` answers as one batch; see the [module documentation](self).
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        params
            .validate()
            .map_err(|err| SampleError::Rejected(err.message().to_owned()))?;
        let files = self.model_of(model)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            files,
            checkpoint: model.name.clone(),
            prompt: prompt.clone(),
            n,
            params: params.clone(),
            reply,
        };
        let gone = || SampleError::from(CandleError::Worker("it no longer takes calls".into()));
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The worker thread: answers jobs in order until the queue closes.
fn serve(mut model: LocalModel, config: &CandleConfig, queue: &mpsc::Receiver<Job>) {
    let mut adapter: Option<PathBuf> = None;
    while let Ok(job) = queue.recv() {
        if job.reply.is_canceled() {
            continue;
        }
        if model.path() != job.files.gguf || adapter != job.files.adapter {
            let loaded = job
                .files
                .adapter
                .as_deref()
                .map(Adapter::load)
                .transpose()
                .and_then(|a| {
                    LocalModel::load_with_adapter(
                        &job.files.gguf,
                        a.as_ref(),
                        config.weights,
                        config.context_length,
                    )
                });
            match loaded {
                Ok(loaded) => {
                    model = loaded;
                    adapter.clone_from(&job.files.adapter);
                }
                Err(err) => {
                    let _ = job.reply.send(Err(SampleError::Checkpoint {
                        name: job.checkpoint.clone(),
                        reason: next_core::error::chain(&err),
                    }));
                    continue;
                }
            }
        }
        let answer = run(&model, config, &job);
        let _ = job.reply.send(answer);
    }
}

fn run(model: &LocalModel, config: &CandleConfig, job: &Job) -> Result<Vec<Sample>, SampleError> {
    let tokens = model.prompt_tokens(&job.prompt)?;
    let seed = job.params.seed.unwrap_or_else(|| fastrand::u64(..));
    let cancelled = || job.reply.is_canceled();
    let generation = model.generate(
        &tokens,
        job.n,
        &job.params,
        seed,
        config.max_batch,
        &cancelled,
    )?;
    Ok(generation
        .completions
        .into_iter()
        .filter(|c| c.finish != Finish::Cancelled)
        .map(|c| Sample::from_raw(c.text))
        .collect())
}

next_core::register_configured!(
    sampler,
    NAME,
    "a local llama-family GGUF on the CPU with candle (default: SmolLM2-135M-Instruct)",
    CandleSampler::new,
    options = &[
        next_core::registry::OptionDoc::unset(
            "model",
            "the GGUF (unset: the cached default model)"
        ),
        next_core::registry::OptionDoc::new(
            "weights",
            "\"q8_0\"",
            "what Q4/Q5 weights become: q8_0, as_stored or f32"
        ),
        next_core::registry::OptionDoc::new(
            "context_length",
            "8192",
            "the most positions of a prompt and a sample"
        ),
        next_core::registry::OptionDoc::new("max_batch", "16", "samples decoded at once"),
    ],
);
