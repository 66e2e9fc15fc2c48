//! A run's record files do not depend on its concurrency: tasks that finish out of
//! order still have their samples, verdicts and failures written in task order, so two
//! runs of one configuration are byte-identical; and a run resumes with another
//! concurrency, which cannot change a result.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use next_core::observe::NoObserver;
use next_core::prompt::Prompt;
use next_core::run::RunError;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::self_training::{Concurrency, Roles, SelfTraining};
use next_core::testing::{MockSampler, MockTracer, MockTrainer, MockVerifier};
use next_core::train::Checkpoint;

use common::{block_on, config, fixed_tasks, TracedRenderer};

/// Pending `n` times (waking itself each time), then ready.
struct Yield(usize);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The mock sampler, slower on some prompts than on others, so that with several tasks
/// at once they finish out of order.
#[derive(Clone)]
struct Uneven(MockSampler);

#[async_trait]
impl RationaleSampler for Uneven {
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        let text = prompt.to_plain_text();
        let delay = text.bytes().map(usize::from).sum::<usize>() % 23;
        Yield(delay * 7).await;
        self.0.sample(model, prompt, n, params).await
    }
}

/// The mock roles, with the uneven sampler.
fn roles() -> Roles<MockTracer, TracedRenderer, Uneven, MockVerifier, MockTrainer> {
    Roles {
        tracer: MockTracer::new(),
        renderer: TracedRenderer,
        sampler: Uneven(MockSampler::default()),
        verifier: MockVerifier::new(),
        trainer: MockTrainer::new(),
    }
}

/// The record files of a finished run in `concurrency`, by name.
fn records(concurrency: Concurrency, dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let tasks = fixed_tasks(8);
    let (train, dev) = tasks.split_at(5);
    let mut config = config(7, 1, 4, 2);
    config.concurrency = concurrency;
    let roles = roles();
    let looped = SelfTraining::new(roles, config).unwrap();
    block_on(looped.run(dir, train, dev, &NoObserver)).unwrap();
    let mut files = Vec::new();
    for phase in ["filter", "iter-1", "eval-0", "eval-1"] {
        for name in [
            "samples.jsonl",
            "verdicts.jsonl",
            "failures.jsonl",
            "train.jsonl",
        ] {
            let path = dir.join(phase).join(name);
            if let Ok(bytes) = std::fs::read(&path) {
                files.push((format!("{phase}/{name}"), bytes));
            }
        }
    }
    files
}

#[test]
fn record_files_are_the_same_at_any_concurrency_and_resume_at_another() {
    let one = tempfile::tempdir().unwrap();
    let many = tempfile::tempdir().unwrap();
    let serial = records(
        Concurrency {
            tasks: 1,
            samplers: 1,
            verifiers: 1,
        },
        one.path(),
    );
    let parallel = records(
        Concurrency {
            tasks: 5,
            samplers: 3,
            verifiers: 4,
        },
        many.path(),
    );
    assert!(serial
        .iter()
        .any(|(name, bytes)| name.ends_with("samples.jsonl") && !bytes.is_empty()));
    assert_eq!(
        serial.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        parallel.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in serial.iter().zip(&parallel) {
        assert!(a == b, "{name} differs between concurrency 1 and 5");
    }

    // The finished run resumes with another concurrency: nothing to redo, no refusal.
    let mut config = config(7, 1, 4, 2);
    config.concurrency.tasks = 2;
    let roles = roles();
    let looped = SelfTraining::new(roles, config).unwrap();
    block_on(looped.resume(many.path(), &NoObserver)).unwrap();
}

#[test]
fn an_edited_record_of_a_finished_phase_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let concurrency = Concurrency {
        tasks: 2,
        samplers: 2,
        verifiers: 2,
    };
    records(concurrency.clone(), dir.path());
    let samples = dir.path().join("filter/samples.jsonl");
    let text = std::fs::read_to_string(&samples).unwrap();
    let edited = text.replacen("\"raw\":\"", "\"raw\":\"edited ", 1);
    assert_ne!(text, edited, "the sample file holds a raw answer to edit");
    std::fs::write(&samples, edited).unwrap();
    let mut config = config(7, 1, 4, 2);
    config.concurrency = concurrency;
    let roles = roles();
    let looped = SelfTraining::new(roles, config).unwrap();
    match block_on(looped.resume(dir.path(), &NoObserver)) {
        Err(RunError::Tampered(path)) => assert_eq!(path, samples),
        other => panic!("an edited record was accepted: {other:?}"),
    }
}
