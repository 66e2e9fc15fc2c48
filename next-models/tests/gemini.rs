//! The Gemini sampler against a loopback server that checks every request against the
//! documented `generateContent` request schema (answering 400 with the problems when it
//! does not hold, as the real API does) and answers with documented response shapes:
//! normal candidates, a blocked prompt, `SAFETY` candidates, empty candidates.
#![cfg(feature = "gemini")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]

mod support;

use std::time::Duration;

use next_core::error::chain;
use next_core::prompt::{Message, Prompt, Role};
use next_core::registry::{self, Context};
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::train::Checkpoint;
use next_models::checkpoint::hosted_checkpoint;
use next_models::error::ModelError;
use next_models::gemini::{GeminiConfig, GeminiSampler, SafetySetting};
use next_models::retry::RetryPolicy;
use serde_json::{json, Value};
use support::{Reply, Request, Server};

const ANSWER: &str =
    "The loop stops one step early.\n\nHere is a fixed version:\n```python\ndef f(x):\n    return x + 1\n```\n";

/// The keys the API documents for a `generateContent` request body.
const REQUEST_KEYS: [&str; 7] = [
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
];

/// The keys the API documents for `generationConfig`.
const GENERATION_KEYS: [&str; 17] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
];

/// What is wrong with `request` as a `generateContent` call authenticated by `key`.
fn schema_problems(request: &Request, key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, problem: &str| {
        if !ok {
            problems.push(problem.to_owned());
        }
    };
    check(request.method == "POST", "the method is not POST");
    let path_ok = request.target.starts_with("/v1beta/models/")
        || request.target.starts_with("/v1beta/tunedModels/");
    check(
        path_ok && request.target.ends_with(":generateContent"),
        "the path is not /v1beta/{model}:generateContent",
    );
    check(
        !request.target.contains('?'),
        "the key must not be in the query",
    );
    check(
        request.header("x-goog-api-key") == Some(key),
        "x-goog-api-key is missing or wrong",
    );
    check(
        request.header("authorization").is_none(),
        "an Authorization header was sent",
    );
    check(
        request.header("content-type") == Some("application/json"),
        "the content type is not JSON",
    );
    let body = request.json();
    let Some(body) = body.as_object() else {
        problems.push("the body is not a JSON object".into());
        return problems;
    };
    for key in body.keys() {
        if !REQUEST_KEYS.contains(&key.as_str()) {
            problems.push(format!("unknown field `{key}`"));
        }
    }
    // contents: required, user/model turns of text parts, alternating, user first and last.
    match body.get("contents").and_then(Value::as_array) {
        Some(contents) if !contents.is_empty() => {
            let roles: Vec<&str> = contents
                .iter()
                .map(|c| c.get("role").and_then(Value::as_str).unwrap_or(""))
                .collect();
            for (i, content) in contents.iter().enumerate() {
                problems.extend(content_problems(content, &format!("contents[{i}]")));
                if !matches!(roles[i], "user" | "model") {
                    problems.push(format!("contents[{i}].role is {:?}", roles[i]));
                }
            }
            if roles.first() != Some(&"user") || roles.last() != Some(&"user") {
                problems.push(format!("the turns must start and end with user: {roles:?}"));
            }
            if roles.windows(2).any(|w| w[0] == w[1]) {
                problems.push(format!("the roles do not alternate: {roles:?}"));
            }
        }
        _ => problems.push("contents is missing or empty".into()),
    }
    if let Some(system) = body.get("systemInstruction") {
        problems.extend(content_problems(system, "systemInstruction"));
        if system
            .get("role")
            .is_some_and(|r| r != "system" && r != "user")
        {
            problems.push("systemInstruction.role is not system".into());
        }
    }
    if let Some(config) = body.get("generationConfig") {
        problems.extend(generation_problems(config));
    }
    if let Some(settings) = body.get("safetySettings") {
        let ok = settings.as_array().is_some_and(|a| {
            a.iter().all(|s| {
                s.as_object().is_some_and(|o| {
                    o.len() == 2
                        && o.get("category").is_some_and(Value::is_string)
                        && o.get("threshold").is_some_and(Value::is_string)
                })
            })
        });
        check_into(
            &mut problems,
            ok,
            "safetySettings is not a list of {category, threshold}",
        );
    }
    problems
}

fn check_into(problems: &mut Vec<String>, ok: bool, problem: &str) {
    if !ok {
        problems.push(problem.to_owned());
    }
}

/// A `Content`: `{role?, parts: [{text}]}`, parts non-empty.
fn content_problems(content: &Value, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = content.as_object() else {
        return vec![format!("{at} is not an object")];
    };
    for key in object.keys() {
        if key != "role" && key != "parts" {
            problems.push(format!("{at} has an unknown field `{key}`"));
        }
    }
    match object.get("parts").and_then(Value::as_array) {
        Some(parts) if !parts.is_empty() => {
            for (i, part) in parts.iter().enumerate() {
                let ok = part
                    .as_object()
                    .is_some_and(|p| p.len() == 1 && p.get("text").is_some_and(Value::is_string));
                check_into(
                    &mut problems,
                    ok,
                    &format!("{at}.parts[{i}] is not a text part"),
                );
            }
        }
        _ => problems.push(format!("{at}.parts is missing or empty")),
    }
    problems
}

fn generation_problems(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(config) = config.as_object() else {
        return vec!["generationConfig is not an object".into()];
    };
    for key in config.keys() {
        if !GENERATION_KEYS.contains(&key.as_str()) {
            problems.push(format!("generationConfig has an unknown field `{key}`"));
        }
    }
    let number = |key: &str, ok: &dyn Fn(f64) -> bool| {
        config.get(key).is_none_or(|v| v.as_f64().is_some_and(ok))
    };
    let integer = |key: &str, ok: &dyn Fn(i64) -> bool| {
        config.get(key).is_none_or(|v| v.as_i64().is_some_and(ok))
    };
    check_into(
        &mut problems,
        integer("candidateCount", &|n| (1..=8).contains(&n)),
        "candidateCount is not in 1..=8",
    );
    check_into(
        &mut problems,
        integer("maxOutputTokens", &|n| n >= 1),
        "maxOutputTokens is not a positive integer",
    );
    check_into(
        &mut problems,
        integer("seed", &|n| i32::try_from(n).is_ok()),
        "seed is not an int32",
    );
    check_into(
        &mut problems,
        number("temperature", &|t| (0.0..=2.0).contains(&t)),
        "temperature is not in [0, 2]",
    );
    check_into(
        &mut problems,
        number("topP", &|p| p > 0.0 && p <= 1.0),
        "topP is not in (0, 1]",
    );
    let stops_ok = config.get("stopSequences").is_none_or(|s| {
        s.as_array()
            .is_some_and(|a| a.len() <= 5 && a.iter().all(Value::is_string))
    });
    check_into(
        &mut problems,
        stops_ok,
        "stopSequences is not a list of at most 5 strings",
    );
    problems
}

/// The API's error answer.
fn error(code: u16, status: &str, message: &str) -> Reply {
    Reply::json(
        code,
        &json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

/// A server that checks each request for the key `key` and answers `answer(i, body)`.
async fn server(
    key: &'static str, answer: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static,
) -> Server {
    Server::start(move |i, request| {
        let problems = schema_problems(request, key);
        if problems.is_empty() {
            answer(i, &request.json())
        } else {
            error(400, "INVALID_ARGUMENT", &problems.join("; "))
        }
    })
    .await
}

fn candidate(text: &str) -> Value {
    json!({
        "content": {"parts": [{"text": text}], "role": "model"},
        "finishReason": "STOP",
        "index": 0,
        "safetyRatings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
        ]
    })
}

fn blocked_candidate() -> Value {
    json!({
        "finishReason": "SAFETY",
        "index": 1,
        "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}
        ]
    })
}

fn response(candidates: Vec<Value>) -> Reply {
    Reply::json(
        200,
        &json!({
            "candidates": Value::Array(candidates),
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 30, "totalTokenCount": 42},
            "modelVersion": "gemini-test"
        }),
    )
}

fn candidate_count(body: &Value) -> usize {
    usize::try_from(body["generationConfig"]["candidateCount"].as_u64().unwrap()).unwrap()
}

fn config(server: &Server, key_env: &str, key: &str) -> GeminiConfig {
    support::set_key(key_env, key);
    let mut config = GeminiConfig::new("gemini-test");
    config.base_url = server.base_url();
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

/// A prompt with a system message, a few-shot exchange and a final user turn in two
/// messages (which must be merged into one turn).
fn chat() -> Prompt {
    Prompt {
        messages: vec![
            Message::new(Role::System, "You repair programs."),
            Message::new(Role::User, "Fix f."),
            Message::new(Role::Assistant, "```python\nf = 1\n```"),
            Message::new(Role::User, "Fix g."),
            Message::new(Role::User, "Think first."),
        ],
    }
}

fn params() -> SamplingParams {
    SamplingParams {
        temperature: 0.8,
        top_p: 0.95,
        max_tokens: 512,
        seed: Some(5),
        stop: vec!["</answer>".into()],
    }
}

async fn sample(sampler: &GeminiSampler, n: usize) -> Result<Vec<Sample>, SampleError> {
    sampler
        .sample(&Checkpoint::base(), &chat(), n, &params())
        .await
}

#[tokio::test]
async fn the_request_follows_the_schema_and_candidates_become_samples() {
    const KEY: &str = "gm-key-shape";
    let server = server(KEY, |_, body| {
        let mut candidates: Vec<Value> = (0..candidate_count(body))
            .map(|_| candidate(ANSWER))
            .collect();
        // A thinking model's thought part is not part of the answer; two text parts join.
        candidates[0]["content"]["parts"] = json!([
            {"text": "let me think", "thought": true},
            {"text": "The loop stops one step early.\n\n"},
            {"text": "Here is a fixed version:\n```python\ndef f(x):\n    return x + 1\n```\n"}
        ]);
        response(candidates)
    })
    .await;
    let mut config = config(&server, "NEXT_TEST_GEMINI_KEY_SHAPE", KEY);
    config.safety_settings = vec![SafetySetting {
        category: "HARM_CATEGORY_DANGEROUS_CONTENT".into(),
        threshold: "BLOCK_ONLY_HIGH".into(),
    }];
    let sampler = GeminiSampler::new(config).unwrap();
    let samples = sample(&sampler, 3).await.unwrap();

    assert_eq!(samples.len(), 3);
    for s in &samples {
        assert_eq!(s.raw, ANSWER);
        assert_eq!(s.fix().unwrap().source(), "def f(x):\n    return x + 1\n");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].target,
        "/v1beta/models/gemini-test:generateContent"
    );
    assert_eq!(
        requests[0].json(),
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Fix f."}]},
                {"role": "model", "parts": [{"text": "```python\nf = 1\n```"}]},
                {"role": "user", "parts": [{"text": "Fix g."}, {"text": "Think first."}]}
            ],
            "systemInstruction": {"parts": [{"text": "You repair programs."}]},
            "generationConfig": {
                "candidateCount": 3,
                "temperature": 0.8,
                "topP": 0.95,
                "maxOutputTokens": 512,
                "stopSequences": ["</answer>"],
                "seed": 5
            },
            "safetySettings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_ONLY_HIGH"}
            ]
        })
    );
}

#[tokio::test]
async fn the_schema_check_itself_catches_bad_requests() {
    // The checker must be able to fail, or the test above proves nothing.
    let request = |body: Value, key: &str| Request {
        method: "POST".into(),
        target: "/v1beta/models/m:generateContent".into(),
        headers: vec![
            ("x-goog-api-key".into(), key.into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
        at: std::time::Instant::now(),
    };
    let good = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                      "generationConfig": {"candidateCount": 2}});
    assert!(schema_problems(&request(good.clone(), "k"), "k").is_empty());
    assert!(!schema_problems(&request(good, "k"), "other").is_empty());
    for bad in [
        json!({}),
        json!({"contents": []}),
        json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}, {"role": "user", "parts": [{"text": "b"}]}]}),
        json!({"contents": [{"role": "user", "parts": []}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}], "generation_config": {}}),
        json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}], "generationConfig": {"candidate_count": 2}}),
        json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}], "generationConfig": {"candidateCount": 9}}),
        json!({"contents": [{"role": "user", "parts": [{"text": "a"}]}], "generationConfig": {"seed": 4_294_967_296_u64}}),
    ] {
        assert!(
            !schema_problems(&request(bad.clone(), "k"), "k").is_empty(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_blocked_prompt_gives_no_samples_and_no_error() {
    let server = server("gm-key-blocked", |_, _| {
        Reply::json(
            200,
            &json!({
                "promptFeedback": {
                    "blockReason": "SAFETY",
                    "safetyRatings": [
                        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
                    ]
                },
                "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}
            }),
        )
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_BLOCKED",
        "gm-key-blocked",
    ))
    .unwrap();
    let samples = sample(&sampler, 4).await.unwrap();
    assert!(samples.is_empty());
    assert_eq!(server.count(), 1, "a blocked prompt is not asked again");
}

#[tokio::test]
async fn safety_candidates_are_missing_samples() {
    let server = server("gm-key-safety", |_, _| {
        response(vec![
            candidate(ANSWER),
            blocked_candidate(),
            candidate("no code here"),
        ])
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_SAFETY",
        "gm-key-safety",
    ))
    .unwrap();
    let samples = sample(&sampler, 3).await.unwrap();
    assert_eq!(samples.len(), 2);
    assert!(samples[0].fix().is_some());
    assert!(
        samples[1].fix().is_none(),
        "an answer without code is an unparseable sample"
    );
    assert_eq!(server.count(), 1, "blocked candidates are not asked again");
}

#[tokio::test]
async fn empty_candidates_give_no_samples() {
    let server = server("gm-key-empty", |i, _| {
        if i == 0 {
            response(Vec::new())
        } else {
            response(vec![
                json!({"content": {"role": "model"}, "finishReason": "STOP", "index": 0}),
                json!({"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "STOP", "index": 1}),
                json!({"finishReason": "OTHER", "index": 2}),
            ])
        }
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_EMPTY",
        "gm-key-empty",
    ))
    .unwrap();
    // No candidates at all.
    assert!(sample(&sampler, 2).await.unwrap().is_empty());
    // Candidates without text.
    assert!(sample(&sampler, 3).await.unwrap().is_empty());
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn more_samples_than_one_request_allows_are_split_with_their_own_seeds() {
    let server = server("gm-key-split", |_, body| {
        response(
            (0..candidate_count(body))
                .map(|_| candidate(ANSWER))
                .collect(),
        )
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_SPLIT",
        "gm-key-split",
    ))
    .unwrap();
    assert_eq!(sample(&sampler, 10).await.unwrap().len(), 10);
    let mut asked: Vec<(u64, u64)> = server
        .requests()
        .iter()
        .map(|r| {
            let config = &r.json()["generationConfig"];
            (
                config["candidateCount"].as_u64().unwrap(),
                config["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    asked.sort_unstable();
    assert_eq!(asked, [(2, 6), (8, 5)]);
}

#[tokio::test]
async fn quota_errors_wait_for_the_retry_delay_of_the_body() {
    let server = server("gm-key-quota", |i, _| {
        if i == 0 {
            Reply::json(
                429,
                &json!({"error": {
                    "code": 429,
                    "message": "Resource has been exhausted (e.g. check quota).",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [{
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": "1s"
                    }]
                }}),
            )
        } else {
            response(vec![candidate(ANSWER)])
        }
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_QUOTA",
        "gm-key-quota",
    ))
    .unwrap();
    assert_eq!(sample(&sampler, 1).await.unwrap().len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_then_unavailable() {
    let server = server("gm-key-503", |_, _| {
        error(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        )
    })
    .await;
    let sampler =
        GeminiSampler::new(config(&server, "NEXT_TEST_GEMINI_KEY_503", "gm-key-503")).unwrap();
    let err = sample(&sampler, 1).await.unwrap_err();
    assert!(
        matches!(&err, SampleError::Unavailable(m) if m.contains("overloaded") && m.contains("3 attempt")),
        "{err:?}"
    );
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn a_wrong_key_is_rejected_with_the_message_and_without_the_key() {
    // The server expects another key, as the real API would.
    let server = Server::start(|_, request| {
        if request.header("x-goog-api-key") == Some("the-right-key") {
            response(vec![candidate(ANSWER)])
        } else {
            error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
            )
        }
    })
    .await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_WRONG",
        "gm-wrong-key-123",
    ))
    .unwrap();
    let err = sample(&sampler, 1).await.unwrap_err();
    let text = chain(&err);
    assert!(matches!(err, SampleError::Rejected(_)), "{err:?}");
    assert!(text.contains("API key not valid"), "{text}");
    assert!(!text.contains("gm-wrong-key-123"), "{text}");
    assert!(!format!("{sampler:?}").contains("gm-wrong-key-123"));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_missing_key_is_a_configuration_error_naming_the_variable() {
    let mut config = GeminiConfig::new("gemini-test");
    config.api_key_env = "NEXT_TEST_GEMINI_KEY_NEVER_SET".into();
    let err = GeminiSampler::new(config).unwrap_err();
    assert!(
        matches!(&err, ModelError::Config(m) if m.contains("NEXT_TEST_GEMINI_KEY_NEVER_SET")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_tuned_checkpoint_is_its_own_resource() {
    let server = server("gm-key-tuned", |_, _| response(vec![candidate(ANSWER)])).await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_TUNED",
        "gm-key-tuned",
    ))
    .unwrap();
    let tuned = hosted_checkpoint("iter-1", "tunedModels/next-iter-1");
    let samples = sampler.sample(&tuned, &chat(), 1, &params()).await.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(
        server.requests()[0].target,
        "/v1beta/tunedModels/next-iter-1:generateContent"
    );
    // A model id that cannot go into a URL is refused before any request.
    let odd = hosted_checkpoint("iter-2", "x?key=y");
    let err = sampler
        .sample(&odd, &chat(), 1, &params())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SampleError::Checkpoint { ref name, .. } if name == "iter-2"),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_prompt_without_turns_is_refused_before_sending() {
    let server = server("gm-key-noturn", |_, _| response(vec![candidate(ANSWER)])).await;
    let sampler = GeminiSampler::new(config(
        &server,
        "NEXT_TEST_GEMINI_KEY_NOTURN",
        "gm-key-noturn",
    ))
    .unwrap();
    let only_system = Prompt {
        messages: vec![Message::new(Role::System, "sys")],
    };
    let err = sampler
        .sample(&Checkpoint::base(), &only_system, 1, &params())
        .await
        .unwrap_err();
    assert!(matches!(err, SampleError::Rejected(_)), "{err:?}");
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn the_registry_builds_it_from_toml() {
    let server = server("gm-key-toml", |_, _| response(vec![candidate(ANSWER)])).await;
    support::set_key("NEXT_TEST_GEMINI_KEY_TOML", "gm-key-toml");
    let table: toml::Table = toml::from_str(&format!(
        r#"
        kind = "gemini"
        base_url = "{}"
        model = "gemini-from-toml"
        api_key_env = "NEXT_TEST_GEMINI_KEY_TOML"
        safety_settings = [{{ category = "HARM_CATEGORY_HARASSMENT", threshold = "BLOCK_NONE" }}]
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
    assert_eq!(
        server.requests()[0].target,
        "/v1beta/models/gemini-from-toml:generateContent"
    );
    let options: toml::Table = toml::from_str("model = 'm'\ncandidate_count = 2").unwrap();
    let err = registry::sampler("gemini", &options, &Context::new())
        .err()
        .unwrap();
    assert!(chain(&err).contains("candidate_count"), "{}", chain(&err));
}
