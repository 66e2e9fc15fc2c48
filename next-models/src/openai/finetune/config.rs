//! [`OpenAiFineTuneConfig`]: the options of the `openai-ft` trainer.

use crate::error::ModelError;
use crate::retry;

/// The longest `suffix` the fine-tuning API accepts, in characters.
const MAX_SUFFIX_CHARS: usize = 64;

hosted_config! {
    /// The options of the OpenAI fine-tuning trainer (`[trainer] kind = "openai-ft"`).
    ///
    /// Only `model` is required; a hyper-parameter left out is `"auto"` (the service picks
    /// it):
    ///
    /// ```toml
    /// [trainer]
    /// kind = "openai-ft"
    /// model = "gpt-4o-mini-2024-07-18"        # the base model to tune
    /// base_url = "https://api.openai.com/v1"  # the default
    /// api_key_env = "OPENAI_API_KEY"          # the default
    /// suffix = "next"                         # in the tuned model's name
    /// n_epochs = 3
    /// batch_size = 8
    /// learning_rate_multiplier = 0.5
    /// seed = 7
    /// poll_interval_secs = 30.0               # the default
    /// max_wait_secs = 86400.0                 # default: no limit
    /// timeout_secs = 120.0
    /// headers = { "OpenAI-Organization" = "org-..." }
    ///
    /// [trainer.retry]
    /// max_attempts = 5
    /// ```
    pub struct OpenAiFineTuneConfig {
        /// The API's base URL, up to and including the version: files go to
        /// `{base_url}/files`, jobs to `{base_url}/fine_tuning/jobs`. Default
        /// `https://api.openai.com/v1`.
        base_url = "https://api.openai.com/v1",
        /// The model tuned when training from
        /// [`Checkpoint::base`](next_core::train::Checkpoint::base); a hosted checkpoint
        /// (`{"model": id}`) is tuned further from its own model. It should be the `model` of
        /// the sampler.
        model,
        /// The name of the environment variable that holds the API key, sent as
        /// `Authorization: Bearer <key>`. Default `OPENAI_API_KEY`. Read once, when the
        /// trainer is built, and never shown.
        api_key_env = "OPENAI_API_KEY",
        /// A string of at most 64 characters added to the tuned model's name.
        #[serde(default)]
        pub suffix: Option<String>,
        /// Passes over the training set; `"auto"` when absent.
        #[serde(default)]
        pub n_epochs: Option<u32>,
        /// Examples per batch; `"auto"` when absent.
        #[serde(default)]
        pub batch_size: Option<u32>,
        /// The factor applied to the service's learning rate; `"auto"` when absent.
        #[serde(default)]
        pub learning_rate_multiplier: Option<f64>,
        /// The job's seed (at most 2^31 - 1); the service picks one when absent.
        #[serde(default)]
        pub seed: Option<u32>,
        /// Seconds between two looks at a running job. Default 30.
        #[serde(default = "default_poll_interval_secs")]
        pub poll_interval_secs: f64,
        /// Most seconds to wait for a job to end, from the first look at it in this process;
        /// past it the training fails but the job goes on, and a resumed run waits for it
        /// again. Default: no limit.
        #[serde(default)]
        pub max_wait_secs: Option<f64>,
    }
    options = [
        OptionDoc::unset("suffix", "in the tuned model's name"),
        OptionDoc::unset("n_epochs", "epochs (unset: the service's choice)"),
        OptionDoc::unset("batch_size", "batch size (unset: the service's choice)"),
        OptionDoc::unset("learning_rate_multiplier", "(unset: the service's choice)"),
        OptionDoc::unset("seed", "the job's seed"),
        OptionDoc::new("poll_interval_secs", "30.0", "seconds between job polls"),
        OptionDoc::unset("max_wait_secs", "the most seconds to wait for a job"),
    ],
}

impl OpenAiFineTuneConfig {
    /// Checks the options that [`Api`](crate::http::Api) does not (the model, the
    /// suffix, the hyper-parameters, the waits).
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the first option out of range.
    pub(super) fn validate(&self) -> Result<(), ModelError> {
        let bad = |message: String| Err(ModelError::Config(message));
        if self.model.trim().is_empty() {
            return bad("model must not be empty".into());
        }
        if let Some(suffix) = &self.suffix {
            if suffix.trim().is_empty() || suffix.chars().count() > MAX_SUFFIX_CHARS {
                return bad(format!(
                    "suffix must have 1 to {MAX_SUFFIX_CHARS} characters, not {suffix:?}"
                ));
            }
        }
        if self.n_epochs == Some(0) {
            return bad("n_epochs must be at least 1".into());
        }
        if self.batch_size == Some(0) {
            return bad("batch_size must be at least 1".into());
        }
        if let Some(rate) = self.learning_rate_multiplier {
            if !(rate.is_finite() && rate > 0.0) {
                return bad(format!(
                    "learning_rate_multiplier must be a positive number, not {rate}"
                ));
            }
        }
        if let Some(seed) = self.seed {
            if i32::try_from(seed).is_err() {
                return bad(format!("seed must be at most {}, not {seed}", i32::MAX));
            }
        }
        if retry::seconds(self.poll_interval_secs).is_none() {
            return bad(format!(
                "poll_interval_secs must be a non-negative number of seconds, not {}",
                self.poll_interval_secs
            ));
        }
        if let Some(max) = self.max_wait_secs {
            if retry::seconds(max).is_none() {
                return bad(format!(
                    "max_wait_secs must be a non-negative number of seconds, not {max}"
                ));
            }
        }
        Ok(())
    }
}

fn default_poll_interval_secs() -> f64 {
    30.0
}
