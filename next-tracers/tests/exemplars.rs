//! The shipped few-shot exemplars, checked with the real tracer, renderers and verifier:
//! each buggy program fails its tests and each fix passes them, and every fragment a
//! rationale quotes (between backticks) is there to be read: in the exemplar rendered
//! by that rationale's renderer (for `none`, the program alone), the program, the
//! tests or the fix. A rationale that cites a trace value the trace does not hold would
//! teach the model to make traces up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use next_core::checkpoint::Checkpoint;
use next_core::prompt::shots::{Exemplar, Exemplars};
use next_core::prompt::Prompt;
use next_core::render::{NoneRenderer, TraceRenderer};
use next_core::repair::Repairer;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::sandbox::Sandbox;
use next_core::verify::Verifier;
use next_tracers::python::PythonTracer;
use next_tracers::render::{
    BlocksOptions, BlocksRenderer, InlineOptions, InlineRenderer, ScratchpadOptions,
    ScratchpadRenderer,
};
use next_verifiers::verify::TestVerifier;

/// Rendering shots samples nothing.
struct Unused;

#[async_trait]
impl RationaleSampler for Unused {
    async fn sample(
        &self, _: &Checkpoint, _: &Prompt, _: usize, _: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        unreachable!("rendering shots samples nothing")
    }
}

fn renderers() -> Vec<Box<dyn TraceRenderer>> {
    vec![
        Box::new(InlineRenderer::new(InlineOptions::default()).unwrap()),
        Box::new(ScratchpadRenderer::new(ScratchpadOptions::default()).unwrap()),
        Box::new(BlocksRenderer::new(BlocksOptions::default()).unwrap()),
        Box::new(NoneRenderer),
    ]
}

/// The fragments of `text` between backticks.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn buggy_programs_fail_and_fixes_pass() {
    let python = common::one_python();
    let sandbox: Arc<dyn Sandbox> = common::sandbox(&python);
    let verifier = TestVerifier::new(sandbox);
    let runtime = common::runtime();
    for shot in Exemplars::shipped().all() {
        let task = shot.task();
        let buggy = runtime
            .block_on(verifier.verify(&task.program, &task.tests))
            .unwrap();
        let fixed = runtime
            .block_on(verifier.verify(shot.fix(), &task.tests))
            .unwrap();
        assert!(!buggy.passed(), "{}: the buggy program passes", task.id);
        assert!(fixed.passed(), "{}: the fix fails: {fixed:?}", task.id);
    }
}

#[test]
fn rationales_quote_only_what_their_renderer_shows() {
    let python = common::one_python();
    let sandbox: Arc<dyn Sandbox> = common::sandbox(&python);
    let tracer = PythonTracer::new(sandbox.clone());
    let verifier = TestVerifier::new(sandbox);
    let runtime = common::runtime();
    let exemplars = Exemplars::shipped();
    for renderer in renderers() {
        let repairer = Repairer::new(&tracer, &*renderer, &Unused, &verifier);
        let shots = runtime
            .block_on(repairer.render_shots(exemplars.all()))
            .unwrap();
        assert_eq!(shots.len(), exemplars.len());
        for (shot, exemplar) in shots.iter().zip(exemplars.all()) {
            let name = renderer.name();
            assert_eq!(
                shot.rendered.is_some(),
                renderer.shows_execution(),
                "{name}"
            );
            assert!(shot.rationale.ends_with("Here is a fixed version:"));
            let readable = readable(exemplar, shot.rendered.as_deref());
            let quotes = quoted(&shot.rationale);
            assert!(
                quotes.len() >= 2,
                "{name} {}: quotes too little",
                exemplar.task().id
            );
            for quote in quotes {
                assert!(
                    readable.contains(quote),
                    "{name} {}: `{quote}` is nowhere in what the model reads:\n{readable}",
                    exemplar.task().id
                );
            }
        }
    }
}

/// What the model reads of an exemplar, and its fix.
fn readable(exemplar: &Exemplar, rendered: Option<&str>) -> String {
    let task = exemplar.task();
    let tests: Vec<&str> = task
        .tests
        .iter()
        .map(next_core::task::TestCase::code)
        .collect();
    [
        rendered.unwrap_or_default(),
        task.program.source(),
        &tests.join("\n"),
        exemplar.fix().source(),
    ]
    .join("\n")
}

#[test]
fn a_rendered_shot_leads_the_base_models_prompt_only() {
    let python = common::one_python();
    let sandbox: Arc<dyn Sandbox> = common::sandbox(&python);
    let tracer = PythonTracer::new(sandbox.clone());
    let verifier = TestVerifier::new(sandbox);
    let renderer = InlineRenderer::new(InlineOptions::default()).unwrap();
    let runtime = common::runtime();
    let exemplars = Exemplars::shipped();
    let repairer = Repairer::new(&tracer, &renderer, &Unused, &verifier);
    let shots = runtime
        .block_on(repairer.render_shots(exemplars.first(2).unwrap()))
        .unwrap();
    let repairer = repairer.with_shots(&shots);
    let task = exemplars.all()[2].task();
    let bare = runtime.block_on(repairer.prompt(task)).unwrap();
    assert_eq!(bare.messages.len(), 2);
    let led = repairer.led(&Checkpoint::base(), &bare);
    assert_eq!(led.messages.len(), 6);
    assert!(
        led.messages[1].content.contains("(6) __return__=5;"),
        "{}",
        led.messages[1].content
    );
    assert_eq!(led.messages.last(), bare.messages.last());
    let tuned = Checkpoint {
        name: "iter-1".into(),
        data: serde_json::Value::Null,
    };
    assert_eq!(*repairer.led(&tuned, &bare), bare);
    assert_eq!(repairer.shots_for_tuned(true).led(&tuned, &bare), led);
}
