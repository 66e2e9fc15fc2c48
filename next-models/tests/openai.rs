//! The OpenAI-compatible sampler against a loopback server of the tests' own: the shape
//! of its requests, and how it meets faults (429 with Retry-After, 5xx, dropped
//! connections, truncated and malformed bodies, slow answers, client errors), its
//! concurrency bound, and servers that return fewer choices than asked.
#![cfg(feature = "openai")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]

mod support;

use std::time::{Duration, Instant};

use next_core::error::chain;
use next_core::prompt::{self, Message, Prompt, Role};
use next_core::registry::{self, Context};
use next_core::sample::{RationaleSampler, SampleError, SamplingParams};
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use next_core::train::Checkpoint;
use next_models::checkpoint::hosted_checkpoint;
use next_models::openai::{OpenAiConfig, OpenAiSampler};
use next_models::retry::RetryPolicy;
use serde_json::{json, Value};
use support::{Reply, Server};

const ANSWER: &str =
    "The loop stops one step early.\n\nHere is a fixed version:\n```python\ndef f(x):\n    return x + 1\n```\n";

/// A configuration for the server, with fast retries, reading the key from `key_env`.
fn config(server: &Server, key_env: &str) -> OpenAiConfig {
    let mut config = OpenAiConfig::new("test-model");
    config.base_url = format!("{}/v1/", server.base_url());
    config.api_key_env = key_env.into();
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

fn sampler(config: OpenAiConfig) -> OpenAiSampler {
    OpenAiSampler::new(config).unwrap()
}

/// A chat completion with one choice per text (`None`: a filtered choice).
fn completion(texts: &[Option<&str>]) -> Value {
    let choices: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| match text {
            Some(text) => json!({
                "index": i,
                "message": {"role": "assistant", "content": text},
                "logprobs": null,
                "finish_reason": "stop"
            }),
            None => json!({
                "index": i,
                "message": {"role": "assistant", "content": null, "refusal": null},
                "finish_reason": "content_filter"
            }),
        })
        .collect();
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": choices,
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    })
}

fn ok(n: usize) -> Reply {
    Reply::json(200, &completion(&vec![Some(ANSWER); n]))
}

/// A prompt with every role.
fn chat() -> Prompt {
    Prompt {
        messages: vec![
            Message::new(Role::System, "You repair programs."),
            Message::new(Role::User, "Fix f."),
            Message::new(Role::Assistant, "```python\nf = 1\n```"),
            Message::new(Role::User, "Fix g."),
        ],
    }
}

fn params() -> SamplingParams {
    SamplingParams {
        temperature: 0.7,
        top_p: 0.9,
        max_tokens: 256,
        seed: Some(42),
        stop: vec!["</answer>".into()],
    }
}

async fn sample(
    sampler: &OpenAiSampler, n: usize,
) -> Result<Vec<next_core::sample::Sample>, SampleError> {
    sampler
        .sample(&Checkpoint::base(), &chat(), n, &params())
        .await
}

#[tokio::test]
async fn the_request_carries_the_prompt_the_parameters_and_the_key() {
    let server = Server::start(|_, _| ok(2)).await;
    support::set_key("NEXT_TEST_OPENAI_KEY_SHAPE", "sk-test-shape");
    let mut config = config(&server, "NEXT_TEST_OPENAI_KEY_SHAPE");
    config
        .headers
        .insert("OpenAI-Organization".into(), "org-test".into());
    let samples = sample(&sampler(config), 2).await.unwrap();

    assert_eq!(samples.len(), 2);
    for s in &samples {
        assert_eq!(s.raw, ANSWER);
        assert_eq!(s.fix().unwrap().source(), "def f(x):\n    return x + 1\n");
        assert!(s.rationale().unwrap().starts_with("The loop stops"));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/chat/completions");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-test-shape")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("openai-organization"), Some("org-test"));
    assert_eq!(
        request.json(),
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "You repair programs."},
                {"role": "user", "content": "Fix f."},
                {"role": "assistant", "content": "```python\nf = 1\n```"},
                {"role": "user", "content": "Fix g."}
            ],
            "n": 2,
            "temperature": 0.7,
            "top_p": 0.9,
            "max_tokens": 256,
            "seed": 42,
            "stop": ["</answer>"]
        })
    );
}

#[tokio::test]
async fn a_repair_prompt_goes_out_as_built_by_next_core() {
    let server = Server::start(|_, _| ok(1)).await;
    let task = RepairTask::new(
        TaskId::new("t/1").unwrap(),
        "Return x plus one.",
        Program::new("def f(x):\n    return x\n"),
        vec![TestCase::new("assert f(1) == 2").unwrap()],
        "f",
    )
    .unwrap();
    let repair = prompt::repair(&task, None, &[]);
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_UNSET_REPAIR"));
    let params = SamplingParams {
        seed: None,
        ..SamplingParams::default()
    };
    let samples = sampler
        .sample(&Checkpoint::base(), &repair, 1, &params)
        .await
        .unwrap();
    assert_eq!(samples.len(), 1);
    let body = server.requests()[0].json();
    assert_eq!(body["messages"][0]["content"], prompt::SYSTEM);
    assert_eq!(body["messages"][1]["content"], repair.messages[1].content);
    // No seed, no stop: left out rather than sent empty.
    assert!(
        body.get("seed").is_none() && body.get("stop").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn without_a_key_none_is_sent_and_a_401_says_why() {
    let server = Server::start(|_, _| {
        Reply::json(
            401,
            &json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}),
        )
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_NEVER_SET"));
    let err = sample(&sampler, 1).await.unwrap_err();
    let SampleError::Rejected(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("Incorrect API key provided."), "{message}");
    assert!(
        message.contains("NEXT_TEST_OPENAI_KEY_NEVER_SET"),
        "{message}"
    );
    assert_eq!(server.count(), 1, "a 401 is not retried");
    assert_eq!(server.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::json(
                429,
                &json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
            )
            .header("Retry-After", "1")
        } else {
            ok(1)
        }
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_429"));
    let samples = sample(&sampler, 1).await.unwrap();
    assert_eq!(samples.len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    // The backoff alone would be 10 ms; the server asked for a second.
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_gives_up_at_once() {
    let server = Server::start(|_, _| {
        Reply::json(429, &json!({"error": {"message": "slow down"}})).header("Retry-After", "3600")
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_429_LONG"));
    let started = Instant::now();
    let err = sample(&sampler, 1).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let SampleError::Unavailable(message) = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("3600") && message.contains("slow down"),
        "{message}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_500_then_success() {
    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::json(500, &json!({"error": {"message": "internal error"}}))
        } else {
            ok(1)
        }
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_500"));
    assert_eq!(sample(&sampler, 1).await.unwrap().len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_dropped_connection_then_success() {
    let server = Server::start(|i, _| if i == 0 { Reply::Drop } else { ok(1) }).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_DROP"));
    assert_eq!(sample(&sampler, 1).await.unwrap().len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_body_cut_short_by_the_connection_is_retried() {
    let server = Server::start(|i, _| {
        if i == 0 {
            // Promises 500 bytes, sends 30 of JSON, hangs up.
            Reply::Raw(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"choices\": [{\"message\": {\"co"
                    .to_vec(),
            )
        } else {
            ok(1)
        }
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_CUT"));
    assert_eq!(sample(&sampler, 1).await.unwrap().len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_complete_but_truncated_json_body_is_a_backend_error_not_retried() {
    let server = Server::start(|_, _| Reply::text(200, r#"{"choices": [{"message": {"con"#)).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_TRUNC"));
    let err = sample(&sampler, 1).await.unwrap_err();
    assert!(matches!(err, SampleError::Backend(_)), "{err:?}");
    let text = chain(&err);
    assert!(
        text.contains("not a chat completion") && text.contains("EOF while parsing"),
        "{text}"
    );
    assert_eq!(server.count(), 1, "a malformed success is not retried");
}

#[tokio::test]
async fn json_of_the_wrong_shape_names_the_missing_field() {
    let server =
        Server::start(|_, _| Reply::json(200, &json!({"object": "chat.completion"}))).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_SHAPELESS"));
    let err = sample(&sampler, 1).await.unwrap_err();
    let text = chain(&err);
    assert!(text.contains("missing field `choices`"), "{text}");
}

#[tokio::test]
async fn slow_answers_time_out_are_retried_then_unavailable() {
    let server = Server::start(|_, _| ok(1).delayed(Duration::from_secs(3))).await;
    let mut config = config(&server, "NEXT_TEST_OPENAI_KEY_SLOW");
    config.timeout_secs = 0.2;
    config.retry.max_attempts = 2;
    let sampler = sampler(config);
    let started = Instant::now();
    let err = sample(&sampler, 1).await.unwrap_err();
    let elapsed = started.elapsed();
    let SampleError::Unavailable(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("timeout_secs = 0.2"), "{message}");
    assert!(message.contains("2 attempt"), "{message}");
    assert_eq!(server.count(), 2);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn a_slow_answer_then_a_fast_one() {
    let server = Server::start(|i, _| {
        if i == 0 {
            ok(1).delayed(Duration::from_secs(3))
        } else {
            ok(1)
        }
    })
    .await;
    let mut config = config(&server, "NEXT_TEST_OPENAI_KEY_SLOW_FAST");
    config.timeout_secs = 0.3;
    assert_eq!(sample(&sampler(config), 1).await.unwrap().len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_400_is_rejected_with_the_message_of_its_body() {
    let server = Server::start(|_, _| {
        Reply::json(
            400,
            &json!({"error": {
                "message": "This model's maximum context length is 2048 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded"
            }}),
        )
    })
    .await;
    support::set_key("NEXT_TEST_OPENAI_KEY_400", "sk-secret-400");
    let mut config = config(&server, "NEXT_TEST_OPENAI_KEY_400");
    config
        .headers
        .insert("X-Gateway-Secret".into(), "hdr-secret-400".into());
    let sampler = sampler(config);
    let err = sample(&sampler, 1).await.unwrap_err();
    let SampleError::Rejected(message) = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("HTTP 400") && message.contains("maximum context length is 2048"),
        "{message}"
    );
    assert!(!chain(&err).contains("sk-secret-400"));
    let debug = format!("{sampler:?}");
    assert!(
        !debug.contains("sk-secret-400") && !debug.contains("hdr-secret-400"),
        "{debug}"
    );
    assert!(debug.contains("X-Gateway-Secret"), "{debug}");
    assert_eq!(
        server.requests()[0].header("x-gateway-secret"),
        Some("hdr-secret-400")
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = Server::start(|_, _| Reply::text(503, "upstream overloaded")).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_503"));
    let err = sample(&sampler, 1).await.unwrap_err();
    let SampleError::Unavailable(message) = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("HTTP 503") && message.contains("upstream overloaded"),
        "{message}"
    );
    assert_eq!(server.count(), 3, "max_attempts = 3");
}

#[tokio::test]
async fn requests_in_flight_stay_within_the_bound() {
    // One choice per request, slowly: six calls of n = 2 need twelve requests.
    let server = Server::start(|_, _| ok(1).delayed(Duration::from_millis(100))).await;
    let mut config = config(&server, "NEXT_TEST_OPENAI_KEY_BOUND");
    config.max_concurrency = 2;
    let sampler = sampler(config);
    let calls = (0..6).map(|_| sample(&sampler, 2));
    let results = futures::future::join_all(calls).await;
    for result in results {
        assert_eq!(result.unwrap().len(), 2);
    }
    assert_eq!(server.count(), 12);
    assert_eq!(server.max_in_flight(), 2);
}

#[tokio::test]
async fn a_server_that_ignores_n_is_asked_for_the_remainder_with_other_seeds() {
    // Like llama.cpp's server: one choice, whatever n says.
    let server = Server::start(|i, _| {
        Reply::json(
            200,
            &completion(&[Some(&format!("answer {i}\n```python\nx = {i}\n```"))]),
        )
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_REMAINDER"));
    let samples = sample(&sampler, 4).await.unwrap();
    assert_eq!(samples.len(), 4);
    let mut raws: Vec<&str> = samples.iter().map(|s| s.raw.as_str()).collect();
    raws.dedup();
    assert_eq!(raws.len(), 4);
    let bodies: Vec<Value> = server
        .requests()
        .iter()
        .map(support::Request::json)
        .collect();
    assert_eq!(bodies.len(), 4);
    assert_eq!(
        (bodies[0]["n"].clone(), bodies[0]["seed"].clone()),
        (json!(4), json!(42))
    );
    let mut seeds: Vec<u64> = bodies[1..]
        .iter()
        .map(|b| {
            assert_eq!(b["n"], 1);
            b["seed"].as_u64().unwrap()
        })
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, [43, 44, 45]);
}

#[tokio::test]
async fn a_server_that_caps_n_is_asked_in_requests_of_its_cap() {
    let server = Server::start(|_, request| {
        let n = request.json()["n"].as_u64().unwrap().min(3);
        ok(usize::try_from(n).unwrap())
    })
    .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_CAP"));
    assert_eq!(sample(&sampler, 7).await.unwrap().len(), 7);
    let asked: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()["n"].clone())
        .collect();
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[0], 7);
}

#[tokio::test]
async fn filtered_choices_are_missing_samples_and_not_asked_again() {
    let server =
        Server::start(|_, _| Reply::json(200, &completion(&[Some(ANSWER), None, Some("no code")])))
            .await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_FILTER"));
    let samples = sample(&sampler, 3).await.unwrap();
    assert_eq!(samples.len(), 2);
    // An answer without code is still a sample: a parse failure the loop records.
    assert!(samples[1].fix().is_none());
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn checkpoints_choose_the_model() {
    let server = Server::start(|_, _| ok(1)).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_CKPT"));
    let tuned = hosted_checkpoint("iter-1", "ft:test-model:next:1");
    sampler.sample(&tuned, &chat(), 1, &params()).await.unwrap();
    sample(&sampler, 1).await.unwrap();
    let models: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| r.json()["model"].clone())
        .collect();
    assert_eq!(models, [json!("ft:test-model:next:1"), json!("test-model")]);

    let foreign = Checkpoint {
        name: "iter-2".into(),
        data: json!({"adapter": "/runs/x/adapter"}),
    };
    let err = sampler
        .sample(&foreign, &chat(), 1, &params())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SampleError::Checkpoint { ref name, .. } if name == "iter-2"),
        "{err:?}"
    );
    assert_eq!(server.count(), 2, "no request for a foreign checkpoint");
}

#[tokio::test]
async fn invalid_parameters_and_zero_samples_send_nothing() {
    let server = Server::start(|_, _| ok(1)).await;
    let sampler = sampler(config(&server, "NEXT_TEST_OPENAI_KEY_PARAMS"));
    let bad = SamplingParams {
        top_p: 0.0,
        ..params()
    };
    let err = sampler
        .sample(&Checkpoint::base(), &chat(), 1, &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SampleError::Rejected(m) if m.contains("top_p")),
        "{err:?}"
    );
    assert!(sample(&sampler, 0).await.unwrap().is_empty());
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn the_registry_builds_it_from_toml() {
    let server = Server::start(|_, _| ok(1)).await;
    let table: toml::Table = toml::from_str(&format!(
        r#"
        kind = "openai"
        base_url = "{}/v1"
        model = "from-toml"
        api_key_env = "NEXT_TEST_OPENAI_KEY_TOML"
        max_concurrency = 1
        [retry]
        max_attempts = 1
        "#,
        server.base_url()
    ))
    .unwrap();
    let sampler = registry::from_table::<dyn RationaleSampler>(&table, &Context::new()).unwrap();
    let samples = sampler
        .sample(&Checkpoint::base(), &chat(), 1, &params())
        .await
        .unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(server.requests()[0].json()["model"], "from-toml");

    let list = registry::list();
    assert!(list.iter().any(|e| e.name == "openai"));
    for (options, needle) in [
        ("model = 'm'\nretry = { max_attempts = 0 }", "max_attempts"),
        ("model = 'm'\nbase_url = 'ftp://x'", "base_url"),
        ("model = 'm'\ntimeout_secs = 0", "timeout_secs"),
        ("model = 'm'\nmax_concurrency = 0", "max_concurrency"),
        (
            "model = 'm'\nheaders = { 'bad header' = 'x' }",
            "bad header",
        ),
        ("model = 'm'\nretry = { max_atempts = 2 }", "max_atempts"),
        ("base_url = 'http://x'", "model"),
    ] {
        let err = registry::sampler("openai", &toml::from_str(options).unwrap(), &Context::new())
            .err()
            .unwrap();
        let text = chain(&err);
        assert!(text.contains(needle), "{options}: {text}");
    }
}
