//! Helpers shared by the loop's property tests.

#![allow(dead_code, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use next_core::observe::{Observer, Progress};
use next_core::render::TraceRenderer;
use next_core::self_training::{Concurrency, Evaluation, HardFilter, LoopConfig};
use next_core::task::{Program, RepairTask, TestCase};
use next_core::trace::Trace;

/// Runs a future to its end on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// A small, fast loop configuration.
pub fn config(seed: u64, iterations: u32, samples: usize, keep: usize) -> LoopConfig {
    LoopConfig {
        iterations,
        samples_per_task: samples,
        max_rationales_per_task: keep,
        hard_filter: HardFilter {
            enabled: true,
            samples_per_task: samples,
            k: 1,
            threshold: 0.5,
        },
        eval: Evaluation {
            samples_per_task: samples,
            ks: vec![1],
            select_k: 1,
        },
        concurrency: Concurrency {
            tasks: 3,
            samplers: 2,
            verifiers: 2,
        },
        seed,
        ..LoopConfig::default()
    }
}

/// Splits tasks into non-empty training and development sets, about `at` of them for
/// training.
pub fn split_tasks(mut tasks: Vec<RepairTask>, at: f64) -> (Vec<RepairTask>, Vec<RepairTask>) {
    assert!(tasks.len() >= 2, "need two tasks to split");
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let cut = ((at * tasks.len() as f64) as usize).clamp(1, tasks.len() - 1);
    let dev = tasks.split_off(cut);
    (tasks, dev)
}

/// `n` tasks from the testing kit's strategy, the same on every run.
pub fn fixed_tasks(n: usize) -> Vec<RepairTask> {
    use proptest::strategy::{Strategy as _, ValueTree as _};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    next_core::testing::strategies::repair_tasks(n..=n)
        .new_tree(&mut runner)
        .expect("the strategy generates tasks")
        .current()
}

/// Reads every line of a JSON Lines file (none if it is missing).
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    next_core::jsonl::read_lines(path)
        .expect("a readable record file")
        .records
}

/// Keeps panics whose message holds `[quiet]` (injected on purpose) off stderr.
pub fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.contains("[quiet]") {
                default(info);
            }
        }));
    });
}

/// An observer that counts events and panics at the `n`-th, like a process killed there.
pub struct CrashAt {
    at: Option<usize>,
    seen: AtomicUsize,
}

impl CrashAt {
    /// Counts, never crashes.
    pub fn never() -> Self {
        Self {
            at: None,
            seen: AtomicUsize::new(0),
        }
    }

    /// Crashes when the `n`-th event (from 0) arrives.
    pub fn after(n: usize) -> Self {
        Self {
            at: Some(n),
            seen: AtomicUsize::new(0),
        }
    }

    /// The event it crashes at, `usize::MAX` for never.
    pub fn at(&self) -> usize {
        self.at.unwrap_or(usize::MAX)
    }

    /// Events seen so far.
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Observer for CrashAt {
    fn observe(&self, _event: &Progress<'_>) {
        let seen = self.seen.fetch_add(1, Ordering::SeqCst);
        assert!(
            Some(seen) != self.at,
            "[quiet] simulated crash at event {seen}"
        );
    }
}

/// A renderer that shows execution: the program, then one comment per trace with its
/// event count. Enough to make the loop call its tracer.
pub struct TracedRenderer;

impl TraceRenderer for TracedRenderer {
    fn name(&self) -> &'static str {
        "traced-test"
    }

    fn render(&self, program: &Program, _tests: &[TestCase], traces: &[Trace]) -> String {
        let mut text = program.source().to_owned();
        for trace in traces {
            let _ = writeln!(text, "# test {}: {} events", trace.test, trace.events.len());
        }
        text
    }
}
