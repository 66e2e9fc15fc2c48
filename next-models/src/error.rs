//! [`ModelError`]: why a model backend failed, and how that becomes a
//! [`SampleError`] for the loop.
//!
//! | failure | `ModelError` | `SampleError` |
//! |---|---|---|
//! | a 4xx answer (but 408 and 429), or a redirect | [`Rejected`](ModelError::Rejected), with the message of the error body | [`Rejected`](SampleError::Rejected) |
//! | 408, 429, 5xx, connection errors, timeouts, once the retries are spent | [`Unavailable`](ModelError::Unavailable) | [`Unavailable`](SampleError::Unavailable) |
//! | a success whose body is not the documented JSON | [`Malformed`](ModelError::Malformed), naming what was expected | [`Backend`](SampleError::Backend) |
//! | a checkpoint the backend cannot use | [`Checkpoint`](ModelError::Checkpoint) | [`Checkpoint`](SampleError::Checkpoint) |
//! | sampling parameters out of range, a prompt the API cannot carry | [`InvalidRequest`](ModelError::InvalidRequest) | [`Rejected`](SampleError::Rejected) |
//! | a configuration the backend cannot be built from | [`Config`](ModelError::Config) | [`Backend`](SampleError::Backend) |
//!
//! No message holds an API key: keys travel only in request headers, which no error
//! shows.

use next_core::sample::SampleError;

/// Why a model backend could not be built or could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The configuration cannot be used (an option out of range, a missing API key, a
    /// malformed header).
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// The request is not one the backend can send (sampling parameters out of range, a
    /// prompt without a user turn).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The server refused the request with a client error (4xx other than 408 and 429),
    /// which retrying would not change.
    #[error("{provider} refused the request with HTTP {status}: {message}")]
    Rejected {
        /// Which backend.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// The message of the error body, or the body itself when it has none.
        message: String,
    },
    /// The server could not be reached, or kept failing, until the retry policy gave up.
    #[error("{provider} is unavailable after {attempts} attempt(s): {reason}")]
    Unavailable {
        /// Which backend.
        provider: &'static str,
        /// How many requests were sent.
        attempts: u32,
        /// What went wrong the last time, and why no more attempts were made.
        reason: String,
    },
    /// The server answered with success, but its body is not the JSON the API documents.
    /// Not retried: a server that answers garbage once will most likely do it again.
    #[error("{provider} answered HTTP {status} with {context}; the body begins with {excerpt:?}")]
    Malformed {
        /// Which backend.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// What was expected (`"a body that is not a chat completion"`, ...).
        context: String,
        /// The first characters of the body.
        excerpt: String,
        /// What the JSON parser found wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The checkpoint does not name a model this backend can use.
    #[error("cannot use checkpoint {name}: {reason}")]
    Checkpoint {
        /// The checkpoint's name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl From<ModelError> for SampleError {
    fn from(err: ModelError) -> Self {
        match err {
            ModelError::Rejected { .. } | ModelError::InvalidRequest(_) => {
                SampleError::Rejected(err.to_string())
            }
            ModelError::Unavailable { .. } => SampleError::Unavailable(err.to_string()),
            ModelError::Checkpoint { name, reason } => SampleError::Checkpoint { name, reason },
            ModelError::Malformed { .. } | ModelError::Config(_) => {
                SampleError::Backend(Box::new(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use next_core::error::chain;

    use super::*;

    #[test]
    fn variants_map_to_sample_errors() {
        let rejected = SampleError::from(ModelError::Rejected {
            provider: "openai",
            status: 400,
            message: "context too long".into(),
        });
        assert!(
            matches!(&rejected, SampleError::Rejected(m) if m.contains("context too long") && m.contains("400")),
            "{rejected:?}"
        );
        let unavailable = SampleError::from(ModelError::Unavailable {
            provider: "gemini",
            attempts: 3,
            reason: "HTTP 503".into(),
        });
        assert!(matches!(unavailable, SampleError::Unavailable(m) if m.contains("3 attempt")));
        let checkpoint = SampleError::from(ModelError::Checkpoint {
            name: "iter-1".into(),
            reason: "no model".into(),
        });
        assert!(matches!(checkpoint, SampleError::Checkpoint { name, .. } if name == "iter-1"));
        let source = serde_json::from_str::<serde_json::Value>("{\"choices\": [").unwrap_err();
        let malformed = SampleError::from(ModelError::Malformed {
            provider: "openai",
            status: 200,
            context: "a body that is not a chat completion".into(),
            excerpt: "{\"choices\": [".into(),
            source,
        });
        let text = chain(&malformed);
        assert!(matches!(malformed, SampleError::Backend(_)));
        assert!(
            text.contains("not a chat completion") && text.contains("EOF"),
            "{text}"
        );
    }
}
