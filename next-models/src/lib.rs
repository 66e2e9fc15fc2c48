//! NExT models: the [`RationaleSampler`](next_core::sample::RationaleSampler) backends
//! that talk to language models, and the [`Trainer`](next_core::train::Trainer)s that
//! fine-tune them on the rationales the loop keeps.
//!
//! Users swap models: a hosted API in production, a local model on a laptop, a mock in
//! tests (`next_core::testing`). This crate holds the real ones, each behind its cargo
//! feature (none is on by default) and each registered as a named factory, so that a
//! configuration's `[sampler] kind = "..."` picks it:
//!
//! | feature | module | factory | talks to |
//! |---|---|---|---|
//! | `openai` | `openai` | `openai` | `POST {base_url}/chat/completions`: hosted services, vLLM, llama.cpp's server, Ollama |
//! | `gemini` | `gemini` | `gemini` | `POST {base_url}/v1beta/models/{model}:generateContent` |
//! | `candle` | `candle` | `candle` | a llama-family GGUF on the CPU, in-process (default: SmolLM2-135M-Instruct, fetched by `next model fetch`) |
//!
//! and each sampler's trainer, `[trainer] kind = "..."`:
//!
//! | feature | module | factory | trains |
//! |---|---|---|---|
//! | `candle` | `candle::train` | `candle-lora` | LoRA adapters of the local model on the CPU, which the `candle` sampler merges at load |
//! | `openai` | `openai::finetune` | `openai-ft` | a hosted fine-tuning job (files and fine-tuning API), whose model id the `openai` sampler uses |
//! | (none) | `export` | `export` | nothing here: writes the training set as OpenAI, Gemini and TRL JSONL and stops the run until it is given the model trained elsewhere |
//!
//! # Design
//!
//! - **One `RationaleSampler` implementation per provider, one folder per provider.**
//!   Each takes the [`Prompt`](next_core::prompt::Prompt) that `next_core::prompt` built
//!   and turns every answer into a sample with
//!   [`Sample::from_raw`](next_core::sample::Sample::from_raw), so that prompts are
//!   formatted and answers parsed in one place for every backend (and for the trainer).
//! - **The wire format stays private.** Each provider's request and response types live
//!   in its private `wire` module; what is public is its configuration (a serde struct
//!   that denies unknown keys, with defaults) and its sampler. The local model has no
//!   wire: it renders the prompt's messages with the GGUF's own chat template.
//! - **One retry policy and one HTTP plumbing for all.** [`retry::RetryPolicy`] (max
//!   attempts, exponential backoff with jitter, `Retry-After` in seconds or as an HTTP
//!   date) is a pure function of its inputs, unit-tested without a clock; the shared
//!   client adds a timeout per request and a bound on the requests in flight (a
//!   semaphore held across every call of one sampler). 408, 429, 5xx, refused or dropped
//!   connections and timeouts are retried; other 4xx are not; a success whose body is not
//!   the documented JSON is not retried either.
//! - **Errors are values.** [`error::ModelError`] says what went wrong and converts into
//!   the loop's [`SampleError`](next_core::sample::SampleError): a 4xx is `Rejected` with
//!   the message of the error body, spent retries are `Unavailable`, a malformed body is
//!   `Backend` naming what was expected. A blocked or empty answer is a missing sample,
//!   not an error. API keys come from environment variables named in the configuration
//!   and appear in no message.
//!
//! # Which model a checkpoint is
//!
//! The loop hands samplers a [`Checkpoint`](next_core::train::Checkpoint). For the hosted
//! backends, `Checkpoint::base()` is the configured `model`, and a checkpoint whose data
//! is `{"model": "<hosted model id>"}` is that (tuned) model; anything else is refused
//! (see [`checkpoint`]).
//!
//! # Seeds
//!
//! A call with `SamplingParams::seed = Some(s)` sends `s + k` with its `k`-th request
//! (from 0), so that the requests a call needs give different samples, reduced modulo
//! 2^31 so that every server's integer type holds it.
//!
//! # Example
//!
//! Building an OpenAI-compatible sampler from a configuration file, by type and through
//! the registry (nothing is sent until the sampler is asked for samples):
//!
//! ```
//! # #[cfg(feature = "openai")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use next_core::registry::{self, Context};
//! use next_core::sample::RationaleSampler;
//! use next_models::openai::{OpenAiConfig, OpenAiSampler};
//!
//! let file: toml::Table = toml::from_str(
//!     r#"
//!     [sampler]
//!     kind = "openai"
//!     base_url = "http://127.0.0.1:8080/v1"   # llama.cpp's server, say
//!     model = "SmolLM2-135M-Instruct"
//!     api_key_env = "NEXT_DOC_LOCAL_KEY"      # unset here: no key is sent
//!     max_concurrency = 4
//!
//!     [sampler.retry]
//!     max_attempts = 3
//!     base_delay_secs = 0.25
//!     "#,
//! )?;
//! let table = file["sampler"].as_table().ok_or("no [sampler]")?;
//!
//! // By type: the options are the configuration struct.
//! let (_kind, options) = registry::split_kind(registry::RoleKind::RationaleSampler, table)?;
//! let config: OpenAiConfig = options.try_into()?;
//! assert_eq!(config.retry.max_attempts, 3);
//! assert_eq!(config.timeout_secs, 120.0); // a default
//! let sampler = OpenAiSampler::new(config)?;
//! assert_eq!(sampler.url(), "http://127.0.0.1:8080/v1/chat/completions");
//!
//! // By name, as the `next` command does.
//! let sampler: Box<dyn RationaleSampler> =
//!     registry::from_table::<dyn RationaleSampler>(table, &Context::new())?;
//!
//! // A misspelled option is an error that names it.
//! let err = registry::sampler("openai", &toml::from_str("model = 'm'\ntemprature = 1")?, &Context::new())
//!     .err()
//!     .ok_or("expected an error")?;
//! assert!(err.to_string().contains("temprature"));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "openai"))]
//! # fn main() {}
//! ```
#![deny(missing_docs)]

#[cfg(any(feature = "openai", feature = "gemini"))]
#[macro_use]
mod hosted;

pub mod artifact;
pub mod checkpoint;
pub mod error;
pub mod export;
pub mod retry;

#[cfg(any(feature = "openai", feature = "gemini"))]
mod http;

#[cfg(feature = "candle")]
pub mod candle;
#[cfg(feature = "gemini")]
pub mod gemini;
#[cfg(feature = "openai")]
pub mod openai;
