//! [`OpenAiConfig`]: the options of the `openai` sampler.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::http::Redacted;
use crate::retry::RetryPolicy;

/// The options of the OpenAI-compatible sampler (`[sampler] kind = "openai"`).
///
/// Only `model` is required:
///
/// ```toml
/// [sampler]
/// kind = "openai"
/// model = "gpt-4o-mini"                   # the base model; see `next_models::checkpoint`
/// base_url = "https://api.openai.com/v1"  # the default; http://127.0.0.1:8080/v1 for a local server
/// api_key_env = "OPENAI_API_KEY"          # the default
/// timeout_secs = 120.0
/// max_concurrency = 8
/// max_choices_per_request = 128
/// headers = { "OpenAI-Organization" = "org-..." }
///
/// [sampler.retry]
/// max_attempts = 5
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The API's base URL, up to and including the version: requests go to
    /// `{base_url}/chat/completions`. Default `https://api.openai.com/v1`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The model of the base checkpoint ([`Checkpoint::base`](next_core::train::Checkpoint::base)).
    pub model: String,
    /// The name of the environment variable that holds the API key, sent as
    /// `Authorization: Bearer <key>`. Default `OPENAI_API_KEY`. When the variable is unset
    /// or empty no key is sent, which local servers (llama.cpp, vLLM, Ollama) accept; a
    /// server that wants one answers 401, and the error says the variable was unset. The
    /// key is read once, when the sampler is built, and never shown.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// The timeout of one request, from connecting to the last byte of the answer, in
    /// seconds. A request past it is retried by the retry policy. Default 120.
    #[serde(default = "crate::http::default_timeout_secs")]
    pub timeout_secs: f64,
    /// Most requests in flight at once, over every call of the sampler (the loop samples
    /// many tasks at once). Default 8.
    #[serde(default = "crate::http::default_count::<8>")]
    pub max_concurrency: usize,
    /// Most choices asked for in one request (`n`); more samples take several requests.
    /// Default 128, OpenAI's limit.
    #[serde(default = "crate::http::default_count::<128>")]
    pub max_choices_per_request: usize,
    /// How failed requests are retried.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Extra headers sent with every request. Their values are never shown either.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for OpenAiConfig {
    /// Shows every option but the values of `headers`, which may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key_env", &self.api_key_env)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_concurrency", &self.max_concurrency)
            .field("max_choices_per_request", &self.max_choices_per_request)
            .field("retry", &self.retry)
            .field("headers", &Redacted(&self.headers))
            .finish()
    }
}

impl OpenAiConfig {
    /// The default configuration for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        crate::http::config_for(model.into())
    }
}

/// The OpenAI API's base URL.
pub(super) fn default_base_url() -> String {
    "https://api.openai.com/v1".into()
}

/// The variable that holds the OpenAI API key.
pub(super) fn default_api_key_env() -> String {
    "OPENAI_API_KEY".into()
}
