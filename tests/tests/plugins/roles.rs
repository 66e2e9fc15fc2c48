//! Each kind of call across the boundary, from the test plugin's roles.

use std::sync::Arc;

use next_core::plugin::{self, PluginError};
use next_core::prompt::{Message, Prompt, Role};
use next_core::registry::{self, Context, RegistryError};
use next_core::render::TraceRenderer;
use next_core::sample::{RationaleSampler, SampleError, SamplingParams};
use next_core::task::{Program, TaskId, TestCase};
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
use next_core::verify::{Verifier, VerifyError};

use super::build;

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

fn load() {
    plugin::load(build::library("next_test_plugins")).unwrap();
}

fn tests(n: usize) -> Vec<TestCase> {
    (0..n)
        .map(|i| TestCase::new(format!("assert f({i}) == {i}")).unwrap())
        .collect()
}

#[test]
fn a_renderer_answers_for_itself_and_checks_its_options() {
    load();
    let renderer = registry::renderer("noop", &table("width = 3"), &Context::new()).unwrap();
    assert_eq!(renderer.name(), "noop");
    assert!(!renderer.shows_execution());
    assert_eq!(renderer.legend(), "the program as it is");
    let program = Program::new("def f(x):\n    return x\n");
    assert_eq!(renderer.render(&program, &tests(1), &[]), program.source());

    let err = registry::renderer("noop", &table("widht = 3"), &Context::new())
        .err()
        .unwrap();
    assert!(matches!(err, RegistryError::Options { .. }), "{err}");
    assert!(err.to_string().contains("widht"), "{err}");
}

#[test]
fn async_roles_answer_inside_and_outside_a_runtime() {
    load();
    let verifier: Arc<dyn Verifier> =
        Arc::from(registry::verifier("noop", &toml::Table::new(), &Context::new()).unwrap());
    let program = Program::new("def f(x):\n    return x\n");
    // Outside any runtime, on this thread.
    let verdict = futures::executor::block_on(verifier.verify(&program, &tests(3))).unwrap();
    assert_eq!(verdict.passes(), 3);
    // On a multi-threaded runtime, from its blocking pool, many at once.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let verdicts = runtime.block_on(async {
        let calls = (1..=8).map(|n| {
            let verifier = Arc::clone(&verifier);
            let program = program.clone();
            tokio::spawn(async move { verifier.verify(&program, &tests(n)).await })
        });
        futures::future::join_all(calls).await
    });
    for (n, verdict) in (1..=8).zip(verdicts) {
        assert_eq!(verdict.unwrap().unwrap().outcomes.len(), n);
    }
}

#[test]
fn role_errors_keep_the_kinds_the_loop_tells_apart() {
    load();
    let sampler = registry::sampler("refusing", &toml::Table::new(), &Context::new()).unwrap();
    let prompt = Prompt {
        messages: vec![Message::new(Role::User, "fix f")],
    };
    let err = common_block_on(sampler.sample(
        &Checkpoint::base(),
        &prompt,
        2,
        &SamplingParams::default(),
    ))
    .err()
    .unwrap();
    assert!(
        matches!(&err, SampleError::Rejected(m) if m == "prompt too long"),
        "{err}"
    );

    let trainer = registry::trainer("deferring", &toml::Table::new(), &Context::new()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let example = TrainExample {
        task: TaskId::new("t/1").unwrap(),
        sample: 0,
        prompt,
        completion: "x".to_owned(),
    };
    let cx =
        TrainContext::for_iteration(out.path(), state.path(), 2, &next_core::observe::NoObserver);
    let err = common_block_on(trainer.train(&Checkpoint::base(), &[example], &cx))
        .err()
        .unwrap();
    let TrainError::Deferred { instructions } = err else {
        panic!("not deferred: {err}");
    };
    assert_eq!(
        instructions,
        format!(
            "train on 1 examples, iteration 2, into {}",
            out.path().display()
        )
    );
}

#[test]
fn a_panic_in_a_call_is_an_error_of_that_call_only() {
    load();
    let path = build::library("next_test_plugins");
    let verifier = registry::verifier("panicking", &toml::Table::new(), &Context::new()).unwrap();
    let err = common_block_on(verifier.verify(&Program::new("panic = 1\n"), &tests(1)))
        .err()
        .unwrap();
    let VerifyError::Backend(source) = &err else {
        panic!("not a backend error: {err}");
    };
    let plugin_err = source.downcast_ref::<PluginError>().unwrap();
    assert!(matches!(plugin_err, PluginError::Panicked { call, .. } if call == "verify"));
    let message = next_core::error::chain(&err);
    assert!(message.contains("the program asked for it"), "{message}");
    assert!(
        message.contains(&*path.file_name().unwrap().to_string_lossy()),
        "{message}"
    );
    // The same role goes on answering.
    let verdict = common_block_on(verifier.verify(&Program::new("x = 1\n"), &tests(2))).unwrap();
    assert_eq!(verdict.passes(), 2);

    // A builder that panics is a build error.
    let err = registry::renderer("panicking-build", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    let message = next_core::error::chain(&err);
    assert!(matches!(err, RegistryError::Build { .. }), "{message}");
    assert!(
        message.contains("this renderer cannot be built"),
        "{message}"
    );
    assert!(message.contains("panicked in `build`"), "{message}");
}

#[test]
fn a_renderer_that_fails_renders_the_failure_above_the_program() {
    // `TraceRenderer::render` has no error: a failed call renders as the program under
    // a comment line that says what failed.
    load();
    let renderer = registry::renderer("panicking", &toml::Table::new(), &Context::new()).unwrap();
    let program = Program::new("panic = 1\n");
    let text = renderer.render(&program, &tests(1), &[]);
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(first.starts_with("# rendering failed: "), "{text}");
    assert!(first.contains("panicked in `render`"), "{text}");
    assert!(first.contains("cannot render that"), "{text}");
    assert!(first.contains("next_test_plugins"), "{text}");
    assert_eq!(rest, program.source());
    // And renders normally otherwise.
    let fine = Program::new("x = 1\n");
    assert_eq!(renderer.render(&fine, &tests(1), &[]), fine.source());
}

fn common_block_on<F: std::future::Future>(future: F) -> F::Output {
    super::common::block_on(future)
}
