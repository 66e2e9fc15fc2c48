//! The OpenAI-compatible chat completions sampler (feature `openai`, factory `openai`).
//!
//! One client for every server that speaks `POST {base_url}/chat/completions`: hosted
//! services, vLLM, llama.cpp's server, Ollama. The prompt's messages are sent as chat
//! messages (`system`, `user`, `assistant`), with `n`, `temperature`, `top_p`, `seed`,
//! `max_tokens` and `stop` from the [`SamplingParams`]; each choice's message content
//! becomes a sample through [`Sample::from_raw`].
//!
//! Servers differ in how they honour `n`: llama.cpp's answers one choice whatever `n`
//! says, others cap it. When fewer choices come back than were asked for, the sampler asks
//! again for the remainder, with requests sized by what one request was seen to return,
//! each with its own seed (`seed + k` for the `k`-th request of the call, so that the
//! samples differ), at most `n` requests in all. A choice whose content is null (filtered
//! by the server) is a missing sample, which the loop counts as a failure; it is not
//! asked for again.
//!
//! Requests go through the shared plumbing: at most `max_concurrency` in flight, a
//! timeout each, retries by the [`RetryPolicy`](crate::retry::RetryPolicy) on 408, 429,
//! 5xx, connection errors and timeouts, honouring `Retry-After`. A success whose body is
//! not a chat completion is not retried: it is a
//! [`ModelError::Malformed`] naming the problem.
//!
//! ```
//! use next_core::sample::RationaleSampler;
//! use next_models::openai::{OpenAiConfig, OpenAiSampler};
//!
//! let mut config = OpenAiConfig::new("SmolLM2-135M-Instruct");
//! config.base_url = "http://127.0.0.1:8080/v1".into();
//! config.api_key_env = "NEXT_DOC_NO_SUCH_KEY".into(); // unset: no key is sent
//! let sampler: Box<dyn RationaleSampler> = Box::new(OpenAiSampler::new(config)?);
//! # Ok::<(), next_models::error::ModelError>(())
//! ```

mod config;
pub mod finetune;
mod wire;

use async_trait::async_trait;
use next_core::prompt::Prompt;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::train::Checkpoint;
use reqwest::header::AUTHORIZATION;

pub use self::config::OpenAiConfig;
use crate::error::ModelError;
use crate::http::{self, Api, Batch, Settings};

/// The name of the backend in messages, and of its factory.
const NAME: &str = "openai";

/// A [`RationaleSampler`] backed by an OpenAI-compatible chat completions server.
///
/// One sampler serves every task of a run (share it, in an `Arc` if need be), and its
/// concurrency bound holds across all of them.
#[derive(Debug)]
pub struct OpenAiSampler {
    api: Api,
    url: String,
    config: OpenAiConfig,
}

impl OpenAiSampler {
    /// Builds the sampler from its configuration, reading the API key from the
    /// environment variable `config.api_key_env`. No request is sent.
    ///
    /// # Errors
    /// [`ModelError::Config`] for an option out of range: an empty model, a base URL that
    /// is not `http` or `https`, a timeout or concurrency bound that is not positive, a
    /// retry policy out of range, a malformed header.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        if config.model.trim().is_empty() {
            return Err(ModelError::Config("model must not be empty".into()));
        }
        let base = config.checked_base_url()?;
        let api = Api::new(bearer(config.settings(NAME), &config.api_key_env))?;
        Ok(Self {
            api,
            url: format!("{base}/chat/completions"),
            config,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The URL requests are sent to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `settings` with the key in the environment variable `api_key_env`, when it is set,
/// sent as `Authorization: Bearer <key>`; an OpenAI-style server may need none.
pub(crate) fn bearer<'a>(settings: Settings<'a>, api_key_env: &str) -> Settings<'a> {
    let key = http::env_key(api_key_env).map(|key| format!("Bearer {key}"));
    settings.with_key(AUTHORIZATION, key, || {
        format!("no API key was sent: the environment variable {api_key_env} is not set")
    })
}

#[async_trait]
impl RationaleSampler for OpenAiSampler {
    /// Samples `n` answers; see the [module documentation](self).
    async fn sample(
        &self, checkpoint: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        let model = http::request_model(checkpoint, &self.config.model, params)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let messages = wire::messages(prompt);
        let messages = &messages;
        http::draw(
            n,
            self.config.max_choices_per_request,
            |ask, k| async move {
                let request = wire::ChatRequest {
                    model,
                    messages,
                    n: ask,
                    temperature: params.temperature,
                    top_p: params.top_p,
                    max_tokens: params.max_tokens,
                    seed: params.seed.map(|seed| http::wire_seed(seed, k)),
                    stop: &params.stop,
                };
                let response: wire::ChatResponse = self
                    .api
                    .post_json(&self.url, &request, "a chat completion")
                    .await?;
                let delivered = response.choices.len();
                let samples = response
                    .choices
                    .into_iter()
                    .filter_map(wire::Choice::into_text)
                    .map(Sample::from_raw)
                    .collect();
                Ok(Batch { delivered, samples })
            },
        )
        .await
        .map_err(SampleError::from)
    }
}

next_core::register_configured!(
    sampler,
    NAME,
    "an OpenAI-compatible chat completions server (hosted, vLLM, llama.cpp, Ollama)",
    OpenAiSampler::new,
    options = OpenAiConfig::OPTIONS,
);
