//! The plumbing the hosted backends share: one HTTP client with its headers, a timeout
//! per request, a bound on requests in flight, the retry loop, the reading of error
//! bodies, and the drawing of `n` samples over as many requests as the server needs.
//!
//! Nothing here knows a provider's wire format beyond the common shapes of error bodies
//! (`error.message`, and the `RetryInfo` hint of Google APIs): a backend hands
//! [`Api::post_json`] its request body and gets its response type back (or
//! [`Api::get_json`] a URL, [`Api::post_bytes`] a body of another type, such as a
//! multipart upload), and hands [`draw`] a function that sends one request for `k`
//! samples.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use next_core::checkpoint::Checkpoint;
use next_core::error::chain;
use next_core::sample::{Sample, SamplingParams};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::checkpoint::hosted_model;
use crate::error::ModelError;
use crate::retry::{self, Backoff, RetryPolicy};

/// How many characters of a body an error message quotes.
const EXCERPT_CHARS: usize = 300;

/// What [`Api::new`] needs: the settings every hosted backend's configuration has.
pub(crate) struct Settings<'a> {
    /// The backend's name, for messages.
    pub provider: &'static str,
    /// The timeout of one request, connection to last byte of the body, in seconds.
    pub timeout_secs: f64,
    /// Most requests in flight at once, over every call of the sampler.
    pub max_concurrency: usize,
    /// The retry policy.
    pub retry: &'a RetryPolicy,
    /// Extra headers sent with every request.
    pub headers: &'a BTreeMap<String, String>,
    /// The header that carries the API key, and its value, if there is a key.
    pub auth: Option<(HeaderName, String)>,
    /// Said after a 401 or 403 answer, when no key was sent: why there was none.
    pub missing_key_hint: Option<String>,
}

impl<'a> Settings<'a> {
    /// Settings without a key: the caller adds one with [`Settings::with_key`].
    pub(crate) fn new(
        provider: &'static str, timeout_secs: f64, max_concurrency: usize, retry: &'a RetryPolicy,
        headers: &'a BTreeMap<String, String>,
    ) -> Self {
        Self {
            provider,
            timeout_secs,
            max_concurrency,
            retry,
            headers,
            auth: None,
            missing_key_hint: None,
        }
    }

    /// The same settings, sending `value` in `header` when there is one, and otherwise
    /// saying `hint` after a 401 or 403.
    pub(crate) fn with_key(
        self, header: HeaderName, value: Option<String>, hint: impl FnOnce() -> String,
    ) -> Self {
        let missing_key_hint = value.is_none().then(hint);
        Self {
            auth: value.map(|value| (header, value)),
            missing_key_hint,
            ..self
        }
    }
}

/// One hosted API: a client with its headers, timeout, concurrency bound and retries.
pub(crate) struct Api {
    provider: &'static str,
    client: reqwest::Client,
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    permits: Arc<Semaphore>,
    missing_key_hint: Option<String>,
}

/// How one attempt ended, when it did not end the request.
enum Attempt<T> {
    /// The answer.
    Done(T),
    /// A failure that may pass: try again after the policy's delay.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl Api {
    /// Builds the client. No request is sent.
    pub(crate) fn new(settings: Settings<'_>) -> Result<Self, ModelError> {
        let provider = settings.provider;
        settings.retry.validate()?;
        let timeout = retry::seconds(settings.timeout_secs)
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                ModelError::Config(format!(
                    "timeout_secs must be a positive number of seconds, not {}",
                    settings.timeout_secs
                ))
            })?;
        if settings.max_concurrency == 0 || settings.max_concurrency > Semaphore::MAX_PERMITS {
            return Err(ModelError::Config(format!(
                "max_concurrency must be between 1 and {}, not {}",
                Semaphore::MAX_PERMITS,
                settings.max_concurrency
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in settings.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ModelError::Config(format!("`{name}` is not a valid HTTP header name"))
            })?;
            // The value may be a secret: the message does not quote it.
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ModelError::Config(format!(
                    "the value of header `{name}` is not a valid HTTP header value"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        if let Some((name, key)) = settings.auth {
            let mut value = HeaderValue::from_str(&key).map_err(|_| {
                ModelError::Config(format!(
                    "the API key is not a valid value for the `{name}` header"
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("next-models/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                ModelError::Config(format!("cannot build the HTTP client: {}", chain(&err)))
            })?;
        Ok(Self {
            provider,
            client,
            headers,
            timeout,
            retry: settings.retry.clone(),
            permits: Arc::new(Semaphore::new(settings.max_concurrency)),
            missing_key_hint: settings.missing_key_hint,
        })
    }

    /// POSTs `body` as JSON to `url` and reads the answer as a `T`, retrying by the
    /// policy. `expected` names `T` for messages (`"a chat completion"`).
    ///
    /// # Errors
    /// [`ModelError::Rejected`] for a client error, [`ModelError::Unavailable`] when the
    /// retries are spent, [`ModelError::Malformed`] for a success that is not a `T`.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self, url: &str, body: &impl Serialize, expected: &str,
    ) -> Result<T, ModelError> {
        self.post_json_recovering(url, body, expected, || async { None })
            .await
    }

    /// [`Api::post_json`] for a request that creates something: before each retry,
    /// `recover()` looks for what an earlier attempt may have created although its
    /// answer was lost (a timeout, a 5xx after the work was done), and its answer, when
    /// it has one, is the request's.
    ///
    /// # Errors
    /// As [`Api::post_json`].
    #[cfg_attr(not(feature = "openai"), allow(dead_code))] // the fine-tuning trainer
    pub(crate) async fn post_json_recovering<T, F, Fut>(
        &self, url: &str, body: &impl Serialize, expected: &str, recover: F,
    ) -> Result<T, ModelError>
    where
        T: DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let body = serde_json::to_vec(body).map_err(|err| {
            ModelError::InvalidRequest(format!("cannot encode the request as JSON: {err}"))
        })?;
        let content_type = HeaderValue::from_static("application/json");
        self.send(
            reqwest::Method::POST,
            url,
            Some((&body, content_type)),
            expected,
            recover,
        )
        .await
    }

    /// POSTs `body`, of type `content_type` (a `multipart/form-data` body with its
    /// boundary, say), to `url` and reads the answer as a `T`, retrying by the policy.
    ///
    /// # Errors
    /// As [`Api::post_json`]; [`ModelError::InvalidRequest`] for a content type that is
    /// not a valid header value.
    #[cfg_attr(not(feature = "openai"), allow(dead_code))] // the fine-tuning trainer
    pub(crate) async fn post_bytes<T: DeserializeOwned>(
        &self, url: &str, body: &[u8], content_type: &str, expected: &str,
    ) -> Result<T, ModelError> {
        let content_type = HeaderValue::from_str(content_type).map_err(|_| {
            ModelError::InvalidRequest(format!("{content_type:?} is not a valid content type"))
        })?;
        self.send(
            reqwest::Method::POST,
            url,
            Some((body, content_type)),
            expected,
            || async { None },
        )
        .await
    }

    /// GETs `url` and reads the answer as a `T`, retrying by the policy.
    ///
    /// # Errors
    /// As [`Api::post_json`].
    #[cfg_attr(not(feature = "openai"), allow(dead_code))] // the fine-tuning trainer
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self, url: &str, expected: &str,
    ) -> Result<T, ModelError> {
        self.send(reqwest::Method::GET, url, None, expected, || async { None })
            .await
    }

    /// Sends one request, retrying by the policy, with `recover` asked before each retry.
    async fn send<T, F, Fut>(
        &self, method: reqwest::Method, url: &str, body: Option<(&[u8], HeaderValue)>,
        expected: &str, mut recover: F,
    ) -> Result<T, ModelError>
    where
        T: DeserializeOwned,
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let mut attempts = 0_u32;
        loop {
            attempts += 1;
            let (reason, retry_after) =
                match self.attempt(&method, url, body.as_ref(), expected).await? {
                    Attempt::Done(answer) => return Ok(answer),
                    Attempt::Retry {
                        reason,
                        retry_after,
                    } => (reason, retry_after),
                };
            match self
                .retry
                .next_delay(attempts, retry_after, fastrand::f64())
            {
                Backoff::Wait(delay) => {
                    tokio::time::sleep(delay).await;
                    if let Some(answer) = recover().await {
                        return Ok(answer);
                    }
                }
                Backoff::Exhausted => {
                    return Err(ModelError::Unavailable {
                        provider: self.provider,
                        attempts,
                        reason,
                    })
                }
                Backoff::TooLong(asked) => {
                    return Err(ModelError::Unavailable {
                        provider: self.provider,
                        attempts,
                        reason: format!(
                            "{reason}; the server asked to wait {:.1} s, longer than \
                             retry.max_retry_after_secs = {}",
                            asked.as_secs_f64(),
                            self.retry.max_retry_after_secs
                        ),
                    })
                }
            }
        }
    }

    /// One request, holding a permit of the concurrency bound from sending it to reading
    /// the last byte of its answer.
    async fn attempt<T: DeserializeOwned>(
        &self, method: &reqwest::Method, url: &str, body: Option<&(&[u8], HeaderValue)>,
        expected: &str,
    ) -> Result<Attempt<T>, ModelError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ModelError::Config("the request limiter was closed".into()))?;
        let mut headers = self.headers.clone();
        let request = self.client.request(method.clone(), url);
        let request = if let Some((bytes, content_type)) = body {
            headers.insert(CONTENT_TYPE, content_type.clone());
            request.body(bytes.to_vec())
        } else {
            headers.remove(CONTENT_TYPE);
            request
        };
        let sent = request.headers(headers).timeout(self.timeout).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => return self.transport_failure(&err),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry::parse_retry_after(value, SystemTime::now()));
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(err) => return self.transport_failure(&err),
        };
        drop(permit);

        if status.is_success() {
            return match serde_json::from_slice(&bytes) {
                Ok(answer) => Ok(Attempt::Done(answer)),
                Err(source) => Err(ModelError::Malformed {
                    provider: self.provider,
                    status: status.as_u16(),
                    context: format!("a body that is not {expected}"),
                    excerpt: excerpt(&bytes),
                    source,
                }),
            };
        }
        let message = error_message(&bytes, status);
        if is_transient(status) {
            return Ok(Attempt::Retry {
                reason: format!("HTTP {}: {message}", status.as_u16()),
                retry_after: retry_after.or_else(|| retry_hint(&bytes)),
            });
        }
        let message = if status.is_redirection() {
            format!(
                "unexpected redirect to {} (is base_url right?)",
                location.as_deref().unwrap_or("nowhere")
            )
        } else {
            match (&self.missing_key_hint, status) {
                (Some(hint), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                    format!("{message} ({hint})")
                }
                _ => message,
            }
        };
        Err(ModelError::Rejected {
            provider: self.provider,
            status: status.as_u16(),
            message,
        })
    }

    /// A request that got no complete answer: timeouts and connection failures may pass,
    /// a request that could not even be built will not.
    fn transport_failure<T>(&self, err: &reqwest::Error) -> Result<Attempt<T>, ModelError> {
        if err.is_builder() {
            return Err(ModelError::Config(format!(
                "cannot build the request: {}",
                chain(err)
            )));
        }
        let reason = if err.is_timeout() {
            format!(
                "no complete answer within timeout_secs = {}",
                self.timeout.as_secs_f64()
            )
        } else {
            format!("the request failed: {}", chain(err))
        };
        Ok(Attempt::Retry {
            reason,
            retry_after: None,
        })
    }
}

impl std::fmt::Debug for Api {
    /// Shows neither the headers nor the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("provider", &self.provider)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Statuses worth retrying: request timeout, too many requests, server errors.
fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// The message of an error body: `error.message` (OpenAI, Gemini), `error` (a string),
/// `message` or `detail` (servers built on `FastAPI`); else the body itself, shortened; else the
/// status's reason phrase.
fn error_message(body: &[u8], status: StatusCode) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let error = value.get("error");
        let candidates = [
            error.and_then(|e| e.get("message")),
            error,
            value.get("message"),
            value.get("detail"),
        ];
        for candidate in candidates.into_iter().flatten() {
            match candidate {
                serde_json::Value::Null => {}
                serde_json::Value::String(text) if text.trim().is_empty() => {}
                serde_json::Value::String(text) => return text.trim().to_owned(),
                other => return other.to_string(),
            }
        }
    }
    let text = excerpt(body);
    if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned()
    } else {
        text
    }
}

/// The wait a Gemini-style error body asks for: `error.details[].retryDelay` (`"37s"`)
/// of a `google.rpc.RetryInfo` detail.
fn retry_hint(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("error")?
        .get("details")?
        .as_array()?
        .iter()
        .filter_map(|detail| detail.get("retryDelay")?.as_str())
        .find_map(|delay| retry::seconds(delay.trim().strip_suffix('s')?.parse().ok()?))
}

/// The first characters of a body, as text.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// `base_url` without its trailing slashes, once checked to be an `http` or `https` URL.
pub(crate) fn check_base_url(base_url: &str) -> Result<&str, ModelError> {
    let trimmed = base_url.trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(trimmed),
        _ => Err(ModelError::Config(format!(
            "base_url must be an http or https URL, not {base_url:?}"
        ))),
    }
}

/// The configuration of a client for `model` with every other option at its default:
/// the configuration that the options table `model = "..."` gives.
pub(crate) fn config_for<T: DeserializeOwned>(model: String) -> T {
    let options = toml::Table::from_iter([("model".to_owned(), toml::Value::String(model))]);
    #[allow(clippy::expect_used)] // every option but `model` has a serde default
    options
        .try_into()
        .expect("a client configuration needs no option but its model")
}

/// The default of an option of `N` (a count), for `#[serde(default = ...)]`.
pub(crate) const fn default_count<const N: usize>() -> usize {
    N
}

/// The default timeout of one request, in seconds.
pub(crate) fn default_timeout_secs() -> f64 {
    120.0
}

/// Shows a header map with its values hidden (they may be secrets), for `Debug`.
pub(crate) struct Redacted<'a>(pub &'a BTreeMap<String, String>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|name| (name, "<hidden>")))
            .finish()
    }
}

/// The value of the environment variable `name`, if it is set to something.
pub(crate) fn env_key(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|key| !key.trim().is_empty())
}

/// The seed sent with the `k`-th request (from 0) of a call with seed `seed`:
/// `seed + k`, reduced modulo 2^31 so that every server's integer type holds it.
pub(crate) fn wire_seed(seed: u64, k: u64) -> u32 {
    u32::try_from(seed.wrapping_add(k) % (1 << 31)).unwrap_or(0)
}

/// What one request gave: how many of the samples asked for the server accounted for
/// (blocked ones included) and the samples themselves.
pub(crate) struct Batch {
    /// How many samples the answer accounted for: those returned plus those the server
    /// said it withheld (blocked). Asking again for withheld samples is pointless.
    pub delivered: usize,
    /// The usable samples.
    pub samples: Vec<Sample>,
}

/// The hosted model a request for `checkpoint` goes to (`configured` for the base model),
/// once the sampling parameters are checked: the head of every client's draw.
///
/// # Errors
/// [`ModelError::InvalidRequest`] for parameters out of range;
/// [`ModelError::Checkpoint`] for a checkpoint that names no hosted model.
pub(crate) fn request_model<'a>(
    checkpoint: &'a Checkpoint, configured: &'a str, params: &SamplingParams,
) -> Result<&'a str, ModelError> {
    params
        .validate()
        .map_err(|err| ModelError::InvalidRequest(err.message().to_owned()))?;
    hosted_model(checkpoint, configured)
}

/// Draws `n` samples with requests of at most `cap` samples each.
///
/// `request(k, i)` sends the `i`-th request of the call (from 0), asking for `k`
/// samples. The first round asks for all `n`, split into requests of `cap`; when the
/// server delivers fewer than asked (llama.cpp's server answers one choice whatever `n`
/// says), further rounds ask for the remainder, split by what one request was seen to
/// deliver, all requests of a round at once. At most `n` requests are sent in all, and a
/// round that delivers nothing ends the drawing.
///
/// Returns at most `n` samples: fewer when some were withheld or a request failed after
/// others succeeded. An error is returned only when a request failed and no sample was
/// drawn.
pub(crate) async fn draw<F, Fut>(
    n: usize, cap: usize, mut request: F,
) -> Result<Vec<Sample>, ModelError>
where
    F: FnMut(usize, u64) -> Fut,
    Fut: Future<Output = Result<Batch, ModelError>>,
{
    let budget = u64::try_from(n).unwrap_or(u64::MAX);
    let mut samples = Vec::with_capacity(n);
    let mut remaining = n;
    let mut per_request = cap.max(1);
    let mut sent = 0_u64;
    let mut failure = None;
    while remaining > 0 && sent < budget {
        let mut asks = Vec::new();
        let mut left = remaining;
        while left > 0 && sent + (asks.len() as u64) < budget {
            let ask = left.min(per_request);
            asks.push(ask);
            left -= ask;
        }
        let round: Vec<Fut> = asks
            .iter()
            .enumerate()
            .map(|(i, &ask)| request(ask, sent + i as u64))
            .collect();
        sent += asks.len() as u64;
        let results = futures::future::join_all(round).await;
        let mut delivered = 0;
        let mut most = 0;
        for (ask, result) in asks.into_iter().zip(results) {
            match result {
                Ok(batch) => {
                    let got = batch.delivered.min(ask);
                    delivered += got;
                    most = most.max(got);
                    samples.extend(batch.samples.into_iter().take(ask));
                }
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        if failure.is_some() || delivered == 0 {
            break;
        }
        remaining = remaining.saturating_sub(delivered);
        per_request = most.max(1);
    }
    samples.truncate(n);
    match failure {
        Some(err) if samples.is_empty() => Err(err),
        _ => Ok(samples),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    type Answer = Result<Batch, ModelError>;
    type Drawn = (Result<Vec<Sample>, ModelError>, Vec<(usize, u64)>);

    #[allow(clippy::unnecessary_wraps)]
    fn batch(delivered: usize, samples: usize) -> Answer {
        Ok(Batch {
            delivered,
            samples: (0..samples)
                .map(|i| Sample::from_raw(format!("s{i}")))
                .collect(),
        })
    }

    /// Draws with a fake request that answers `answer(ask, i)`; also returns the calls.
    fn run<F>(n: usize, cap: usize, answer: F) -> Drawn
    where
        F: Fn(usize, u64) -> Answer,
    {
        let calls = Mutex::new(Vec::new());
        let result = futures::executor::block_on(draw(n, cap, |ask, i| {
            calls.lock().unwrap().push((ask, i));
            let answer = answer(ask, i);
            async move { answer }
        }));
        (result, calls.into_inner().unwrap())
    }

    #[test]
    fn a_server_that_honours_n_gets_one_request() {
        let (result, calls) = run(5, 128, |ask, _| batch(ask, ask));
        assert_eq!(result.unwrap().len(), 5);
        assert_eq!(calls, [(5, 0)]);
    }

    #[test]
    fn requests_are_split_by_the_cap() {
        let (result, calls) = run(20, 8, |ask, _| batch(ask, ask));
        assert_eq!(result.unwrap().len(), 20);
        assert_eq!(calls, [(8, 0), (8, 1), (4, 2)]);
    }

    #[test]
    fn a_server_that_ignores_n_gets_the_remainder_one_by_one() {
        let (result, calls) = run(4, 128, |_, _| batch(1, 1));
        assert_eq!(result.unwrap().len(), 4);
        assert_eq!(calls, [(4, 0), (1, 1), (1, 2), (1, 3)]);
    }

    #[test]
    fn a_server_that_caps_n_gets_requests_of_its_cap() {
        let (result, calls) = run(7, 128, |ask, _| batch(ask.min(3), ask.min(3)));
        assert_eq!(result.unwrap().len(), 7);
        assert_eq!(calls, [(7, 0), (3, 1), (1, 2)]);
    }

    #[test]
    fn withheld_samples_are_not_asked_again() {
        // Everything accounted for, two of five blocked.
        let (result, calls) = run(5, 128, |ask, _| batch(ask, ask - 2));
        assert_eq!(result.unwrap().len(), 3);
        assert_eq!(calls.len(), 1);
        // All blocked: no samples, no error.
        let (result, _) = run(5, 128, |ask, _| batch(ask, 0));
        assert!(result.unwrap().is_empty());
    }

    #[test]
    fn a_round_that_delivers_nothing_stops() {
        let (result, calls) = run(5, 128, |_, _| batch(0, 0));
        assert!(result.unwrap().is_empty());
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn more_samples_than_asked_are_cut() {
        let (result, _) = run(2, 128, |_, _| batch(5, 5));
        assert_eq!(result.unwrap().len(), 2);
    }

    #[test]
    fn failures_are_errors_only_without_samples() {
        let (result, _) = run(3, 128, |_, _| Err(ModelError::InvalidRequest("no".into())));
        assert!(matches!(result, Err(ModelError::InvalidRequest(_))));
        // The remainder fails after the first request gave one sample: keep it.
        let (result, _) = run(3, 128, |_, i| {
            if i == 0 {
                batch(1, 1)
            } else {
                Err(ModelError::InvalidRequest("no".into()))
            }
        });
        assert_eq!(result.unwrap().len(), 1);
    }

    #[test]
    fn no_samples_asked_no_request() {
        let (result, calls) = run(0, 128, |ask, _| batch(ask, ask));
        assert!(result.unwrap().is_empty());
        assert!(calls.is_empty());
    }

    #[test]
    fn seeds_are_offset_and_reduced() {
        assert_eq!(wire_seed(7, 0), 7);
        assert_eq!(wire_seed(7, 2), 9);
        assert_eq!(wire_seed(u64::MAX, 1), 0);
        assert!(wire_seed(u64::MAX - 5, 0) < 1 << 31);
    }

    #[test]
    fn error_messages_are_read_from_common_shapes() {
        let bad = StatusCode::BAD_REQUEST;
        for (body, message) in [
            (
                r#"{"error": {"message": "too long", "type": "x"}}"#,
                "too long",
            ),
            (r#"{"error": "model not loaded"}"#, "model not loaded"),
            (r#"{"message": "nope"}"#, "nope"),
            (r#"{"detail": "Not Found"}"#, "Not Found"),
            (r#"{"error": {"code": 7}}"#, r#"{"code":7}"#),
            ("plain words", "plain words"),
            ("", "Bad Request"),
        ] {
            assert_eq!(error_message(body.as_bytes(), bad), message);
        }
        let long = "x".repeat(1000);
        assert_eq!(error_message(long.as_bytes(), bad).len(), EXCERPT_CHARS + 3);
    }

    #[test]
    fn gemini_retry_info_is_a_hint() {
        let body = br#"{"error": {"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}"#;
        assert_eq!(retry_hint(body), Some(Duration::from_secs(7)));
        assert_eq!(retry_hint(b"{}"), None);
        assert_eq!(
            retry_hint(br#"{"error": {"details": [{"retryDelay": "soon"}]}}"#),
            None
        );
    }
}
