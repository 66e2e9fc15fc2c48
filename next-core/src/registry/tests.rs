#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::error::chain;
use crate::sandbox::{Execution, Job, SandboxError, Termination};
use crate::task::{Program, TestCase};
use crate::trace::{Trace, TraceError, TraceStatus};

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

// --- Test-only factories -------------------------------------------------------------

/// A renderer whose options deny unknown fields.
struct Strict {
    width: u32,
}

impl TraceRenderer for Strict {
    fn name(&self) -> &'static str {
        "test-strict"
    }
    fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
        format!("{}|{}", self.width, program.source())
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictOptions {
    width: u32,
}

fn build_strict(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    let StrictOptions { width } = super::options(RoleKind::TraceRenderer, "test-strict", options)?;
    Ok(Box::new(Strict { width }))
}

crate::register_factory!(
    renderer,
    "test-strict",
    "test: options deny unknown fields",
    build_strict
);

/// A sandbox that counts its jobs and always exits 0.
#[derive(Default)]
struct CountingSandbox {
    jobs: AtomicUsize,
}

#[async_trait]
impl Sandbox for CountingSandbox {
    async fn run(&self, _job: Job) -> Result<Execution, SandboxError> {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        Ok(Execution {
            stdout: Vec::new(),
            stderr: Vec::new(),
            termination: Termination::Exited { code: 0 },
            output_truncated: false,
            wall_time: Duration::from_millis(1),
        })
    }
}

/// A tracer that runs one sandbox job per test and reports it passed.
struct SandboxTracer {
    sandbox: Arc<dyn Sandbox>,
}

#[async_trait]
impl Tracer for SandboxTracer {
    async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError> {
        let mut traces = Vec::new();
        for (test, _) in tests.iter().enumerate() {
            let execution = self.sandbox.run(Job::new(program.source())).await?;
            traces.push(Trace {
                test,
                status: if execution.succeeded() {
                    TraceStatus::Passed
                } else {
                    TraceStatus::Failed
                },
                events: Vec::new(),
                truncated: false,
                incomplete: false,
                stdout: String::new(),
                stderr: String::new(),
            });
        }
        Ok(traces)
    }
}

fn build_sandbox_tracer(
    options: &toml::Table, cx: &Context,
) -> Result<Box<dyn Tracer>, RegistryError> {
    no_options(RoleKind::Tracer, "test-needs-sandbox", options)?;
    let sandbox = cx.require_sandbox(RoleKind::Tracer, "test-needs-sandbox")?;
    Ok(Box::new(SandboxTracer { sandbox }))
}

crate::register_factory!(
    tracer,
    "test-needs-sandbox",
    "test: needs a sandbox",
    build_sandbox_tracer
);

/// Two trainers registered under one name.
fn build_dup_one(_options: &toml::Table, _cx: &Context) -> Result<Box<dyn Trainer>, RegistryError> {
    Err(RegistryError::build(RoleKind::Trainer, "test-dup", "first"))
}

fn build_dup_two(_options: &toml::Table, _cx: &Context) -> Result<Box<dyn Trainer>, RegistryError> {
    Err(RegistryError::build(
        RoleKind::Trainer,
        "test-dup",
        "second",
    ))
}

// The raw `inventory` form, as a backend crate would write it by hand.
inventory::submit! {
    Factory::trainer("test-dup", "test: first of two", build_dup_one)
}
inventory::submit! {
    Factory::trainer("test-dup", "test: second of two", build_dup_two)
}

/// A sampler whose builder fails with a source error.
fn build_failing(
    _options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn RationaleSampler>, RegistryError> {
    Err(RegistryError::build(
        RoleKind::RationaleSampler,
        "test-failing",
        std::io::Error::other("model file missing"),
    ))
}

crate::register_factory!(
    sampler,
    "test-failing",
    "test: always fails to build",
    build_failing
);

// --- Tests ---------------------------------------------------------------------------

#[test]
fn none_renderer_builds_from_a_kind_table_and_renders() {
    let renderer =
        from_table::<dyn TraceRenderer>(&table("kind = \"none\""), &Context::new()).unwrap();
    assert_eq!(renderer.name(), "none");
    assert!(!renderer.shows_execution());
    let program = Program::new("def f():\n    return 1\n\n");
    assert_eq!(
        renderer.render(&program, &[], &[]),
        "def f():\n    return 1\n"
    );

    let same = super::renderer("none", &toml::Table::new(), &Context::new()).unwrap();
    assert_eq!(same.render(&program, &[], &[]), "def f():\n    return 1\n");
}

#[test]
fn none_renderer_rejects_options() {
    let err =
        from_table::<dyn TraceRenderer>(&table("kind = \"none\"\nwidth = 3"), &Context::new())
            .err()
            .unwrap();
    match &err {
        RegistryError::Options {
            role,
            name,
            message,
        } => {
            assert_eq!(*role, RoleKind::TraceRenderer);
            assert_eq!(name, "none");
            assert!(message.contains("`width`"), "{message}");
        }
        other => panic!("expected Options, got {other:?}"),
    }
}

#[test]
fn none_tracer_builds_without_a_sandbox_and_gives_one_trace_per_test() {
    let built = tracer("none", &toml::Table::new(), &Context::new()).unwrap();
    let tests = [
        TestCase::new("assert f() == 1").unwrap(),
        TestCase::new("assert f() == 2").unwrap(),
    ];
    let traces =
        futures::executor::block_on(built.trace(&Program::new("def f(): return 1\n"), &tests))
            .unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[1].test, 1);
    assert!(traces.iter().all(|trace| trace.events.is_empty()));
}

#[test]
fn unknown_name_lists_available_names_of_the_role() {
    let err = renderer("inlne", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    match &err {
        RegistryError::Unknown {
            role,
            name,
            available,
        } => {
            assert_eq!(*role, RoleKind::TraceRenderer);
            assert_eq!(name, "inlne");
            assert!(available.contains(&"none".to_owned()));
            assert!(available.contains(&"test-strict".to_owned()));
            // Only renderers, sorted, no duplicates.
            assert!(!available.contains(&"test-needs-sandbox".to_owned()));
            let mut sorted = available.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(&sorted, available);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("no renderer named `inlne`"), "{message}");
    assert!(
        message.contains("`none`") && message.contains("`test-strict`"),
        "{message}"
    );
}

#[test]
fn unknown_name_of_an_empty_role_says_none_is_compiled_in() {
    // Whether a role has no factory depends on what is linked in, so build the error.
    let err = RegistryError::Unknown {
        role: RoleKind::Verifier,
        name: "tests".to_owned(),
        available: Vec::new(),
    };
    assert_eq!(
        err.to_string(),
        "no verifier named `tests` is compiled in; no verifier is compiled in at all"
    );
}

#[test]
fn options_are_deserialized_and_an_unknown_field_is_named() {
    let renderer = from_table::<dyn TraceRenderer>(
        &table("kind = \"test-strict\"\nwidth = 7"),
        &Context::new(),
    )
    .unwrap();
    assert_eq!(renderer.render(&Program::new("x"), &[], &[]), "7|x");

    let err = from_table::<dyn TraceRenderer>(
        &table("kind = \"test-strict\"\nwidth = 7\ncolour = \"red\""),
        &Context::new(),
    )
    .err()
    .unwrap();
    match &err {
        RegistryError::Options {
            role,
            name,
            message,
        } => {
            assert_eq!(*role, RoleKind::TraceRenderer);
            assert_eq!(name, "test-strict");
            assert!(message.contains("colour"), "{message}");
        }
        other => panic!("expected Options, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("bad options for renderer `test-strict`: "),
        "{text}"
    );
    assert!(text.contains("colour"), "{text}");
}

#[test]
fn a_missing_or_mistyped_option_is_an_options_error() {
    let missing = renderer("test-strict", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    assert!(
        matches!(&missing, RegistryError::Options { message, .. } if message.contains("width")),
        "{missing:?}"
    );
    let mistyped = renderer("test-strict", &table("width = \"wide\""), &Context::new())
        .err()
        .unwrap();
    // The message names the key that holds the wrong value, on one line.
    assert!(
        matches!(&mistyped, RegistryError::Options { message, .. }
            if message.contains("`width`") && !message.contains('\n')),
        "{mistyped:?}"
    );
}

#[test]
fn a_table_without_kind_is_missing_kind() {
    let err = from_table::<dyn RationaleSampler>(&table("model = \"x\""), &Context::new())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            RegistryError::MissingKind {
                role: RoleKind::RationaleSampler
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the sampler table has no `kind` key naming the sampler to build"
    );
}

#[test]
fn a_kind_that_is_not_a_string_is_invalid_kind() {
    let err = from_table::<dyn Tracer>(&table("kind = 3"), &Context::new())
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            RegistryError::InvalidKind {
                role: RoleKind::Tracer,
                found: "integer"
            }
        ),
        "{err:?}"
    );
}

#[test]
fn split_kind_passes_the_rest_of_the_table_as_options() {
    let (name, options) = split_kind(
        RoleKind::RationaleSampler,
        &table("kind = \"openai\"\nmodel = \"x\"\nn = 2"),
    )
    .unwrap();
    assert_eq!(name, "openai");
    assert_eq!(options, table("model = \"x\"\nn = 2"));
}

#[test]
fn a_tracer_needing_a_sandbox_fails_without_one() {
    let err = tracer("test-needs-sandbox", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    match &err {
        RegistryError::MissingSandbox { role, name } => {
            assert_eq!(*role, RoleKind::Tracer);
            assert_eq!(name, "test-needs-sandbox");
        }
        other => panic!("expected MissingSandbox, got {other:?}"),
    }
    assert!(err.to_string().contains("Context::with_sandbox"), "{err}");
}

#[test]
fn a_tracer_needing_a_sandbox_uses_the_one_in_the_context() {
    let sandbox = Arc::new(CountingSandbox::default());
    let cx = Context::new().with_sandbox(sandbox.clone());
    assert!(cx.sandbox().is_some());
    let built = from_table::<dyn Tracer>(&table("kind = \"test-needs-sandbox\""), &cx).unwrap();
    let tests = [TestCase::new("assert True").unwrap()];
    let traces = futures::executor::block_on(built.trace(&Program::new("pass\n"), &tests)).unwrap();
    assert_eq!(traces.len(), 1);
    assert!(traces[0].passed());
    assert_eq!(sandbox.jobs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_duplicate_name_is_an_error_and_both_are_listed() {
    let err = trainer("test-dup", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    match &err {
        RegistryError::Duplicate { role, name } => {
            assert_eq!(*role, RoleKind::Trainer);
            assert_eq!(name, "test-dup");
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert!(err.to_string().contains("`test-dup`"), "{err}");

    let dups: Vec<Entry> = list()
        .into_iter()
        .filter(|entry| entry.role == RoleKind::Trainer && entry.name == "test-dup")
        .collect();
    assert_eq!(dups.len(), 2);
    assert_eq!(dups[0].summary, "test: first of two");
    assert_eq!(dups[1].summary, "test: second of two");
}

#[test]
fn a_builder_failure_keeps_its_source() {
    let err = sampler("test-failing", &toml::Table::new(), &Context::new())
        .err()
        .unwrap();
    assert!(
        matches!(&err, RegistryError::Build { role: RoleKind::RationaleSampler, name, .. } if name == "test-failing")
    );
    assert_eq!(
        chain(&err),
        "cannot build sampler `test-failing`: model file missing"
    );
    assert_eq!(err.role(), RoleKind::RationaleSampler);
}

#[test]
fn list_is_sorted_and_includes_the_core_entries() {
    let entries = list();
    assert!(entries.windows(2).all(|pair| pair[0] <= pair[1]));
    assert!(entries
        .windows(2)
        .all(|pair| (pair[0].role, pair[0].name) <= (pair[1].role, pair[1].name)));
    let has = |role, name| entries.iter().any(|e| e.role == role && e.name == name);
    assert!(has(RoleKind::TraceRenderer, "none"));
    assert!(has(RoleKind::Tracer, "none"));
    assert!(has(RoleKind::TraceRenderer, "test-strict"));
    // Sorted by role in walk order: every tracer comes before every renderer.
    let last_tracer = entries
        .iter()
        .rposition(|e| e.role == RoleKind::Tracer)
        .unwrap();
    let first_renderer = entries
        .iter()
        .position(|e| e.role == RoleKind::TraceRenderer)
        .unwrap();
    assert!(last_tracer < first_renderer);
    assert_eq!(entries.len(), factories().count());
}

#[test]
fn role_kinds_have_their_config_names() {
    let names: Vec<String> = RoleKind::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["sandbox", "tracer", "renderer", "sampler", "verifier", "trainer"]
    );
    for kind in RoleKind::ALL {
        assert_eq!(RoleKind::from_name(kind.as_str()), Some(kind));
    }
    assert_eq!(RoleKind::from_name("model"), None);
    assert_eq!(
        find(RoleKind::Tracer, "none").unwrap().role(),
        RoleKind::Tracer
    );
}

#[test]
fn a_plugin_key_that_cannot_be_loaded_is_an_error_naming_it() {
    let err = from_table::<dyn TraceRenderer>(
        &table("kind = 'none'\nplugin = '/nonexistent/libnothing.so'"),
        &Context::new(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(
            err,
            RegistryError::Plugin {
                role: RoleKind::TraceRenderer,
                ..
            }
        ),
        "{err}"
    );
    let message = crate::error::chain(&err);
    assert!(message.contains("/nonexistent/libnothing.so"), "{message}");
    let err = from_table::<dyn TraceRenderer>(&table("kind = 'none'\nplugin = 3"), &Context::new())
        .err()
        .unwrap();
    assert!(
        crate::error::chain(&err).contains("must be a path, not integer"),
        "{}",
        crate::error::chain(&err)
    );
    // Without the key, nothing is loaded and the table builds as before.
    assert!(from_table::<dyn TraceRenderer>(&table("kind = 'none'"), &Context::new()).is_ok());
}
