//! [`OpenAiConfig`]: the options of the `openai` sampler.

hosted_config! {
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
    pub struct OpenAiConfig: sampler(max_choices_per_request = 128, "n") {
        /// The API's base URL, up to and including the version: requests go to
        /// `{base_url}/chat/completions`. Default `https://api.openai.com/v1`.
        base_url = "https://api.openai.com/v1",
        /// The model of the base checkpoint ([`Checkpoint::base`](next_core::train::Checkpoint::base)).
        model,
        /// The name of the environment variable that holds the API key, sent as
        /// `Authorization: Bearer <key>`. Default `OPENAI_API_KEY`. When the variable is unset
        /// or empty no key is sent, which local servers (llama.cpp, vLLM, Ollama) accept; a
        /// server that wants one answers 401, and the error says the variable was unset. The
        /// key is read once, when the sampler is built, and never shown.
        api_key_env = "OPENAI_API_KEY",
    }
    options = [],
}
