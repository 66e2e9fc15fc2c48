//! The OpenAI fine-tuning trainer against a fake of the Files and Fine-tuning API on a
//! loopback server of the tests' own: the upload, the training file, the job request,
//! the polling with its events, faults that are retried, jobs that fail or are
//! cancelled, and a killed run that resumes and finds its upload and job again.
#![cfg(feature = "openai")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    clippy::too_many_lines
)]

#[path = "support/finetune.rs"]
mod ft;
mod support;

use std::path::Path;
use std::sync::Mutex;

use ft::{FineTuning, Route, Script};
use next_core::error::chain;
use next_core::observe::Progress;
use next_core::prompt::{Message, Prompt, Role};
use next_core::registry::{self, Context};
use next_core::task::TaskId;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, TrainUpdate, Trainer};
use next_models::checkpoint::hosted_checkpoint;
use next_models::openai::finetune::{FineTuneError, OpenAiFineTuneConfig, OpenAiFineTuneTrainer};
use next_models::retry::RetryPolicy;
use serde_json::{json, Value};
use support::Reply;

const MODEL: &str = "ft:base-model:next:iter:abc123";

fn config(fake: &FineTuning, key_env: &str) -> OpenAiFineTuneConfig {
    let mut config = OpenAiFineTuneConfig::new("base-model");
    config.base_url = fake.base_url();
    config.api_key_env = key_env.into();
    config.poll_interval_secs = 0.01;
    config.timeout_secs = 5.0;
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay_secs: 0.01,
        max_delay_secs: 0.05,
        jitter: 0.0,
        max_retry_after_secs: 5.0,
    };
    config
}

fn trainer(config: OpenAiFineTuneConfig) -> OpenAiFineTuneTrainer {
    OpenAiFineTuneTrainer::new(config).unwrap()
}

fn examples() -> Vec<TrainExample> {
    (0..3)
        .map(|i| TrainExample {
            task: TaskId::new(format!("task-{i}")).unwrap(),
            sample: i,
            prompt: Prompt {
                messages: vec![
                    Message::new(Role::System, "You repair programs."),
                    Message::new(Role::User, "Fix f."),
                    Message::new(Role::Assistant, "A shown answer."),
                    Message::new(Role::User, format!("Fix task {i}.")),
                ],
            },
            completion: format!("Rationale {i}.\n```python\ndef f():\n    return {i}\n```\n"),
        })
        .collect()
}

/// Trains with state in `state` for `iteration`; also returns the status lines reported.
async fn train(
    trainer: &OpenAiFineTuneTrainer, out: &Path, state: &Path, iteration: u32,
) -> (Result<Checkpoint, TrainError>, Vec<String>) {
    let log = Mutex::new(Vec::new());
    let observer = |progress: &Progress<'_>| {
        if let Progress::Training {
            update: TrainUpdate::Status { message },
            ..
        } = progress
        {
            log.lock().unwrap().push(message.clone());
        }
    };
    let cx = TrainContext::for_iteration(out, state, iteration, &observer);
    let result = trainer.train(&Checkpoint::base(), &examples(), &cx).await;
    (result, log.into_inner().unwrap())
}

fn dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("iter-1/checkpoint");
    let state = root.path().join("iter-1/train-state");
    std::fs::create_dir_all(&out).unwrap();
    (root, out, state)
}

fn state_file(state: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(state.join("openai-ft.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn a_training_uploads_creates_polls_and_returns_the_tuned_model() {
    let key = "sk-test-ft-happy";
    support::set_key("NEXT_TEST_FT_KEY_HAPPY", key);
    let fake = FineTuning::start(key, Script::success()).await;
    let mut config = config(&fake, "NEXT_TEST_FT_KEY_HAPPY");
    config.suffix = Some("next".into());
    config.n_epochs = Some(2);
    config.learning_rate_multiplier = Some(0.5);
    config.seed = Some(7);
    let (_root, out, state) = dirs();

    let (result, log) = train(&trainer(config), &out, &state, 1).await;
    let checkpoint = result.unwrap();

    let mut expected = hosted_checkpoint("iter-1", MODEL);
    expected.data["job"] = json!("ftjob-1");
    assert_eq!(checkpoint, expected);

    // The upload: purpose and one chat example a line, each ending in its target.
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].part("purpose").content, b"fine-tune");
    let file = uploads[0].part("file");
    assert!(
        Path::new(file.filename.as_deref().unwrap())
            .extension()
            .is_some_and(|e| e == "jsonl"),
        "{file:?}"
    );
    let text = String::from_utf8(file.content.clone()).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(out.join("train.jsonl")).unwrap()
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (line, example) in lines.iter().zip(examples()) {
        let messages = line["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 5);
        let last = messages.last().unwrap();
        assert_eq!(
            last,
            &json!({"role": "assistant", "content": example.completion})
        );
        // The prompt's assistant turn is context, not a target.
        let targets = messages
            .iter()
            .filter(|m| m["role"] == "assistant" && m.get("weight") != Some(&json!(0)))
            .count();
        assert_eq!(targets, 1, "{line}");
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "You repair programs."})
        );
        assert_eq!(messages[3]["content"], example.prompt.messages[3].content);
    }

    // The job request.
    let jobs = fake.jobs();
    assert_eq!(jobs.len(), 1);
    let request = &jobs[0].request;
    assert_eq!(request["model"], "base-model");
    assert_eq!(request["training_file"], "file-1");
    assert_eq!(request["suffix"], "next");
    assert_eq!(request["seed"], 7);
    assert_eq!(
        request["method"],
        json!({"type": "supervised", "supervised": {"hyperparameters":
            {"n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": 0.5}}})
    );
    let idempotency = request["metadata"]["next_idempotency_key"]
        .as_str()
        .unwrap();
    assert!(idempotency.starts_with("next-ft-1-"), "{idempotency}");
    assert_eq!(request["metadata"]["next_iteration"], "1");

    // Polled until it succeeded, through every status.
    assert_eq!(jobs[0].looks, 5);
    for status in ["validating_files", "queued", "running", "succeeded"] {
        let line = format!("fine-tuning job ftjob-1 is {status}");
        assert_eq!(log.iter().filter(|l| **l == line).count(), 1, "{log:#?}");
    }
    // Every event once, oldest first.
    let events: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("fine-tuning job ftjob-1: "))
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .map(|l| l.trim_start_matches("fine-tuning job ftjob-1: "))
        .collect();
    assert_eq!(
        messages,
        [
            "Created fine-tuning job",
            "Validating training file",
            "Job queued",
            "Step 1/2: training loss=0.5",
            "Step 2/2: training loss=0.25",
            "The job has successfully completed",
        ],
        "{log:#?}"
    );

    // The key went as Bearer with every request.
    for request in fake.server.requests() {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer sk-test-ft-happy")
        );
    }
    let recorded = state_file(&state);
    assert_eq!(recorded["file_id"], "file-1");
    assert_eq!(recorded["job_id"], "ftjob-1");
    assert_eq!(recorded["key"], idempotency);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_without_a_second_job() {
    let key = "sk-test-ft-faults";
    support::set_key("NEXT_TEST_FT_KEY_FAULTS", key);
    let fake = FineTuning::start(key, Script::success()).await;
    let busy = Reply::json(429, &json!({"error": {"message": "Rate limit reached"}}))
        .header("Retry-After", "0");
    let broken = Reply::json(
        500,
        &json!({"error": {"message": "The server had an error"}}),
    );
    fake.fault(Route::Upload, 0, busy.clone());
    fake.fault(Route::Create, 0, broken.clone());
    fake.fault(Route::Get, 0, busy);
    fake.fault(Route::Get, 2, broken.clone());
    fake.fault(Route::Events, 1, broken);
    let (_root, out, state) = dirs();

    let (result, _) = train(
        &trainer(config(&fake, "NEXT_TEST_FT_KEY_FAULTS")),
        &out,
        &state,
        2,
    )
    .await;
    assert_eq!(result.unwrap().data["model"], MODEL);
    assert_eq!(fake.uploads().len(), 1);
    assert_eq!(fake.count(Route::Upload), 2);
    assert_eq!(fake.jobs().len(), 1);
    assert_eq!(fake.count(Route::Create), 2);
    // Before the creation was retried, the trainer looked for a job with its key.
    assert_eq!(fake.count(Route::List), 1);
    assert_eq!(fake.count(Route::Get), 7);
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_found_by_its_key() {
    let key = "sk-test-ft-lost";
    support::set_key("NEXT_TEST_FT_KEY_LOST", key);
    let fake = FineTuning::start(key, Script::success()).await;
    fake.lose_create_answer(
        0,
        Reply::json(502, &json!({"error": {"message": "Bad gateway"}})),
    );
    let (_root, out, state) = dirs();

    let (result, log) = train(
        &trainer(config(&fake, "NEXT_TEST_FT_KEY_LOST")),
        &out,
        &state,
        1,
    )
    .await;
    assert_eq!(result.unwrap().data["job"], "ftjob-1");
    assert_eq!(fake.jobs().len(), 1, "no second job");
    assert_eq!(fake.count(Route::Create), 1);
    let list = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.target.starts_with("/v1/fine_tuning/jobs?"))
        .unwrap();
    let target = ft::percent_decode(&list.target);
    assert!(
        target.contains(&format!(
            "metadata[next_idempotency_key]={}",
            state_file(&state)["key"].as_str().unwrap()
        )),
        "{target}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("created fine-tuning job ftjob-1")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn a_failed_job_is_a_job_error_with_the_servers_reason() {
    let key = "sk-test-ft-failed";
    support::set_key("NEXT_TEST_FT_KEY_FAILED", key);
    let reason = "The training file has 3 examples; at least 10 are required.";
    let fake = FineTuning::start(key, Script::failure(reason)).await;
    let (_root, out, state) = dirs();
    let trainer = trainer(config(&fake, "NEXT_TEST_FT_KEY_FAILED"));

    let (result, log) = train(&trainer, &out, &state, 1).await;
    match result {
        Err(TrainError::Job {
            job,
            status,
            reason: got,
        }) => {
            assert_eq!(job, "ftjob-1");
            assert_eq!(status, "failed");
            assert_eq!(got, reason);
        }
        other => panic!("expected a job error, got {other:?}"),
    }
    assert!(
        log.iter().any(|l| l.ends_with("The job failed")),
        "{log:#?}"
    );
    // The failed job is forgotten, the upload kept: a resumed run tries a new job.
    let recorded = state_file(&state);
    assert_eq!(recorded["job_id"], Value::Null);
    assert_eq!(recorded["file_id"], "file-1");
    let (result, _) = train(&trainer, &out, &state, 1).await;
    assert!(matches!(result, Err(TrainError::Job { job, .. }) if job == "ftjob-2"));
    assert_eq!(fake.uploads().len(), 1);
    assert_eq!(fake.jobs().len(), 2);
}

#[tokio::test]
async fn a_cancelled_job_is_a_job_error() {
    let key = "sk-test-ft-cancelled";
    support::set_key("NEXT_TEST_FT_KEY_CANCELLED", key);
    let script = Script {
        statuses: vec!["queued", "running", "cancelled"],
        error: None,
        model: None,
    };
    let fake = FineTuning::start(key, script).await;
    let (_root, out, state) = dirs();
    let (result, _) = train(
        &trainer(config(&fake, "NEXT_TEST_FT_KEY_CANCELLED")),
        &out,
        &state,
        1,
    )
    .await;
    match result {
        Err(TrainError::Job {
            job,
            status,
            reason,
        }) => {
            assert_eq!(job, "ftjob-1");
            assert_eq!(status, "cancelled");
            assert!(reason.contains("cancelled"), "{reason}");
        }
        other => panic!("expected a job error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_success_without_a_model_is_an_error() {
    let key = "sk-test-ft-nomodel";
    support::set_key("NEXT_TEST_FT_KEY_NOMODEL", key);
    let script = Script {
        model: None,
        ..Script::success()
    };
    let fake = FineTuning::start(key, script).await;
    let (_root, out, state) = dirs();
    let (result, _) = train(
        &trainer(config(&fake, "NEXT_TEST_FT_KEY_NOMODEL")),
        &out,
        &state,
        1,
    )
    .await;
    let err = result.unwrap_err();
    let TrainError::Backend(source) = &err else {
        panic!("expected a backend error, got {err:?}");
    };
    assert!(
        matches!(source.downcast_ref::<FineTuneError>(), Some(FineTuneError::NoModel { job }) if job == "ftjob-1"),
        "{}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_resumed_training_waits_for_its_job_instead_of_starting_another() {
    let key = "sk-test-ft-resume";
    support::set_key("NEXT_TEST_FT_KEY_RESUME", key);
    let fake = FineTuning::start(key, Script::success()).await;
    let (_root, out, state) = dirs();

    // The first run gives up while the job runs (as a killed run would stop).
    let mut impatient = config(&fake, "NEXT_TEST_FT_KEY_RESUME");
    impatient.max_wait_secs = Some(0.0);
    let (result, _) = train(&trainer(impatient), &out, &state, 3).await;
    let err = result.unwrap_err();
    assert!(
        chain(&err).contains("did not end within max_wait_secs"),
        "{}",
        chain(&err)
    );
    assert_eq!(fake.jobs()[0].looks, 1);

    // The resumed run (a fresh checkpoint directory, the same state) only waits.
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let trainer = trainer(config(&fake, "NEXT_TEST_FT_KEY_RESUME"));
    let (result, log) = train(&trainer, &out, &state, 3).await;
    let first = result.unwrap();
    assert_eq!(first.data["model"], MODEL);
    assert_eq!(fake.count(Route::Upload), 1);
    assert_eq!(fake.count(Route::Create), 1);
    assert!(
        log.iter()
            .any(|l| l == "waiting for fine-tuning job ftjob-1"),
        "{log:#?}"
    );

    // Once more after it succeeded: the same model, still one upload and one job.
    let (result, _) = train(&trainer, &out, &state, 3).await;
    assert_eq!(result.unwrap(), first);
    assert_eq!(fake.count(Route::Upload), 1);
    assert_eq!(fake.count(Route::Create), 1);
    assert_eq!(fake.count(Route::List), 0);
}

#[tokio::test]
async fn a_state_with_a_key_but_no_job_finds_the_job_by_its_metadata() {
    let key = "sk-test-ft-metadata";
    support::set_key("NEXT_TEST_FT_KEY_METADATA", key);
    let fake = FineTuning::start(key, Script::success()).await;
    let (_root, out, state) = dirs();
    let trainer = trainer(config(&fake, "NEXT_TEST_FT_KEY_METADATA"));
    let (result, _) = train(&trainer, &out, &state, 1).await;
    let first = result.unwrap();

    // As if the run was killed between the creation of the job and the state's update.
    let mut recorded = state_file(&state);
    recorded["job_id"] = Value::Null;
    std::fs::write(state.join("openai-ft.json"), recorded.to_string()).unwrap();

    let (result, log) = train(&trainer, &out, &state, 1).await;
    assert_eq!(result.unwrap(), first);
    assert_eq!(fake.count(Route::List), 1);
    assert_eq!(fake.count(Route::Upload), 1);
    assert_eq!(fake.count(Route::Create), 1);
    assert!(
        log.iter()
            .any(|l| l == "found fine-tuning job ftjob-1 by its key"),
        "{log:#?}"
    );
    assert_eq!(state_file(&state)["job_id"], "ftjob-1");

    // A state left by other examples (another iteration's key) is set aside.
    let (result, _) = train(&trainer, &out, &state, 2).await;
    assert_eq!(result.unwrap().data["job"], "ftjob-2");
    assert_eq!(fake.count(Route::Upload), 2);
}

#[tokio::test]
async fn the_key_is_in_no_error_message() {
    let key = "sk-test-ft-secret-0123456789";
    support::set_key("NEXT_TEST_FT_KEY_SECRET", key);
    // The fake wants another key: every request is refused with 401.
    let fake = FineTuning::start("sk-the-right-one", Script::success()).await;
    let (_root, out, state) = dirs();
    let trainer = trainer(config(&fake, "NEXT_TEST_FT_KEY_SECRET"));
    let (result, _) = train(&trainer, &out, &state, 1).await;
    let err = result.unwrap_err();
    let text = format!("{} {err:?} {trainer:?}", chain(&err));
    assert!(
        text.contains("401") && text.contains("Incorrect API key"),
        "{text}"
    );
    assert!(!text.contains(key), "{text}");
    assert_eq!(fake.count(Route::Upload), 1, "a 401 is not retried");
    assert_eq!(
        fake.server.requests()[0].header("authorization"),
        Some("Bearer sk-test-ft-secret-0123456789")
    );

    // Without a key, the message says which variable was unset.
    let (result, _) = train(
        &self::trainer(config(&fake, "NEXT_TEST_FT_KEY_NEVER_SET")),
        &out,
        &state,
        1,
    )
    .await;
    let text = chain(&result.unwrap_err());
    assert!(text.contains("NEXT_TEST_FT_KEY_NEVER_SET"), "{text}");
}

#[tokio::test]
async fn a_checkpoint_of_another_backend_is_refused_and_a_tuned_one_is_tuned_further() {
    let key = "sk-test-ft-base";
    support::set_key("NEXT_TEST_FT_KEY_BASE", key);
    let fake = FineTuning::start(key, Script::success()).await;
    let (_root, out, state) = dirs();
    let trainer = trainer(config(&fake, "NEXT_TEST_FT_KEY_BASE"));
    let cx = TrainContext::new(&out).with_state(&state);

    let adapter = Checkpoint {
        name: "iter-1".into(),
        data: json!({"adapter": "/tmp/a"}),
    };
    let err = trainer.train(&adapter, &examples(), &cx).await.unwrap_err();
    assert!(
        matches!(&err, TrainError::Checkpoint { name, .. } if name == "iter-1"),
        "{err:?}"
    );
    assert_eq!(fake.server.count(), 0);

    let err = trainer
        .train(&Checkpoint::base(), &[], &cx)
        .await
        .unwrap_err();
    assert!(chain(&err).contains("no examples"), "{}", chain(&err));

    let tuned = hosted_checkpoint("iter-1", "ft:base-model:next:iter:first");
    let checkpoint = trainer.train(&tuned, &examples(), &cx).await.unwrap();
    assert_eq!(
        fake.jobs()[0].request["model"],
        "ft:base-model:next:iter:first"
    );
    assert_eq!(checkpoint.name, "iter-0");
}

#[test]
fn the_factory_builds_from_options_and_names_a_misspelled_one() {
    let options: toml::Table = toml::from_str(
        r#"
        model = "base-model"
        base_url = "http://127.0.0.1:9/v1"
        api_key_env = "NEXT_TEST_FT_KEY_FACTORY"
        suffix = "next"
        n_epochs = 3
        poll_interval_secs = 0.5

        [retry]
        max_attempts = 2
        "#,
    )
    .unwrap();
    assert!(registry::trainer("openai-ft", &options, &Context::new()).is_ok());

    let config: OpenAiFineTuneConfig = options.clone().try_into().unwrap();
    assert_eq!(config.poll_interval_secs, 0.5);
    assert_eq!(config.timeout_secs, 120.0);
    assert_eq!(config.batch_size, None);

    let mut misspelled = options.clone();
    misspelled.insert("n_epoch".into(), 3.into());
    let err = registry::trainer("openai-ft", &misspelled, &Context::new())
        .err()
        .unwrap();
    assert!(err.to_string().contains("n_epoch"), "{err}");

    for (key, value, needle) in [
        ("n_epochs", toml::Value::Integer(0), "n_epochs"),
        ("suffix", toml::Value::String("x".repeat(65)), "suffix"),
        (
            "learning_rate_multiplier",
            toml::Value::Float(-1.0),
            "learning_rate_multiplier",
        ),
        ("seed", toml::Value::Integer(1 << 31), "seed"),
        (
            "poll_interval_secs",
            toml::Value::Float(-1.0),
            "poll_interval_secs",
        ),
        ("model", toml::Value::String(" ".into()), "model"),
    ] {
        let mut bad = options.clone();
        bad.insert(key.into(), value);
        let err = registry::trainer("openai-ft", &bad, &Context::new())
            .err()
            .unwrap();
        assert!(chain(&err).contains(needle), "{key}: {}", chain(&err));
    }
}
