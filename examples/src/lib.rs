//! Helpers the example programs of this workspace share: demonstration tasks that the
//! mock roles can judge, a small loop configuration, the mock roles wired together, and
//! one-line descriptions of progress events and of a run's result.
//!
//! Run the examples with `cargo run -p next-examples --example NAME`:
//!
//! - `mock_loop`: the whole self-training loop over `next-core`'s mock roles (no model,
//!   no Python), three iterations on [`demo_tasks`], printing progress, each
//!   iteration's dev pass@1 and the chosen checkpoint. Give it a directory as its first
//!   argument to keep the run (a second call resumes it); otherwise it runs in a
//!   temporary one.
//!
//! The helpers in a few lines:
//!
//! ```
//! use next_core::prelude::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let train = next_examples::demo_tasks("train", 6)?;
//! let dev = next_examples::demo_tasks("dev", 3)?;
//! let looped = SelfTraining::new(next_examples::mock_roles(), next_examples::demo_config(1))?;
//! let dir = tempfile::tempdir()?;
//! let summary = futures::executor::block_on(looped.run(dir.path(), &train, &dev, &NoObserver))?;
//! let report = next_examples::report(&summary);
//! assert!(report.contains("chosen: iteration"));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::fmt::Write as _;

use next_core::prelude::*;
use next_core::testing::{
    mark, task_tag, MockSampler, MockTrainer, MockVerifier, Skill, VerdictPattern,
};

/// A buggy program, what it should do, and the tests a fix must pass.
struct Template {
    spec: &'static str,
    entry_point: &'static str,
    program: &'static str,
    tests: &'static [&'static str],
}

/// Small buggy programs in the style of MBPP-R, each with an off-by-something bug.
const TEMPLATES: [Template; 4] = [
    Template {
        spec: "Return the sum of the odd numbers of a list.",
        entry_point: "sum_odd",
        program: "def sum_odd(xs):\n    return sum(xs)\n",
        tests: &[
            "assert sum_odd([1, 2, 3]) == 4",
            "assert sum_odd([2, 4]) == 0",
            "assert sum_odd([]) == 0",
        ],
    },
    Template {
        spec: "Return the last element of a non-empty list.",
        entry_point: "last",
        program: "def last(xs):\n    return xs[0]\n",
        tests: &["assert last([1, 2, 3]) == 3", "assert last([7]) == 7"],
    },
    Template {
        spec: "Return whether an integer is even.",
        entry_point: "is_even",
        program: "def is_even(n):\n    return n % 2 == 1\n",
        tests: &["assert is_even(2)", "assert not is_even(3)"],
    },
    Template {
        spec: "Return the largest of three numbers.",
        entry_point: "largest",
        program: "def largest(a, b, c):\n    return max(a, b)\n",
        tests: &[
            "assert largest(1, 2, 3) == 3",
            "assert largest(3, 2, 1) == 3",
            "assert largest(1, 3, 2) == 3",
        ],
    },
];

/// The demonstration task `id`, made from the `index`-th buggy program (they cycle).
///
/// The spec starts with the task's [`task_tag`], so that
/// [`MockSampler::with_task_skill`] can give it its own skill; the program carries the
/// marker `# mock-verdict: fail`, so that [`MockVerifier`] fails it on every test, as a
/// buggy program should. The program is real Python, buggy for real.
///
/// # Errors
/// [`InvalidInput`] when the task cannot be made (it always can; the tests are fixed
/// and non-empty).
pub fn demo_task(id: &TaskId, index: usize) -> Result<RepairTask, InvalidInput> {
    let template = &TEMPLATES[index % TEMPLATES.len()];
    let tests = template
        .tests
        .iter()
        .map(|code| TestCase::new(*code))
        .collect::<Result<Vec<_>, _>>()?;
    let program = mark(&Program::new(template.program), &VerdictPattern::fail());
    RepairTask::new(
        id.clone(),
        format!("{} {}", task_tag(id), template.spec),
        program,
        tests,
        template.entry_point,
    )
}

/// `n` demonstration tasks ([`demo_task`]) with the ids `PREFIX/0` to `PREFIX/{n-1}`,
/// all distinct.
///
/// # Errors
/// [`InvalidInput`] when `prefix` makes an invalid task id (it holds a line break).
pub fn demo_tasks(prefix: &str, n: usize) -> Result<Vec<RepairTask>, InvalidInput> {
    (0..n)
        .map(|i| demo_task(&TaskId::new(format!("{prefix}/{i}"))?, i))
        .collect()
}

/// A loop configuration small enough for a demonstration: `iterations` iterations, 8
/// samples per task everywhere, pass@1 and pass@8 on the development tasks; everything
/// else is [`LoopConfig::default`].
pub fn demo_config(iterations: u32) -> LoopConfig {
    let defaults = LoopConfig::default();
    LoopConfig {
        iterations,
        samples_per_task: 8,
        eval: Evaluation {
            samples_per_task: 8,
            ks: vec![1, 8],
            ..defaults.eval.clone()
        },
        hard_filter: HardFilter {
            samples_per_task: 8,
            ..defaults.hard_filter.clone()
        },
        ..defaults
    }
}

/// The roles of a loop without a model: no traces, the bare buggy program as the
/// prompt, a mock model whose skill starts at 0.05 and grows by 0.02 per training
/// example up to 0.9, the mock verifier and the mock trainer.
pub fn mock_roles() -> Roles<NoneTracer, NoneRenderer, MockSampler, MockVerifier, MockTrainer> {
    Roles {
        tracer: NoneTracer,
        renderer: NoneRenderer,
        sampler: MockSampler::new(Skill::growing(0.05, 0.02, 0.9)),
        verifier: MockVerifier::new(),
        trainer: MockTrainer::new(),
    }
}

/// One line describing a progress event worth printing (a run starting, a phase
/// finishing, a training, a role failing), or `None` for the fine-grained ones
/// (samples, verdicts, tasks).
pub fn describe(event: &Progress<'_>) -> Option<String> {
    match event {
        Progress::RunStarted {
            train_tasks,
            dev_tasks,
            resumed,
        } => Some(format!(
            "{} run: {train_tasks} training tasks, {dev_tasks} development tasks",
            if *resumed { "resuming" } else { "starting" }
        )),
        Progress::PhaseFinished { phase, metrics } => {
            let rates: Vec<String> = metrics
                .pass_at_k
                .iter()
                .map(|(k, v)| format!("{k} {v:.3}"))
                .collect();
            Some(format!(
                "{phase}: {} tasks, {}/{} samples passed; {}",
                metrics.tasks,
                metrics.passed,
                metrics.samples_requested,
                rates.join(", ")
            ))
        }
        Progress::Trained {
            iteration,
            checkpoint,
            examples: 0,
        } => Some(format!(
            "iter-{iteration}: nothing passed, keeping {}",
            checkpoint.name
        )),
        Progress::Trained {
            iteration,
            checkpoint,
            examples,
        } => Some(format!(
            "iter-{iteration}: trained {} on {examples} examples",
            checkpoint.name
        )),
        Progress::RoleFailed {
            phase,
            task,
            stage,
            message,
        } => Some(format!("{phase}: {stage} failed on {task}: {message}")),
        _ => None,
    }
}

/// The result of a run in a few lines: the base model's and each iteration's pass@1 on
/// the development tasks, then the chosen checkpoint.
pub fn report(summary: &Summary) -> String {
    let pass_at_1 = |metrics: &next_core::run::PhaseMetrics| {
        metrics
            .pass_at(1)
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
    };
    let mut text = format!(
        "base model:   dev pass@1 {}\n",
        pass_at_1(&summary.base_eval)
    );
    for report in &summary.iterations {
        let _ = writeln!(
            text,
            "iteration {}:  dev pass@1 {}  ({}, {} training examples)",
            report.iteration,
            pass_at_1(&report.eval),
            report.checkpoint.name,
            report.train.train_examples.unwrap_or(0)
        );
    }
    let _ = writeln!(
        text,
        "chosen: iteration {} ({}), dev {} = {:.3}",
        summary.best.iteration,
        summary.best.checkpoint.name,
        summary.best.metric,
        summary.best.value
    );
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use futures::executor::block_on;

    use super::*;

    #[test]
    fn demo_tasks_are_valid_and_uniquely_identified() {
        let tasks = demo_tasks("demo", 10).unwrap();
        assert_eq!(tasks.len(), 10);
        let ids: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 10);
        for (i, task) in tasks.iter().enumerate() {
            assert_eq!(task.id.as_str(), format!("demo/{i}"));
            assert!(task.spec.contains(&task_tag(&task.id)));
            assert!(!task.tests.is_empty());
            assert!(task
                .program
                .source()
                .contains(&format!("def {}(", task.entry_point)));
            // A task survives its JSON Lines form, as `next run` reads it.
            let line = serde_json::to_string(task).unwrap();
            assert_eq!(&serde_json::from_str::<RepairTask>(&line).unwrap(), task);
        }
        assert!(demo_tasks("demo", 0).unwrap().is_empty());
    }

    #[test]
    fn buggy_programs_fail_every_test_under_the_mock_verifier() {
        let verifier = MockVerifier::new();
        for task in demo_tasks("t", 8).unwrap() {
            let verdict = block_on(verifier.verify(&task.program, &task.tests)).unwrap();
            assert_eq!(verdict.outcomes.len(), task.tests.len());
            assert_eq!(verdict.passes(), 0, "{}", task.id);
            assert!(!verdict.passed());
        }
    }

    #[test]
    fn a_bad_prefix_is_an_error() {
        assert!(demo_tasks("bad\nprefix", 2).is_err());
    }

    #[test]
    fn the_demo_config_is_valid() {
        for iterations in 1..=3 {
            demo_config(iterations).validate().unwrap();
        }
    }
}
