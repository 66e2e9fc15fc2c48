//! The shared helpers drive a whole loop, as the `mock_loop` example does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Mutex;

use futures::executor::block_on;
use next_core::prelude::*;
use next_core::testing::MockVerifier;

#[test]
fn demo_tasks_are_distinct_buggy_tasks() {
    let train = next_examples::demo_tasks("train", 12).unwrap();
    let dev = next_examples::demo_tasks("dev", 6).unwrap();
    let ids: HashSet<_> = train.iter().chain(&dev).map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), 18, "ids repeat across the sets");
    for task in train.iter().chain(&dev) {
        let verdict = MockVerifier::judge(&task.program, &task.tests);
        assert_eq!(verdict.outcomes.len(), task.tests.len());
        assert!(
            verdict.outcomes.iter().all(|o| o.name() == "fail"),
            "{}",
            task.id
        );
    }
}

#[test]
fn the_helpers_run_a_loop_that_learns() {
    let train = next_examples::demo_tasks("train", 12).unwrap();
    let dev = next_examples::demo_tasks("dev", 6).unwrap();
    let looped =
        SelfTraining::new(next_examples::mock_roles(), next_examples::demo_config(3)).unwrap();
    let lines = Mutex::new(Vec::new());
    let observer = |event: &Progress<'_>| {
        if let Some(line) = next_examples::describe(event) {
            lines.lock().unwrap().push(line);
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = block_on(looped.run(dir.path(), &train, &dev, &observer)).unwrap();

    let lines = lines.into_inner().unwrap();
    assert!(lines[0].starts_with("starting run: 12 training tasks, 6 development tasks"));
    for phase in ["eval-0:", "filter:", "iter-1:", "eval-3:"] {
        assert!(lines.iter().any(|l| l.starts_with(phase)), "{lines:#?}");
    }

    // The mock model's skill grows with training, so some checkpoint beats the base
    // model, and it is the one chosen.
    assert_eq!(summary.iterations.len(), 3);
    let base = summary.base_eval.pass_at(1).unwrap();
    assert!(
        summary.best.iteration > 0 && summary.best.value > base,
        "{summary:#?}"
    );

    let report = next_examples::report(&summary);
    assert_eq!(report.lines().count(), 5, "{report}");
    assert!(report.contains(&format!(
        "chosen: iteration {} ({})",
        summary.best.iteration, summary.best.checkpoint.name
    )));

    // Run again in the same directory, as the example does: it resumes to the same end.
    let again =
        SelfTraining::new(next_examples::mock_roles(), next_examples::demo_config(3)).unwrap();
    let resumed = block_on(again.resume(dir.path(), &NoObserver)).unwrap();
    assert_eq!(resumed, summary);
}
