//! The candle backend against a real model and a real reference: SmolLM2-135M-Instruct
//! (`Q4_1` GGUF), compared with llama.cpp (llama-cpp-python) running the same file, as a
//! subprocess (`scripts/llama_cpp_reference.py`).
//!
//! Prerequisites, installed by `next-models/scripts/llama-server-setup.sh` (which
//! `.ci/run` calls) under the workspace's git-ignored `.cache/`:
//!
//! - the model at the default model's place in the cache layout,
//!   `.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf` (or `NEXT_CANDLE_MODEL`, or the
//!   user's cache, where `next model fetch` puts it);
//! - a Python with `llama_cpp`: `.cache/venv/bin/python`, or `NEXT_LLAMA_PYTHON`.
//!
//! As for the llama.cpp server test: when they are missing the tests fail if `CI` is
//! set, and otherwise print why they are skipped and pass.
#![cfg(feature = "candle")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::similar_names)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use next_core::prompt::{Message, Prompt, Role};
use next_core::sample::{RationaleSampler, SampleError, SamplingParams};
use next_core::train::Checkpoint;
use next_models::artifact::SMOLLM2;
use next_models::candle::{
    gguf_checkpoint, CandleConfig, CandleSampler, Finish, LocalModel, WeightFormat,
};

const SETUP: &str = "bash next-models/scripts/llama-server-setup.sh";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("next-models sits in the workspace")
        .to_path_buf()
}

fn model_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NEXT_CANDLE_MODEL") {
        return Ok(PathBuf::from(path));
    }
    SMOLLM2
        .locate_in(&workspace().join(".cache"))
        .or_else(|_| SMOLLM2.locate())
        .map_err(|err| err.to_string())
}

fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("NEXT_LLAMA_PYTHON")
        .map_or_else(|| workspace().join(".cache/venv/bin/python"), PathBuf::from);
    let ok = Command::new(&python)
        .args(["-c", "import llama_cpp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(python)
    } else {
        Err(format!("{} cannot import llama_cpp", python.display()))
    }
}

/// The prerequisites, or `None` (with a note) when the test is skipped.
fn gate<T>(found: Result<T, String>, test: &str) -> Option<T> {
    match found {
        Ok(found) => Some(found),
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test} cannot run: {why}. Run `{SETUP}` from the workspace root."
            );
            eprintln!("{test}: skipped: {why}; run `{SETUP}` to enable it");
            None
        }
    }
}

/// The model, loaded once for every test of this binary.
fn model(test: &str) -> Option<&'static LocalModel> {
    static MODEL: OnceLock<Result<LocalModel, String>> = OnceLock::new();
    let loaded = MODEL.get_or_init(|| {
        let path = model_path()?;
        Ok(LocalModel::load(&path, WeightFormat::Q8_0, 2048).expect("the model loads"))
    });
    gate(loaded.as_ref().map_err(Clone::clone), test)
}

/// Runs the llama.cpp reference script with one request.
fn reference(python: &Path, request: &serde_json::Value) -> serde_json::Value {
    let script = workspace().join("next-models/scripts/llama_cpp_reference.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| u32::try_from(v.as_u64().unwrap()).unwrap())
        .collect()
}

fn chat() -> Prompt {
    Prompt {
        messages: vec![
            Message::new(Role::System, "You are a helpful assistant."),
            Message::new(
                Role::User,
                "Write a Python function that returns the sum of the odd numbers of a list.",
            ),
        ],
    }
}

const TEXTS: [&str; 6] = [
    "Hello world! The quick brown fox jumps over the lazy dog.",
    "def sum_odd(xs):\n    total = 0\n    for x in xs:\n        if x % 2 == 1:\n            total += x\n    return total  # 12345\n",
    "\tif  a  != b:\n\t\treturn [1, 2,3]\r\n",
    "héllo wörld → 世界 🎉 naïve café",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "   leading spaces and trailing   ",
];

#[test]
fn the_tokenizer_matches_llama_cpp_and_round_trips() {
    let Some(model) = model("tokenizer") else {
        return;
    };
    let Some(python) = gate(python(), "tokenizer") else {
        return;
    };
    let answer = reference(
        &python,
        &serde_json::json!({"op": "tokenize", "model": model.path(), "texts": TEXTS}),
    );
    for (text, expected) in TEXTS.iter().zip(answer["tokens"].as_array().unwrap()) {
        let ours = model.tokenizer().encode(text).unwrap();
        assert_eq!(ours, ids(expected), "tokens of {text:?}");
        if !text.contains("<|") {
            assert_eq!(model.tokenizer().decode(&ours), *text);
        }
    }
    // Control tokens decode to nothing.
    let special = model.tokenizer().encode(TEXTS[4]).unwrap();
    assert_eq!(
        model.tokenizer().decode(&special),
        "user\nWhat is 2+2?\nassistant\n"
    );
}

#[test]
fn the_chat_template_matches_llama_cpp() {
    let Some(model) = model("chat_template") else {
        return;
    };
    let Some(python) = gate(python(), "chat_template") else {
        return;
    };
    let prompts = [
        chat(),
        Prompt {
            messages: vec![Message::new(Role::User, "Only a user turn.")],
        },
        Prompt {
            messages: vec![
                Message::new(Role::System, "S"),
                Message::new(Role::User, "first"),
                Message::new(Role::Assistant, "an answer\n```python\nx = 1\n```"),
                Message::new(Role::User, "second"),
            ],
        },
    ];
    for prompt in prompts {
        let answer = reference(
            &python,
            &serde_json::json!({"op": "chat", "model": model.path(), "messages": prompt.messages}),
        );
        assert_eq!(
            model.render(&prompt).unwrap(),
            answer["prompt"].as_str().unwrap()
        );
    }
}

#[test]
fn greedy_decoding_matches_llama_cpp() {
    let Some(model) = model("greedy") else {
        return;
    };
    let Some(python) = gate(python(), "greedy") else {
        return;
    };
    let tokens = model.prompt_tokens(&chat()).unwrap();
    let n = 24;
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: n,
        ..SamplingParams::default()
    };
    let ours = model
        .generate(&tokens, 1, &params, 0, 1, &|| false)
        .unwrap();
    let ours = &ours.completions[0];
    let answer = reference(
        &python,
        &serde_json::json!({"op": "greedy", "model": model.path(), "tokens": tokens, "n": n, "threads": 1}),
    );
    let theirs = ids(&answer["tokens"]);
    eprintln!(
        "greedy: candle {:?}\ngreedy: llama.cpp {:?} (margins {})",
        model.tokenizer().decode(&ours.tokens),
        model.tokenizer().decode(&theirs),
        answer["margins"]
    );
    let agree = ours
        .tokens
        .iter()
        .zip(&theirs)
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        agree >= 20
            || (agree == theirs.len().min(ours.tokens.len())
                && ours.finish == Finish::EndOfGeneration),
        "candle and llama.cpp agree on only {agree} greedy tokens:\n{:?}\n{:?}",
        ours.tokens,
        theirs
    );
}

fn sampling(seed: u64) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_p: 0.95,
        max_tokens: 12,
        seed: Some(seed),
        stop: Vec::new(),
    }
}

#[test]
fn seeds_reproduce_and_batched_rows_are_the_model_s_samples() {
    let Some(model) = model("seeds") else {
        return;
    };
    let tokens = model.prompt_tokens(&chat()).unwrap();
    let draw = |params: &SamplingParams, seed: u64, n: usize, batch: usize| -> Vec<Vec<u32>> {
        model
            .generate(&tokens, n, params, seed, batch, &|| false)
            .unwrap()
            .completions
            .into_iter()
            .map(|c| c.tokens)
            .collect()
    };
    let batched = draw(&sampling(40), 40, 4, 4);
    assert_eq!(batched.len(), 4);
    assert_eq!(
        draw(&sampling(40), 40, 4, 4),
        batched,
        "the same seed gives the same samples"
    );
    assert_ne!(
        draw(&sampling(1000), 1000, 4, 4),
        batched,
        "another seed gives other samples"
    );
    let distinct: std::collections::BTreeSet<&Vec<u32>> = batched.iter().collect();
    assert!(
        distinct.len() > 1,
        "the samples of one call differ: {batched:?}"
    );
    // Sample k draws with seed s + k: its first token (from the prompt's logits, the same
    // computation either way) is that of a call with n = 1 and seed s + k. Later tokens
    // come from batched arithmetic, whose rounding may differ from a single row's.
    for (k, row) in batched.iter().enumerate() {
        let alone = draw(&sampling(40 + k as u64), 40 + k as u64, 1, 1);
        assert_eq!(alone[0][0], row[0], "sample {k}");
    }
    // Greedy rows of a batch are the greedy decoding of the prompt alone: the batch
    // attends to the shared prompt and to each row's own tokens correctly.
    let greedy = SamplingParams {
        temperature: 0.0,
        max_tokens: 16,
        ..SamplingParams::default()
    };
    let alone = draw(&greedy, 0, 1, 1);
    assert_eq!(draw(&greedy, 0, 3, 3), vec![alone[0].clone(); 3]);
}

#[test]
fn rows_end_at_stop_strings_and_budgets() {
    let Some(model) = model("stops") else {
        return;
    };
    let tokens = model.prompt_tokens(&chat()).unwrap();
    let free = model
        .generate(
            &tokens,
            1,
            &SamplingParams {
                temperature: 0.0,
                max_tokens: 20,
                ..SamplingParams::default()
            },
            0,
            1,
            &|| false,
        )
        .unwrap();
    let text = &free.completions[0].text;
    assert_eq!(free.completions[0].finish, Finish::Length);
    assert_eq!(free.completions[0].tokens.len(), 20);
    // Stop at the second word of the greedy answer: the text is cut before it.
    let word = text.split_whitespace().nth(1).unwrap().to_owned();
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: 20,
        stop: vec![word.clone()],
        ..SamplingParams::default()
    };
    let stopped = model
        .generate(&tokens, 2, &params, 0, 2, &|| false)
        .unwrap();
    for completion in &stopped.completions {
        assert_eq!(completion.finish, Finish::Stop);
        assert_eq!(&completion.text, &text[..text.find(&word).unwrap()]);
    }
    // A cancelled call ends every row.
    let cancelled = model
        .generate(&tokens, 3, &sampling(1), 1, 3, &|| true)
        .unwrap();
    assert!(cancelled
        .completions
        .iter()
        .all(|c| c.finish == Finish::Cancelled && c.tokens.len() == 1));
}

#[test]
fn the_sampler_draws_through_the_prompt_module_and_refuses_foreign_checkpoints() {
    let Some(path) = gate(model_path(), "sampler") else {
        return;
    };
    let config = CandleConfig {
        model: Some(path.clone()),
        context_length: 2048,
        ..CandleConfig::default()
    };
    let sampler = CandleSampler::new(config).unwrap();
    futures::executor::block_on(async {
        let samples = sampler
            .sample(&Checkpoint::base(), &chat(), 3, &sampling(9))
            .await
            .unwrap();
        assert_eq!(samples.len(), 3);
        assert!(samples.iter().all(|s| !s.raw.is_empty()), "{samples:?}");
        // The same GGUF named by a checkpoint gives the same samples.
        let named = sampler
            .sample(&gguf_checkpoint("iter-1", &path), &chat(), 3, &sampling(9))
            .await
            .unwrap();
        assert_eq!(named, samples);
        let foreign = Checkpoint {
            name: "iter-2".into(),
            data: serde_json::json!({"model": "gpt-4o-mini"}),
        };
        let err = sampler
            .sample(&foreign, &chat(), 1, &sampling(9))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SampleError::Checkpoint { name, reason } if name == "iter-2" && reason.contains("gguf")),
            "{err:?}"
        );
        let missing = gguf_checkpoint("iter-3", "/nonexistent/model.gguf");
        let err = sampler
            .sample(&missing, &chat(), 1, &sampling(9))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SampleError::Checkpoint { reason, .. } if reason.contains("/nonexistent/model.gguf")),
            "{err:?}"
        );
    });
}
