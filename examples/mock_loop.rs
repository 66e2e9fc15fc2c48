//! The whole NExT self-training loop, embedded in a program, over `next-core`'s mock
//! roles: no model, no Python, no network.
//!
//! ```text
//! cargo run -p next-examples --example mock_loop            # in a temporary directory
//! cargo run -p next-examples --example mock_loop -- RUN_DIR # keep the run; run again to resume it
//! ```
//!
//! It builds a [`SelfTraining`] over `NoneTracer`, `NoneRenderer`, `MockSampler`,
//! `MockVerifier` and `MockTrainer` ([`next_examples::mock_roles`]), runs three
//! iterations on 12 training and 6 development tasks ([`next_examples::demo_tasks`]),
//! prints progress as it goes (an observer closure) and then each iteration's pass@1 on
//! the development tasks and the checkpoint the loop chose.

use std::error::Error;
use std::path::{Path, PathBuf};

use next_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let train = next_examples::demo_tasks("train", 12)?;
    let dev = next_examples::demo_tasks("dev", 6)?;
    let looped = SelfTraining::new(next_examples::mock_roles(), next_examples::demo_config(3))?;

    // Any `Fn(&Progress)` is an observer; the loop calls it synchronously, in order.
    let observer = |event: &Progress<'_>| {
        if let Some(line) = next_examples::describe(event) {
            eprintln!("  {line}");
        }
    };

    // The run directory: the first argument, or a temporary one removed at the end.
    let temporary;
    let dir: PathBuf = if let Some(arg) = std::env::args_os().nth(1) {
        PathBuf::from(arg)
    } else {
        temporary = tempfile::tempdir()?;
        temporary.path().to_owned()
    };

    let summary = if holds_run(&dir) {
        eprintln!("resuming the run in {}", dir.display());
        looped.resume(&dir, &observer).await?
    } else {
        eprintln!("running in {}", dir.display());
        looped.run(&dir, &train, &dev, &observer).await?
    };

    println!("{}", next_examples::report(&summary).trim_end());
    Ok(())
}

/// Whether `dir` already holds a run (the loop writes `config.json` when it starts one).
fn holds_run(dir: &Path) -> bool {
    dir.join("config.json").is_file()
}
