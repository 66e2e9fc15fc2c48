//! The Gemini `generateContent` sampler (feature `gemini`, factory `gemini`).
//!
//! Sends `POST {base_url}/v1beta/models/{model}:generateContent` with the API key in the
//! `x-goog-api-key` header. The prompt's system messages become the
//! `systemInstruction`; its other messages become `contents` with the roles `user` and
//! `model` (consecutive messages of one role are merged into one turn of several parts,
//! so that the roles alternate). `generationConfig` carries `candidateCount` (`n`, split
//! into requests of at most `max_candidates_per_request`), `temperature`, `topP`,
//! `maxOutputTokens`, `stopSequences` and `seed` (`seed + k` for the `k`-th request of a
//! call). Each candidate's text parts, joined, become a sample through
//! [`Sample::from_raw`].
//!
//! **Blocked and empty answers are missing samples, never errors.** A candidate whose
//! `finishReason` is a block (`SAFETY`, `RECITATION`, `BLOCKLIST`,
//! `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`) or that has no text gives no sample; a
//! prompt blocked as a whole (`promptFeedback.blockReason`, no candidates) gives none
//! of the samples asked for, and an answer without candidates gives none either. The
//! sampler then returns fewer than `n` samples, possibly none (an empty `Vec`), and the
//! loop counts the missing ones as failures, as the [`RationaleSampler`] contract says. Blocked samples are not asked for again.
//!
//! Retries, timeouts and the concurrency bound are the shared ones (see the
//! [crate documentation](crate) and [`retry`](crate::retry)): 429
//! (`RESOURCE_EXHAUSTED`), 5xx, connection errors and timeouts are retried, honouring
//! `Retry-After` or the `RetryInfo.retryDelay` of the error body; other 4xx answers are
//! [`ModelError::Rejected`] with the error body's message. A success whose body is not a
//! `generateContent` response is not retried.

mod config;
mod wire;

use async_trait::async_trait;
use next_core::prompt::Prompt;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::train::Checkpoint;
use reqwest::header::HeaderName;

pub use self::config::{GeminiConfig, SafetySetting};
use crate::error::ModelError;
use crate::http::{self, Api};

/// The name of the backend in messages, and of its factory.
const NAME: &str = "gemini";

/// The header that carries the API key.
const KEY_HEADER: &str = "x-goog-api-key";

/// A [`RationaleSampler`] backed by the Gemini API.
///
/// One sampler serves every task of a run (share it, in an `Arc` if need be), and its
/// concurrency bound holds across all of them.
#[derive(Debug)]
pub struct GeminiSampler {
    api: Api,
    base: String,
    config: GeminiConfig,
}

impl GeminiSampler {
    /// Builds the sampler from its configuration, reading the API key from the
    /// environment variable `config.api_key_env`. No request is sent.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the key's variable is unset or empty (the message
    /// names the variable, never a key), and for an option out of range: a model id that
    /// cannot be put in a URL, a base URL that is not `http` or `https`, a timeout or
    /// concurrency bound that is not positive, a retry policy out of range, a malformed
    /// header.
    pub fn new(config: GeminiConfig) -> Result<Self, ModelError> {
        resource(&config.model).map_err(ModelError::Config)?;
        let base = config.checked_base_url()?.to_owned();
        let key = http::env_key(&config.api_key_env).ok_or_else(|| {
            ModelError::Config(format!(
                "the environment variable {} (api_key_env) must hold the Gemini API key",
                config.api_key_env
            ))
        })?;
        let api = Api::new(config.settings(NAME).with_key(
            HeaderName::from_static(KEY_HEADER),
            Some(key),
            String::new,
        ))?;
        Ok(Self { api, base, config })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &GeminiConfig {
        &self.config
    }

    /// The URL that requests for `model` (a model id or resource name) are sent to.
    ///
    /// # Errors
    /// [`ModelError::InvalidRequest`] when `model` cannot be put in a URL.
    pub fn url_for(&self, model: &str) -> Result<String, ModelError> {
        let resource = resource(model).map_err(ModelError::InvalidRequest)?;
        Ok(format!("{}/v1beta/{resource}:generateContent", self.base))
    }
}

#[async_trait]
impl RationaleSampler for GeminiSampler {
    /// Samples `n` answers; blocked or empty candidates are left out (see the
    /// [module documentation](self)).
    async fn sample(
        &self, checkpoint: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        let model = http::request_model(checkpoint, &self.config.model, params)?;
        let url = self.url_for(model).map_err(|err| ModelError::Checkpoint {
            name: checkpoint.name.clone(),
            reason: err.to_string(),
        })?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let (contents, system) = wire::conversation(prompt);
        if contents.is_empty() {
            return Err(ModelError::InvalidRequest(
                "the prompt has no user or assistant message".into(),
            )
            .into());
        }
        let (contents, system, url) = (&contents, system.as_ref(), &url);
        http::draw(
            n,
            self.config.max_candidates_per_request,
            |ask, k| async move {
                let request = wire::GenerateContentRequest {
                    contents,
                    system_instruction: system,
                    generation_config: wire::GenerationConfig {
                        candidate_count: ask,
                        temperature: params.temperature,
                        top_p: params.top_p,
                        max_output_tokens: params.max_tokens,
                        stop_sequences: &params.stop,
                        seed: params.seed.map(|seed| http::wire_seed(seed, k)),
                    },
                    safety_settings: &self.config.safety_settings,
                };
                let response: wire::GenerateContentResponse = self
                    .api
                    .post_json(url, &request, "a generateContent response")
                    .await?;
                Ok(response.into_batch(ask))
            },
        )
        .await
        .map_err(SampleError::from)
    }
}

/// The resource name of `model`: `models/{model}` for a bare id, `model` itself when it
/// holds a `/` (`tunedModels/x`, `models/y`). Only letters, digits, `-`, `.`, `_` and `/`
/// are allowed, so that it goes into the URL's path as it is.
fn resource(model: &str) -> Result<String, String> {
    let model = model.trim();
    let valid = model
        .split('/')
        .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'));
    if !valid {
        return Err(format!(
            "{model:?} is not a Gemini model id (letters, digits, `-`, `.`, `_`, and `/` \
             for a resource name such as tunedModels/x)"
        ));
    }
    Ok(if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    })
}

next_core::register_configured!(
    sampler,
    NAME,
    "the Gemini generateContent API (candidateCount, safety blocks as missing samples)",
    GeminiSampler::new,
    options = GeminiConfig::OPTIONS,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources() {
        assert_eq!(
            resource("gemini-2.0-flash").unwrap(),
            "models/gemini-2.0-flash"
        );
        assert_eq!(
            resource("tunedModels/next-1").unwrap(),
            "tunedModels/next-1"
        );
        for bad in [
            "", "a b", "x?key=1", "/x", "x/", "a#b", "../../x", "a//b", "x:y",
        ] {
            assert!(resource(bad).is_err(), "{bad}");
        }
    }
}
