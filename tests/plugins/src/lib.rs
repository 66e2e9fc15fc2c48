//! Plugins for the plugin tests and the boundary benchmark.
//!
//! The library is a well-behaved plugin exporting, through `next_core::export_plugin!`,
//! roles whose behaviour the tests can predict: no-op roles (the benchmark calls them
//! through the boundary and compiled in, since this crate is an rlib too), roles that
//! return their role's errors, and roles that panic. The examples under `broken/` are
//! libraries that each break the plugin ABI in one way.
//!
//! The design decision: **every role here is a plain registry builder**, so the same
//! factories are exported to the host and registered nowhere else; the tests see them
//! only through `plugin::load`.

use async_trait::async_trait;
use next_core::prompt::Prompt;
use next_core::registry::{no_options, Context, Factory, OptionDoc, RegistryError, RoleKind};
use next_core::render::TraceRenderer;
use next_core::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use next_core::task::{Program, TestCase};
use next_core::trace::Trace;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
use next_core::verify::{TestOutcome, Verdict, Verifier, VerifyError};

/// A renderer that returns the program as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRenderer;

impl TraceRenderer for NoopRenderer {
    fn name(&self) -> &'static str {
        "noop"
    }

    fn shows_execution(&self) -> bool {
        false
    }

    fn legend(&self) -> &'static str {
        "the program as it is"
    }

    fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
        program.source().to_owned()
    }
}

/// A renderer that panics on a program containing `panic`, and otherwise renders it as
/// it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanickingRenderer;

impl TraceRenderer for PanickingRenderer {
    fn name(&self) -> &'static str {
        "panicking"
    }

    fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
        assert!(!program.source().contains("panic"), "cannot render that");
        program.source().to_owned()
    }
}

/// A verifier that passes every test without looking.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopVerifier;

#[async_trait]
impl Verifier for NoopVerifier {
    async fn verify(&self, _program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        Ok(Verdict::new(vec![TestOutcome::Pass; tests.len()]))
    }
}

/// A verifier that panics on a program containing `panic`, and otherwise passes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanickingVerifier;

#[async_trait]
impl Verifier for PanickingVerifier {
    async fn verify(&self, program: &Program, tests: &[TestCase]) -> Result<Verdict, VerifyError> {
        assert!(
            !program.source().contains("panic"),
            "the program asked for it"
        );
        Ok(Verdict::new(vec![TestOutcome::Pass; tests.len()]))
    }
}

/// A sampler whose model refuses every prompt.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefusingSampler;

#[async_trait]
impl RationaleSampler for RefusingSampler {
    async fn sample(
        &self, _model: &Checkpoint, _prompt: &Prompt, _n: usize, _params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        Err(SampleError::Rejected("prompt too long".to_owned()))
    }
}

/// A trainer that defers every training to elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeferringTrainer;

#[async_trait]
impl Trainer for DeferringTrainer {
    async fn train(
        &self, _base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError> {
        Err(TrainError::Deferred {
            instructions: format!(
                "train on {} examples, iteration {}, into {}",
                examples.len(),
                cx.iteration(),
                cx.out().display()
            ),
        })
    }
}

/// The options of the `noop` renderer, which checks them as a real one would.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NoopOptions {
    /// Unused; present so that a wrong option is an error naming it.
    #[allow(dead_code)]
    width: u32,
}

impl Default for NoopOptions {
    fn default() -> Self {
        Self { width: 80 }
    }
}

fn build_noop_renderer(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    let NoopOptions { .. } =
        next_core::registry::options(RoleKind::TraceRenderer, "noop", options)?;
    Ok(Box::new(NoopRenderer))
}

fn build_noop_verifier(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn Verifier>, RegistryError> {
    no_options(RoleKind::Verifier, "noop", options)?;
    Ok(Box::new(NoopVerifier))
}

fn build_panicking_verifier(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn Verifier>, RegistryError> {
    no_options(RoleKind::Verifier, "panicking", options)?;
    Ok(Box::new(PanickingVerifier))
}

fn build_panicking_render(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    no_options(RoleKind::TraceRenderer, "panicking", options)?;
    Ok(Box::new(PanickingRenderer))
}

fn build_panicking_renderer(
    _options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    panic!("this renderer cannot be built")
}

fn build_refusing_sampler(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn RationaleSampler>, RegistryError> {
    no_options(RoleKind::RationaleSampler, "refusing", options)?;
    Ok(Box::new(RefusingSampler))
}

fn build_deferring_trainer(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn Trainer>, RegistryError> {
    no_options(RoleKind::Trainer, "deferring", options)?;
    Ok(Box::new(DeferringTrainer))
}

next_core::export_plugin![
    Factory::renderer("noop", "the program as it is", build_noop_renderer)
        .with_options(&[OptionDoc::new("width", "80", "unused")]),
    Factory::verifier("noop", "passes every test", build_noop_verifier),
    Factory::verifier(
        "panicking",
        "panics on a program containing `panic`",
        build_panicking_verifier
    ),
    Factory::renderer(
        "panicking",
        "panics rendering a program containing `panic`",
        build_panicking_render
    ),
    Factory::renderer(
        "panicking-build",
        "panics when built",
        build_panicking_renderer
    ),
    Factory::sampler("refusing", "refuses every prompt", build_refusing_sampler),
    Factory::trainer(
        "deferring",
        "defers every training",
        build_deferring_trainer
    ),
];
