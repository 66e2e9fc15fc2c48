//! The OpenAI fine-tuning trainer (feature `openai`, factory `openai-ft`).
//!
//! A training follows OpenAI's Files and Fine-tuning API:
//!
//! 1. the examples are written as a chat JSONL file, one example a line: the prompt's
//!    messages, then `{"role": "assistant", "content": <completion>}`, the one target of
//!    the line (an assistant turn of the prompt, a few-shot answer, has `weight: 0`);
//!    a copy goes to `cx.out()/train.jsonl`;
//! 2. the file is uploaded (`POST {base_url}/files`, multipart, `purpose=fine-tune`);
//! 3. a job is created (`POST {base_url}/fine_tuning/jobs` with `model`,
//!    `training_file`, `suffix`, `seed`, the supervised `method` with its
//!    hyper-parameters, `"auto"` for those not configured, and `metadata` holding the
//!    training's idempotency key);
//! 4. the job is looked at every `poll_interval_secs` (`GET
//!    {base_url}/fine_tuning/jobs/{id}`) until it ends: each change of status and each
//!    new event (`GET {base_url}/fine_tuning/jobs/{id}/events`) is reported once as a
//!    [`TrainUpdate::Status`]; `succeeded` gives
//!    [`hosted_checkpoint`]`("iter-N", fine_tuned_model)` with the job id beside the
//!    model (`{"model": ..., "job": ...}`), which the [`OpenAiSampler`](super::OpenAiSampler)
//!    samples from; `failed` and `cancelled` are [`TrainError::Job`] with the server's
//!    reason.
//!
//! Every request goes through the shared plumbing: a timeout each, retries by the
//! [`RetryPolicy`](crate::retry::RetryPolicy) on 408, 429, 5xx, connection errors and
//! timeouts, honouring `Retry-After`.
//!
//! # Resuming
//!
//! A killed run that resumes must not pay for a second job. The trainer keeps a state
//! file, `openai-ft.json`, in `cx.state_or_out()` (the loop's `iter-N/train-state/`),
//! replaced atomically before and after each request that creates something. It holds:
//!
//! - the training's idempotency key, `next-ft-<iteration>-<hash>`, where the hash is
//!   taken over the training file and the tuned model (a state with another key, from
//!   other examples, is set aside);
//! - the uploaded file's id, once the upload answered: a resumed training does not upload
//!   again;
//! - the job's id, once its creation answered: a resumed training only waits for it.
//!
//! The key is also in the job's `metadata` (`next_idempotency_key`). A run killed after
//! the job was created but before its id was written finds the job by listing the jobs
//! with that metadata (`GET {base_url}/fine_tuning/jobs?metadata[next_idempotency_key]=...`),
//! and so does a creation whose answer was lost (a timeout, a 5xx) before it is retried.
//! A run killed during the upload uploads again (the first file stays unused). A job that
//! failed or was cancelled is forgotten, so that a resumed run tries a new one (with the
//! same upload).
//!
//! ```
//! use next_core::train::Trainer;
//! use next_models::openai::finetune::{OpenAiFineTuneConfig, OpenAiFineTuneTrainer};
//!
//! let mut config = OpenAiFineTuneConfig::new("gpt-4o-mini-2024-07-18");
//! config.base_url = "http://127.0.0.1:8080/v1".into();
//! config.api_key_env = "NEXT_DOC_NO_SUCH_KEY".into(); // unset: no key is sent
//! config.n_epochs = Some(2);
//! let trainer: Box<dyn Trainer> = Box::new(OpenAiFineTuneTrainer::new(config)?);
//! # Ok::<(), next_models::error::ModelError>(())
//! ```

mod config;
mod state;
mod wire;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use next_core::error::chain;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, TrainUpdate, Trainer};

pub use self::config::OpenAiFineTuneConfig;
use self::state::State;
use crate::checkpoint::{hosted_checkpoint, hosted_model};
use crate::error::ModelError;
use crate::http::{self, Api, Settings};
use crate::retry;

/// The name of the factory, and of the backend in messages.
const NAME: &str = "openai-ft";

/// The metadata key of a job that holds the training's idempotency key.
pub const KEY_METADATA: &str = "next_idempotency_key";

/// The metadata key of a job that holds the loop's iteration.
const ITERATION_METADATA: &str = "next_iteration";

/// The key of the checkpoint's data, beside `model`, that holds the job's id.
pub const JOB_KEY: &str = "job";

/// The name of the copy of the training file in `cx.out()`.
const TRAINING_FILE: &str = "train.jsonl";

/// Most jobs asked for when looking for a job by its key.
const LIST_LIMIT: &str = "100";

/// Most events asked for in one page, and most pages read in one look.
const EVENTS_LIMIT: &str = "100";
const EVENT_PAGES: usize = 5;

/// Most requests in flight at once (the trainer sends one at a time).
const MAX_CONCURRENCY: usize = 4;

/// Why a fine-tuning went wrong, beside the failures of the API itself; carried by
/// [`TrainError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FineTuneError {
    /// A request failed: refused, unavailable once the retries were spent, or answered
    /// with something that is not the documented JSON.
    #[error("the fine-tuning API failed")]
    Api(#[from] ModelError),
    /// There was nothing to train on.
    #[error("there are no examples to train on")]
    NoExamples,
    /// The examples could not be written as JSON.
    #[error("cannot write the training file")]
    Encode(#[source] serde_json::Error),
    /// The job succeeded but named no tuned model.
    #[error("the fine-tuning job {job} succeeded but names no fine_tuned_model")]
    NoModel {
        /// The job's id.
        job: String,
    },
    /// The job did not end within `max_wait_secs`. It goes on: a resumed run waits for
    /// it again.
    #[error(
        "the fine-tuning job {job} did not end within max_wait_secs = {max_wait_secs}; \
         it goes on, and a resumed run waits for it again"
    )]
    TimedOut {
        /// The job's id.
        job: String,
        /// The configured limit.
        max_wait_secs: f64,
    },
    /// The state file cannot be used.
    #[error("the trainer's state file {path} cannot be used ({reason}); delete it to start anew")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn backend(err: impl Into<FineTuneError>) -> TrainError {
    TrainError::Backend(Box::new(err.into()))
}

/// A [`Trainer`] that fine-tunes a hosted model with OpenAI's fine-tuning API; see the
/// [module documentation](self).
#[derive(Debug)]
pub struct OpenAiFineTuneTrainer {
    api: Api,
    base_url: String,
    poll_interval: Duration,
    max_wait: Option<Duration>,
    config: OpenAiFineTuneConfig,
}

impl OpenAiFineTuneTrainer {
    /// Builds the trainer from its configuration, reading the API key from the
    /// environment variable `config.api_key_env`. No request is sent.
    ///
    /// # Errors
    /// [`ModelError::Config`] for an option out of range: an empty model, a suffix longer
    /// than 64 characters, a hyper-parameter or seed out of range, a wait that is not a
    /// non-negative number of seconds, a base URL that is not `http` or `https`, a
    /// timeout that is not positive, a retry policy out of range, a malformed header.
    pub fn new(config: OpenAiFineTuneConfig) -> Result<Self, ModelError> {
        config.validate()?;
        let base_url = http::check_base_url(&config.base_url)?.to_owned();
        let api = Api::new(super::bearer(
            Settings::new(
                NAME,
                config.timeout_secs,
                MAX_CONCURRENCY,
                &config.retry,
                &config.headers,
            ),
            &config.api_key_env,
        ))?;
        let poll_interval = retry::seconds(config.poll_interval_secs).unwrap_or_default();
        let max_wait = config.max_wait_secs.and_then(retry::seconds);
        Ok(Self {
            api,
            base_url,
            poll_interval,
            max_wait,
            config,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &OpenAiFineTuneConfig {
        &self.config
    }

    /// `{base_url}/{segments...}?{query}`, each segment escaped.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<String, ModelError> {
        let mut url = reqwest::Url::parse(&self.base_url)
            .map_err(|err| ModelError::Config(format!("base_url: {err}")))?;
        url.path_segments_mut()
            .map_err(|()| ModelError::Config("base_url cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url.into())
    }

    async fn run(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        let model = hosted_model(base, &self.config.model).map_err(|err| match err {
            ModelError::Checkpoint { name, reason } => TrainError::Checkpoint { name, reason },
            other => backend(other),
        })?;
        if examples.is_empty() {
            return Err(backend(FineTuneError::NoExamples));
        }
        let content = wire::jsonl(examples).map_err(|err| backend(FineTuneError::Encode(err)))?;
        create_dir(cx.out())?;
        let copy = cx.out().join(TRAINING_FILE);
        std::fs::write(&copy, &content).map_err(|source| TrainError::Io {
            context: format!("writing {}", copy.display()),
            source,
        })?;
        let dir = cx.state_or_out();
        create_dir(&dir)?;

        let key = state::key(&content, model, cx.iteration());
        let (mut state, recorded) = match state::load(&dir)? {
            Some(state) if state.key == key => (state, true),
            Some(_) => {
                report(
                    cx,
                    "the recorded fine-tuning is of other examples: starting a new one",
                );
                (State::new(key.clone()), false)
            }
            None => (State::new(key.clone()), false),
        };

        if state.job_id.is_none() && recorded {
            if let Some(job) = self.find_job(&key).await.map_err(backend)? {
                report(cx, &format!("found fine-tuning job {} by its key", job.id));
                state.job_id = Some(job.id);
                state::save(&dir, &state)?;
            }
        }
        let job_id = if let Some(job) = state.job_id.clone() {
            report(cx, &format!("waiting for fine-tuning job {job}"));
            job
        } else {
            self.start(model, &content, examples.len(), &dir, &mut state, cx)
                .await?
        };

        let job = match self.wait(&job_id, cx).await {
            Ok(job) => job,
            Err(err) => {
                if matches!(err, TrainError::Job { .. }) {
                    // A resumed run tries a new job rather than failing on this one.
                    state.job_id = None;
                    state::save(&dir, &state)?;
                }
                return Err(err);
            }
        };
        let Some(tuned) = job
            .fine_tuned_model
            .filter(|model| !model.trim().is_empty())
        else {
            return Err(backend(FineTuneError::NoModel { job: job.id }));
        };
        report(cx, &format!("fine-tuning job {} made {tuned}", job.id));
        let mut checkpoint = hosted_checkpoint(format!("iter-{}", cx.iteration()), tuned);
        if let serde_json::Value::Object(data) = &mut checkpoint.data {
            data.insert(JOB_KEY.into(), serde_json::Value::String(job.id));
        }
        Ok(checkpoint)
    }

    /// Uploads the training file, unless `state` records its upload, and creates the
    /// job, recording each in `state` (in `dir`) before and after; returns the job's id.
    async fn start(
        &self, model: &str, content: &[u8], examples: usize, dir: &Path, state: &mut State,
        cx: &TrainContext<'_>,
    ) -> Result<String, TrainError> {
        let file = if let Some(file) = state.file_id.clone() {
            report(cx, &format!("reusing uploaded training file {file}"));
            file
        } else {
            state::save(dir, state)?;
            let file = self.upload(content, &state.key).await.map_err(backend)?;
            state.file_id = Some(file.clone());
            state::save(dir, state)?;
            report(
                cx,
                &format!(
                    "uploaded {examples} examples ({} bytes) as {file}",
                    content.len()
                ),
            );
            file
        };
        state::save(dir, state)?;
        let job = self
            .create_job(model, &file, &state.key, cx.iteration())
            .await
            .map_err(backend)?;
        state.job_id = Some(job.id.clone());
        state::save(dir, state)?;
        report(
            cx,
            &format!("created fine-tuning job {} of {model}", job.id),
        );
        Ok(job.id)
    }

    /// Uploads the training file; returns its id.
    async fn upload(&self, content: &[u8], key: &str) -> Result<String, ModelError> {
        let (body, content_type) = wire::multipart("fine-tune", &format!("{key}.jsonl"), content);
        let file: wire::FileObject = self
            .api
            .post_bytes(
                &self.url(&["files"], &[])?,
                &body,
                &content_type,
                "a file object",
            )
            .await?;
        Ok(file.id)
    }

    /// Creates the job; a creation whose answer was lost is found by its key before it
    /// is retried.
    async fn create_job(
        &self, model: &str, file: &str, key: &str, iteration: u32,
    ) -> Result<wire::Job, ModelError> {
        let request = wire::CreateJob {
            model,
            training_file: file,
            suffix: self.config.suffix.as_deref(),
            seed: self.config.seed,
            method: wire::Method {
                kind: "supervised",
                supervised: wire::Supervised {
                    hyperparameters: wire::Hyperparameters {
                        n_epochs: wire::Auto(self.config.n_epochs),
                        batch_size: wire::Auto(self.config.batch_size),
                        learning_rate_multiplier: wire::Auto(self.config.learning_rate_multiplier),
                    },
                },
            },
            metadata: BTreeMap::from([
                (KEY_METADATA, key.to_owned()),
                (ITERATION_METADATA, iteration.to_string()),
            ]),
        };
        let url = self.url(&["fine_tuning", "jobs"], &[])?;
        self.api
            .post_json_recovering(&url, &request, "a fine-tuning job", || async {
                self.find_job(key).await.ok().flatten()
            })
            .await
    }

    /// The newest job carrying `key` in its metadata that has not failed or been
    /// cancelled.
    async fn find_job(&self, key: &str) -> Result<Option<wire::Job>, ModelError> {
        let filter = format!("metadata[{KEY_METADATA}]");
        let url = self.url(
            &["fine_tuning", "jobs"],
            &[(filter.as_str(), key), ("limit", LIST_LIMIT)],
        )?;
        let jobs: wire::List<wire::Job> = self
            .api
            .get_json(&url, "a list of fine-tuning jobs")
            .await?;
        // The server filters; the trainer checks, in case a server ignores the filter.
        Ok(jobs
            .data
            .into_iter()
            .enumerate()
            .filter(|(_, job)| job.metadata(KEY_METADATA) == Some(key) && !job.ended_badly())
            .max_by_key(|(i, job)| (job.created_at, std::cmp::Reverse(*i)))
            .map(|(_, job)| job))
    }

    /// Looks at the job until it ends, reporting its changes and events.
    async fn wait(&self, id: &str, cx: &TrainContext<'_>) -> Result<wire::Job, TrainError> {
        let url = self
            .url(&["fine_tuning", "jobs", id], &[])
            .map_err(backend)?;
        let started = Instant::now();
        let mut events = Events::default();
        let mut status: Option<String> = None;
        loop {
            let job: wire::Job = self
                .api
                .get_json(&url, "a fine-tuning job")
                .await
                .map_err(backend)?;
            if status.as_deref() != Some(job.status.as_str()) {
                report(cx, &format!("fine-tuning job {id} is {}", job.status));
                status = Some(job.status.clone());
            }
            self.report_events(id, &mut events, cx).await;
            match job.status.as_str() {
                "succeeded" => return Ok(job),
                "failed" | "cancelled" => {
                    return Err(TrainError::Job {
                        job: job.id.clone(),
                        reason: job
                            .reason()
                            .unwrap_or_else(|| format!("the job was {}", job.status)),
                        status: job.status,
                    })
                }
                _ => {}
            }
            if let Some(max) = self.max_wait {
                if started.elapsed() >= max {
                    return Err(backend(FineTuneError::TimedOut {
                        job: id.to_owned(),
                        max_wait_secs: max.as_secs_f64(),
                    }));
                }
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// Reports the job's events not reported yet, oldest first. Events are a courtesy:
    /// a failure to read them is reported once and does not stop the training.
    async fn report_events(&self, id: &str, events: &mut Events, cx: &TrainContext<'_>) {
        let mut fresh: Vec<wire::Event> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..EVENT_PAGES {
            let mut query = vec![("limit", EVENTS_LIMIT)];
            if let Some(after) = &after {
                query.push(("after", after.as_str()));
            }
            let page: Result<wire::List<wire::Event>, ModelError> =
                match self.url(&["fine_tuning", "jobs", id, "events"], &query) {
                    Ok(url) => {
                        self.api
                            .get_json(&url, "a list of fine-tuning events")
                            .await
                    }
                    Err(err) => Err(err),
                };
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    if !events.failed {
                        events.failed = true;
                        report(
                            cx,
                            &format!("cannot read the events of job {id}: {}", chain(&err)),
                        );
                    }
                    break;
                }
            };
            let before = fresh.len();
            let mut reached_seen = false;
            for event in page.data {
                if events.seen.contains(&event.id) {
                    reached_seen = true;
                } else {
                    fresh.push(event);
                }
            }
            if reached_seen || !page.has_more || fresh.len() == before {
                break;
            }
            after = fresh.last().map(|event| event.id.clone());
        }
        // OpenAI lists events newest first: report them oldest first.
        let ascending = matches!(
            (fresh.first(), fresh.last()),
            (Some(first), Some(last)) if first.created_at < last.created_at
        );
        if !ascending {
            fresh.reverse();
        }
        fresh.sort_by_key(|event| event.created_at);
        for event in fresh {
            if events.seen.insert(event.id.clone()) {
                let level = match event.level.as_deref() {
                    Some(level @ ("warn" | "error")) => format!(" [{level}]"),
                    _ => String::new(),
                };
                report(
                    cx,
                    &format!("fine-tuning job {id}{level}: {}", event.message),
                );
            }
        }
    }
}

/// The events of a job reported so far.
#[derive(Default)]
struct Events {
    seen: HashSet<String>,
    /// Whether a failure to read them was reported.
    failed: bool,
}

fn report(cx: &TrainContext<'_>, message: &str) {
    cx.report(&TrainUpdate::Status {
        message: message.to_owned(),
    });
}

fn create_dir(dir: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
        context: format!("creating {}", dir.display()),
        source,
    })
}

#[async_trait]
impl Trainer for OpenAiFineTuneTrainer {
    /// Tunes `base` (the configured model, or the hosted model of a tuned checkpoint) on
    /// `examples`; see the [module documentation](self).
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        self.run(base, examples, cx).await
    }
}

next_core::register_configured!(
    trainer,
    NAME,
    "OpenAI's fine-tuning API: uploads the examples, runs a job, returns the tuned model",
    OpenAiFineTuneTrainer::new,
    options = OpenAiFineTuneConfig::OPTIONS,
);
