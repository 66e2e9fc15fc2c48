//! [`GeminiConfig`]: the options of the `gemini` sampler.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::http::Redacted;
use crate::retry::RetryPolicy;

/// The options of the Gemini sampler (`[sampler] kind = "gemini"`).
///
/// Only `model` is required:
///
/// ```toml
/// [sampler]
/// kind = "gemini"
/// model = "gemini-2.0-flash"      # or "tunedModels/..."; see `next_models::checkpoint`
/// api_key_env = "GEMINI_API_KEY"  # the default
/// timeout_secs = 120.0
/// max_concurrency = 8
/// max_candidates_per_request = 8
/// safety_settings = [{ category = "HARM_CATEGORY_DANGEROUS_CONTENT", threshold = "BLOCK_ONLY_HIGH" }]
///
/// [sampler.retry]
/// max_attempts = 5
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeminiConfig {
    /// The API's root: requests go to
    /// `{base_url}/v1beta/models/{model}:generateContent`. Default
    /// `https://generativelanguage.googleapis.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The model of the base checkpoint: a model id (`gemini-2.0-flash`, which becomes
    /// the resource `models/gemini-2.0-flash`) or a full resource name holding a `/`
    /// (`tunedModels/next-iter-1`, used as it is).
    pub model: String,
    /// The name of the environment variable that holds the API key, sent as the
    /// `x-goog-api-key` header. Default `GEMINI_API_KEY`. It must be set when the sampler
    /// is built; the key is read then and never shown.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// The timeout of one request, from connecting to the last byte of the answer, in
    /// seconds. Default 120.
    #[serde(default = "crate::http::default_timeout_secs")]
    pub timeout_secs: f64,
    /// Most requests in flight at once, over every call of the sampler. Default 8.
    #[serde(default = "crate::http::default_count::<8>")]
    pub max_concurrency: usize,
    /// Most candidates asked for in one request (`candidateCount`); more samples take
    /// several requests. Default 8, the API's limit.
    #[serde(default = "crate::http::default_count::<8>")]
    pub max_candidates_per_request: usize,
    /// Sent as the request's `safetySettings` when not empty.
    #[serde(default)]
    pub safety_settings: Vec<SafetySetting>,
    /// How failed requests are retried.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Extra headers sent with every request. Their values are never shown.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// One safety setting: a harm category and the threshold at which it blocks, in the API's
/// own names (`HARM_CATEGORY_HARASSMENT`, `BLOCK_ONLY_HIGH`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetySetting {
    /// The harm category.
    pub category: String,
    /// The blocking threshold.
    pub threshold: String,
}

impl fmt::Debug for GeminiConfig {
    /// Shows every option but the values of `headers`, which may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key_env", &self.api_key_env)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_concurrency", &self.max_concurrency)
            .field(
                "max_candidates_per_request",
                &self.max_candidates_per_request,
            )
            .field("safety_settings", &self.safety_settings)
            .field("retry", &self.retry)
            .field("headers", &Redacted(&self.headers))
            .finish()
    }
}

impl GeminiConfig {
    /// The default configuration for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        crate::http::config_for(model.into())
    }
}

fn default_base_url() -> String {
    "https://generativelanguage.googleapis.com".into()
}

fn default_api_key_env() -> String {
    "GEMINI_API_KEY".into()
}
