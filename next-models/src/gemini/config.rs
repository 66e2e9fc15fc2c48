//! [`GeminiConfig`]: the options of the `gemini` sampler.

use serde::{Deserialize, Serialize};

hosted_config! {
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
    pub struct GeminiConfig: sampler(max_candidates_per_request = 8, "candidateCount") {
        /// The API's root: requests go to
        /// `{base_url}/v1beta/models/{model}:generateContent`. Default
        /// `https://generativelanguage.googleapis.com`.
        base_url = "https://generativelanguage.googleapis.com",
        /// The model of the base checkpoint: a model id (`gemini-2.0-flash`, which becomes
        /// the resource `models/gemini-2.0-flash`) or a full resource name holding a `/`
        /// (`tunedModels/next-iter-1`, used as it is).
        model,
        /// The name of the environment variable that holds the API key, sent as the
        /// `x-goog-api-key` header. Default `GEMINI_API_KEY`. It must be set when the sampler
        /// is built; the key is read then and never shown.
        api_key_env = "GEMINI_API_KEY",
        /// Sent as the request's `safetySettings` when not empty.
        #[serde(default)]
        pub safety_settings: Vec<SafetySetting>,
    }
    options = [OptionDoc::new("safety_settings", "[]", "the safety settings sent")],
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
