//! The mock roles as registry factories named `mock`, so that a configuration file can
//! choose them (`[sampler] kind = "mock"`) and the `next` command can run the loop end
//! to end without a model.
//!
//! | role | options (all optional) |
//! |---|---|
//! | sampler | `skill` (the base model's pass probability, default 0.2), `growth` (added per training example, default 0.005), `max` (the ceiling, default 0.8), `unparseable_rate` (default 0.05), `variants` (distinct fixes per outcome, default 4) |
//! | verifier | none |
//! | trainer | `continuing` (add to the starting checkpoint's examples, default `false`) |
//! | tracer | none |
//!
//! See [`MockSampler`], [`MockVerifier`], [`MockTrainer`] and [`MockTracer`] for what
//! they do. A misspelled option, or a value out of range, is an error naming it.

use serde::Deserialize;

use super::{MockSampler, MockTracer, MockTrainer, MockVerifier, Skill};
use crate::registry::{self, no_options, Context, OptionDoc, RegistryError, RoleKind};
use crate::sample::RationaleSampler;
use crate::trace::Tracer;
use crate::train::Trainer;
use crate::verify::Verifier;

/// The name all four mock factories are registered under.
const NAME: &str = "mock";

/// The options of the `mock` sampler.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SamplerOptions {
    /// [`Skill::base`].
    skill: f64,
    /// [`Skill::growth`].
    growth: f64,
    /// [`Skill::max`].
    max: f64,
    /// [`MockSampler::with_unparseable_rate`].
    unparseable_rate: f64,
    /// [`MockSampler::with_variants`].
    variants: u32,
}

impl Default for SamplerOptions {
    /// The settings of [`MockSampler::default`].
    fn default() -> Self {
        let skill = Skill::default();
        Self {
            skill: skill.base,
            growth: skill.growth,
            max: skill.max,
            unparseable_rate: 0.05,
            variants: 4,
        }
    }
}

impl SamplerOptions {
    /// Checks the ranges: probabilities in `[0, 1]`, a finite growth, at least one
    /// variant.
    fn check(&self) -> Result<(), RegistryError> {
        let bad =
            |message: String| RegistryError::options(RoleKind::RationaleSampler, NAME, message);
        for (key, value) in [
            ("skill", self.skill),
            ("max", self.max),
            ("unparseable_rate", self.unparseable_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(format!("`{key}` must be in [0, 1], not {value}")));
            }
        }
        if !self.growth.is_finite() {
            return Err(bad(format!(
                "`growth` must be a finite number, not {}",
                self.growth
            )));
        }
        if self.variants == 0 {
            return Err(bad("`variants` must be at least 1".to_owned()));
        }
        Ok(())
    }
}

/// The options of the `mock` trainer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TrainerOptions {
    /// Use [`MockTrainer::continuing`] instead of [`MockTrainer::new`].
    continuing: bool,
}

fn build_sampler(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn RationaleSampler>, RegistryError> {
    let options: SamplerOptions = registry::options(RoleKind::RationaleSampler, NAME, options)?;
    options.check()?;
    let sampler = MockSampler::new(Skill::growing(options.skill, options.growth, options.max))
        .with_unparseable_rate(options.unparseable_rate)
        .with_variants(options.variants);
    Ok(Box::new(sampler))
}

fn build_verifier(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn Verifier>, RegistryError> {
    no_options(RoleKind::Verifier, NAME, options)?;
    Ok(Box::new(MockVerifier::new()))
}

fn build_trainer(options: &toml::Table, _cx: &Context) -> Result<Box<dyn Trainer>, RegistryError> {
    let TrainerOptions { continuing } = registry::options(RoleKind::Trainer, NAME, options)?;
    Ok(Box::new(if continuing {
        MockTrainer::continuing()
    } else {
        MockTrainer::new()
    }))
}

fn build_tracer(options: &toml::Table, _cx: &Context) -> Result<Box<dyn Tracer>, RegistryError> {
    no_options(RoleKind::Tracer, NAME, options)?;
    Ok(Box::new(MockTracer::new()))
}

crate::register_factory!(
    sampler,
    NAME,
    "testing: a model of chosen skill that grows with its training examples (no model needed)",
    build_sampler,
    options = &[
        OptionDoc::new("skill", "0.2", "the base model's pass probability"),
        OptionDoc::new("growth", "0.005", "added per training example"),
        OptionDoc::new("max", "0.8", "the ceiling"),
        OptionDoc::new("unparseable_rate", "0.05", "share of unparseable answers"),
        OptionDoc::new("variants", "4", "distinct fixes per outcome"),
    ],
);

crate::register_factory!(
    verifier,
    NAME,
    "testing: judges a fix by its `# mock-verdict:` marker, running nothing",
    build_verifier,
);

crate::register_factory!(
    trainer,
    NAME,
    "testing: \"trains\" by counting examples into the checkpoint",
    build_trainer,
    options = &[OptionDoc::new(
        "continuing",
        "false",
        "add to the starting checkpoint's examples"
    )],
);

crate::register_factory!(
    tracer,
    NAME,
    "testing: a plausible trace per test, shaped by the `# mock-verdict:` marker",
    build_tracer,
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::prompt::{Message, Prompt, Role};
    use crate::registry::from_table;
    use crate::sample::SamplingParams;
    use crate::task::{Program, TestCase};
    use crate::testing::mock_checkpoint;
    use crate::testing::trainer::EXAMPLES_KEY;
    use crate::train::{Checkpoint, TrainContext, TrainExample};

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    fn prompt() -> Prompt {
        Prompt {
            messages: vec![Message::new(Role::User, "fix f")],
        }
    }

    fn example() -> TrainExample {
        TrainExample {
            task: crate::task::TaskId::new("t/1").unwrap(),
            sample: 0,
            prompt: prompt(),
            completion: "x".to_owned(),
        }
    }

    fn pass_fraction(sampler: &dyn RationaleSampler, model: &Checkpoint, n: usize) -> f64 {
        super::super::sampler::pass_fraction(
            sampler,
            model,
            &prompt(),
            n,
            &SamplingParams::default(),
        )
    }

    #[test]
    fn every_mock_role_is_listed() {
        let listed: Vec<RoleKind> = registry::list()
            .into_iter()
            .filter(|entry| entry.name == NAME)
            .map(|entry| entry.role)
            .collect();
        assert_eq!(
            listed,
            [
                RoleKind::Tracer,
                RoleKind::RationaleSampler,
                RoleKind::Verifier,
                RoleKind::Trainer
            ]
        );
    }

    #[test]
    fn the_listed_defaults_are_the_defaults() {
        let sampler = registry::find(RoleKind::RationaleSampler, NAME).unwrap();
        let listed: toml::Table = sampler
            .options()
            .iter()
            .map(|doc| {
                (
                    doc.key.to_owned(),
                    toml::from_str::<toml::Table>(&format!("v = {}", doc.default)).unwrap()["v"]
                        .clone(),
                )
            })
            .collect();
        let parsed: SamplerOptions =
            registry::options(RoleKind::RationaleSampler, NAME, &listed).unwrap();
        assert_eq!(parsed, SamplerOptions::default());
        assert_eq!(sampler.origin(), registry::Origin::BuiltIn);
        let trainer = registry::find(RoleKind::Trainer, NAME).unwrap();
        assert_eq!(trainer.options()[0].key, "continuing");
    }

    #[test]
    fn sampler_is_built_with_its_options() {
        let cx = Context::new();
        let sampler: Box<dyn RationaleSampler> = from_table(
            &table(
                "kind = 'mock'\nskill = 1.0\ngrowth = 0.0\nmax = 1.0\n\
                 unparseable_rate = 0.0\nvariants = 2",
            ),
            &cx,
        )
        .unwrap();
        assert!((pass_fraction(&*sampler, &Checkpoint::base(), 50) - 1.0).abs() < f64::EPSILON);

        let never: Box<dyn RationaleSampler> = from_table(
            &table("kind = 'mock'\nskill = 0.0\ngrowth = 0.0\nunparseable_rate = 0.0"),
            &cx,
        )
        .unwrap();
        assert!(pass_fraction(&*never, &Checkpoint::base(), 50).abs() < f64::EPSILON);

        // Growth per training example, capped by `max`.
        let growing: Box<dyn RationaleSampler> = from_table(
            &table("kind = 'mock'\nskill = 0.0\ngrowth = 0.1\nmax = 1.0\nunparseable_rate = 0.0"),
            &cx,
        )
        .unwrap();
        let trained = mock_checkpoint("m", 10);
        assert!((pass_fraction(&*growing, &trained, 50) - 1.0).abs() < f64::EPSILON);

        // Every option has a default.
        assert!(registry::sampler(NAME, &toml::Table::new(), &cx).is_ok());
    }

    #[test]
    fn sampler_options_are_checked() {
        let cx = Context::new();
        for (text, named) in [
            ("skil = 0.5", "skil"),
            ("skill = 1.5", "skill"),
            ("max = -0.1", "max"),
            ("unparseable_rate = 2.0", "unparseable_rate"),
            ("growth = nan", "growth"),
            ("variants = 0", "variants"),
            ("skill = 'high'", "skill"),
        ] {
            let err = registry::sampler(NAME, &table(text), &cx)
                .err()
                .unwrap_or_else(|| panic!("`{text}` was accepted"));
            assert!(matches!(err, RegistryError::Options { .. }), "{err}");
            let message = err.to_string();
            assert!(message.contains(named), "`{text}`: {message}");
            assert!(message.contains("sampler `mock`"), "{message}");
        }
    }

    #[test]
    fn trainer_is_built_with_its_options() {
        let cx = Context::new();
        let start = mock_checkpoint("iter-1", 5);
        let dir = tempfile::tempdir().unwrap();

        let fresh: Box<dyn Trainer> = from_table(&table("kind = 'mock'"), &cx).unwrap();
        let trained =
            block_on(fresh.train(&start, &[example()], &TrainContext::new(dir.path()))).unwrap();
        assert_eq!(trained.data[EXAMPLES_KEY], 1);

        let continuing: Box<dyn Trainer> =
            from_table(&table("kind = 'mock'\ncontinuing = true"), &cx).unwrap();
        let trained =
            block_on(continuing.train(&start, &[example()], &TrainContext::new(dir.path())))
                .unwrap();
        assert_eq!(trained.data[EXAMPLES_KEY], 6);

        let err = registry::trainer(NAME, &table("continue = true"), &cx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("continue"), "{err}");
        let err = registry::trainer(NAME, &table("continuing = 'yes'"), &cx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("trainer `mock`"), "{err}");
    }

    #[test]
    fn verifier_and_tracer_take_no_options() {
        let cx = Context::new();
        let program = Program::new("def f(x):\n    return x\n# mock-verdict: pass,fail\n");
        let tests = [
            TestCase::new("assert f(1) == 1").unwrap(),
            TestCase::new("assert f(2) == 3").unwrap(),
        ];

        let verifier: Box<dyn Verifier> = from_table(&table("kind = 'mock'"), &cx).unwrap();
        let verdict = block_on(verifier.verify(&program, &tests)).unwrap();
        assert_eq!(verdict.passes(), 1);

        let tracer: Box<dyn Tracer> = from_table(&table("kind = 'mock'"), &cx).unwrap();
        let trace_list = block_on(tracer.trace(&program, &tests)).unwrap();
        assert_eq!(trace_list.len(), 2);

        let err = registry::verifier(NAME, &table("strict = true"), &cx)
            .err()
            .unwrap();
        assert!(matches!(err, RegistryError::Options { .. }), "{err}");
        assert!(err.to_string().contains("strict"), "{err}");
        let err = registry::tracer(NAME, &table("depth = 3"), &cx)
            .err()
            .unwrap();
        assert!(err.to_string().contains("depth"), "{err}");
    }
}
