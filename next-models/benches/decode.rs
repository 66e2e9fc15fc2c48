//! Decoding speed of the candle backend, against llama.cpp on the same GGUF, in one run.
//!
//! ```sh
//! cargo bench -p next-models --features candle --bench decode
//! ```
//!
//! 1. One repair prompt, greedy, through candle and through llama.cpp
//!    (llama-cpp-python, `scripts/llama_cpp_reference.py`, as a subprocess) with the same
//!    thread count (candle's, `CANDLE_NUM_THREADS` or the cores): prefill and decode
//!    tokens per second, best of `NEXT_BENCH_REPS` (default 3) alternating runs, and
//!    the ratio candle / llama.cpp. Goal: decode at least 1.0x.
//! 2. `n = 8` samples of that prompt (temperature 0.8, at most `NEXT_BENCH_TOKENS`
//!    tokens each, default 64) as one batch against one call per sample (each running
//!    the prompt again, as a sampler without a shared batch must): wall time, generated
//!    tokens per second and the ratio, end to end and for decoding alone. Goal: batched
//!    at least 3x.
//!
//! Needs what the candle tests need (`next-models/scripts/llama-server-setup.sh`); the
//! model is found the same way (`NEXT_CANDLE_MODEL`, `.cache/models/`, the cache).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use next_core::prompt;
use next_core::sample::SamplingParams;
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use next_models::candle::{LocalModel, WeightFormat};

mod common;

use common::{candle_threads, env_usize, workspace};

fn repair_prompt() -> prompt::Prompt {
    let task = RepairTask::new(
        TaskId::new("bench/sum_odd").unwrap(),
        "Write a function to return the sum of the odd numbers of a list, skipping \
         negative numbers.",
        Program::new(
            "def sum_odd(xs):\n    total = 0\n    for x in xs:\n        if x % 2 == 0:\n            \
             total += x\n    return total\n",
        ),
        vec![
            TestCase::new("assert sum_odd([1, 2, 3, 4]) == 4").unwrap(),
            TestCase::new("assert sum_odd([-1, 5, 7]) == 12").unwrap(),
            TestCase::new("assert sum_odd([]) == 0").unwrap(),
        ],
        "sum_odd",
    )
    .unwrap();
    prompt::repair(&task, None, &[])
}

fn llama_cpp(python: &Path, model: &Path, tokens: &[u32], n: usize, threads: usize) -> (f64, f64) {
    let request = serde_json::json!({
        "op": "bench", "model": model, "tokens": tokens, "n": n, "threads": threads, "reps": 1,
    });
    let mut child = Command::new(python)
        .arg(workspace().join("next-models/scripts/llama_cpp_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the llama.cpp reference failed");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        answer["prefill_tok_s"].as_f64().unwrap(),
        answer["decode_tok_s"].as_f64().unwrap(),
    )
}

fn main() {
    let model_path = common::model_path();
    let python = std::env::var_os("NEXT_LLAMA_PYTHON")
        .map_or_else(|| workspace().join(".cache/venv/bin/python"), PathBuf::from);
    let weights = match std::env::var("NEXT_BENCH_WEIGHTS").as_deref() {
        Ok("f32") => WeightFormat::F32,
        Ok("as_stored") => WeightFormat::AsStored,
        _ => WeightFormat::Q8_0,
    };
    let reps = env_usize("NEXT_BENCH_REPS", 3);
    let n_decode = env_usize("NEXT_BENCH_TOKENS", 64);
    let threads = candle_threads();

    let loading = Instant::now();
    let model = LocalModel::load(&model_path, weights, 4096).unwrap();
    println!(
        "model {} loaded in {:.2?} (weights {weights:?}), {threads} thread(s)",
        model_path.display(),
        loading.elapsed()
    );
    let tokens = model.prompt_tokens(&repair_prompt()).unwrap();
    println!(
        "prompt: {} tokens; decoding {n_decode} tokens",
        tokens.len()
    );

    // 1. candle against llama.cpp, alternating.
    let greedy = SamplingParams {
        temperature: 0.0,
        max_tokens: u32::try_from(n_decode).unwrap(),
        ..SamplingParams::default()
    };
    let (mut c_prefill, mut c_decode, mut l_prefill, mut l_decode) = (0f64, 0f64, 0f64, 0f64);
    for _ in 0..reps {
        let g = model
            .generate(&tokens, 1, &greedy, 0, 1, &|| false)
            .unwrap();
        c_prefill = c_prefill.max(g.prompt_tokens as f64 / g.prefill.as_secs_f64());
        // The first token comes from the prompt's logits; the steps decode the rest.
        c_decode = c_decode.max(g.steps as f64 / g.decode.as_secs_f64());
        let (p, d) = llama_cpp(&python, &model_path, &tokens, n_decode, threads);
        l_prefill = l_prefill.max(p);
        l_decode = l_decode.max(d);
    }
    println!(
        "prefill: candle {c_prefill:8.1} tok/s, llama.cpp {l_prefill:8.1} tok/s, ratio {:.2}x",
        c_prefill / l_prefill
    );
    println!(
        "decode:  candle {c_decode:8.1} tok/s, llama.cpp {l_decode:8.1} tok/s, ratio {:.2}x (goal >= 1.0x)",
        c_decode / l_decode
    );

    // 2. n = 8 samples: one batch against one call each.
    let n = 8;
    let params = |seed| SamplingParams {
        temperature: 0.8,
        top_p: 0.95,
        max_tokens: u32::try_from(n_decode).unwrap(),
        seed: Some(seed),
        stop: Vec::new(),
    };
    let started = Instant::now();
    let batched = model
        .generate(&tokens, n, &params(7), 7, n, &|| false)
        .unwrap();
    let batched_wall = started.elapsed().as_secs_f64();
    let batched_tokens = batched.generated_tokens();
    let started = Instant::now();
    let mut one_tokens = 0;
    let mut one_decode = 0.0;
    for k in 0..n as u64 {
        let g = model
            .generate(&tokens, 1, &params(7 + k), 7 + k, 1, &|| false)
            .unwrap();
        one_tokens += g.generated_tokens();
        one_decode += g.decode.as_secs_f64();
    }
    let one_wall = started.elapsed().as_secs_f64();
    println!(
        "n={n} batched:    {:8.1} tok/s ({batched_tokens} tokens in {batched_wall:.2} s; decoding {:.2} s)",
        batched_tokens as f64 / batched_wall,
        batched.decode.as_secs_f64()
    );
    println!(
        "n={n} one by one: {:8.1} tok/s ({one_tokens} tokens in {one_wall:.2} s; decoding {one_decode:.2} s)",
        one_tokens as f64 / one_wall
    );
    println!(
        "batched / one by one: {:.2}x end to end, {:.2}x decoding alone (goal >= 3x)",
        (batched_tokens as f64 / batched_wall) / (one_tokens as f64 / one_wall),
        (batched_tokens as f64 / batched.decode.as_secs_f64()) / (one_tokens as f64 / one_decode)
    );
}
