//! One LoRA training step of the local model, against PyTorch + PEFT on the same GGUF,
//! in one run.
//!
//! ```sh
//! bash next-models/scripts/train-bench-setup.sh     # once: the PyTorch + PEFT venv
//! cargo bench -p next-models --features candle --bench train
//! ```
//!
//! Both train rank-`NEXT_BENCH_RANK` (default 8) adapters on the seven projections of
//! every layer of SmolLM2-135M-Instruct (weights dequantized to `f32`), AdamW, no
//! dropout, on `NEXT_BENCH_BATCH` (default 1) sequences of `NEXT_BENCH_SEQ` (default
//! 512) random tokens whose first half is a masked prompt, with the same thread count
//! (candle's, `CANDLE_NUM_THREADS` or the cores). After `NEXT_BENCH_WARMUP` (default 1)
//! untimed steps, `NEXT_BENCH_STEPS` (default 3) steps are timed; the median is
//! reported as seconds per step and tokens per second, with each side's peak resident
//! memory and the ratio PyTorch / candle of seconds per step. Goal: at least 1.0x (no
//! slower than PyTorch). PyTorch runs as a subprocess (`scripts/peft_train_step.py`)
//! after candle, so that each peak is its own; its Python is `NEXT_TRAIN_BENCH_PYTHON`,
//! or the venv that `train-bench-setup.sh` makes. The candle side runs on mimalloc, as
//! `next` does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::path::PathBuf;
use std::process::Command;

use next_models::candle::train::{time_steps, Target};
use next_models::candle::LoraConfig;

mod common;

use common::{candle_threads, env_usize, workspace};

/// An allocator that keeps freed memory for the next tensor: the system allocator
/// returns every large tensor to the kernel when it is dropped and takes it back page
/// by page, and on a training step's thousands of tensors those page faults (and the
/// TLB shootdowns of unmapping) cost a sixth of the time (measured, before the later
/// fusions: 4.58 s a step with the system allocator, 3.85 s with this one). `next` uses
/// the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This process's peak resident memory, from `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("NEXT_TRAIN_BENCH_PYTHON") {
        return PathBuf::from(python);
    }
    let cache = std::env::var_os("NEXT_CACHE_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/next"),
        PathBuf::from,
    );
    let venv = std::env::var_os("NEXT_TRAIN_BENCH_VENV")
        .map_or_else(|| cache.join("train-bench-venv"), PathBuf::from);
    venv.join("bin/python")
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn main() {
    let model = common::model_path();
    let rank = env_usize("NEXT_BENCH_RANK", 8);
    let batch = env_usize("NEXT_BENCH_BATCH", 1);
    let seq = env_usize("NEXT_BENCH_SEQ", 512);
    let warmup = env_usize("NEXT_BENCH_WARMUP", 1);
    let steps = env_usize("NEXT_BENCH_STEPS", 3);
    let threads = candle_threads();
    println!(
        "LoRA step on {}: rank {rank}, 7 projections, batch {batch} x {seq} tokens (half \
         masked), {threads} thread(s), {warmup} warm-up + {steps} timed steps",
        model.display()
    );

    let config = LoraConfig {
        rank,
        alpha: 16.0,
        dropout: 0.0,
        targets: Target::ALL.to_vec(),
        learning_rate: 1e-4,
        ..LoraConfig::default()
    };
    let candle = time_steps(&model, &config, batch, seq, warmup, steps, 0).unwrap();
    let candle_peak = peak_rss_bytes().map_or(f64::NAN, |b| b as f64);
    let c_step = candle.median();
    let c_tps = candle.tokens_per_step as f64 / c_step;
    println!(
        "candle:        {c_step:7.2} s/step {c_tps:8.1} tokens/s, peak {:7.0} MiB, steps {:?}, loss {:.3} -> {:.3}",
        mib(candle_peak),
        candle.seconds.iter().map(|s| (s * 100.0).round() / 100.0).collect::<Vec<_>>(),
        candle.losses.first().copied().unwrap_or(f64::NAN),
        candle.losses.last().copied().unwrap_or(f64::NAN),
    );

    let python = python();
    let output = Command::new(&python)
        .arg(workspace().join("next-models/scripts/peft_train_step.py"))
        .args(["--gguf", &model.display().to_string()])
        .args([
            "--rank",
            &rank.to_string(),
            "--alpha",
            "16",
            "--dropout",
            "0",
        ])
        .args(["--batch", &batch.to_string(), "--seq-len", &seq.to_string()])
        .args([
            "--warmup",
            &warmup.to_string(),
            "--steps",
            &steps.to_string(),
        ])
        .args(["--threads", &threads.to_string()])
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "running {}: {err}; run next-models/scripts/train-bench-setup.sh",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "peft_train_step.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let torch: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|err| panic!("peft_train_step.py printed {line:?}: {err}"));
    let t_step = torch["sec_per_step"].as_f64().unwrap();
    let t_tps = torch["tokens_per_sec"].as_f64().unwrap();
    let t_peak = torch["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN);
    println!(
        "pytorch+peft:  {t_step:7.2} s/step {t_tps:8.1} tokens/s, peak {:7.0} MiB (torch {}, peft {}), loss {:.3} -> {:.3}",
        mib(t_peak),
        torch["torch"],
        torch["peft"],
        torch["loss_first"].as_f64().unwrap_or(f64::NAN),
        torch["loss_last"].as_f64().unwrap_or(f64::NAN),
    );
    println!(
        "ratio: candle is {:.2}x the speed of PyTorch + PEFT (goal >= 1.0x); peak memory {:.2}x",
        t_step / c_step,
        candle_peak / t_peak
    );
}
