//! Plugins loaded at run time: the example plugin in a loop with the mock roles, each
//! role across the boundary, panics, and every broken library refused with an error that
//! names it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod build;
mod errors;
mod roles;

use std::path::Path;

use next_core::plugin;
use next_core::registry::{self, Context, Origin, RoleKind};
use next_core::render::{NoneRenderer, TraceRenderer};
use next_core::self_training::{Roles, SelfTraining};
use next_core::testing::{MockSampler, MockTracer, MockTrainer, Skill};
use next_core::verify::Verifier;

/// The linting plugin's verifier, built from a configuration table.
fn linting(options: &str) -> Box<dyn Verifier> {
    plugin::load(build::library("next_plugin_linting")).unwrap();
    let table: toml::Table = toml::from_str(options).unwrap();
    registry::from_table::<dyn Verifier>(&table, &Context::new()).unwrap()
}

/// The training examples of one iteration of the loop over the mock roles, verified by
/// `verifier`.
fn train_examples(verifier: Box<dyn Verifier>, dir: &Path) -> usize {
    let (train, dev) = common::split_tasks(common::fixed_tasks(8), 0.5);
    let roles = Roles {
        tracer: MockTracer::new(),
        renderer: Box::new(NoneRenderer) as Box<dyn TraceRenderer>,
        sampler: MockSampler::new(Skill::growing(0.4, 0.0, 0.9)).with_unparseable_rate(0.0),
        verifier,
        trainer: MockTrainer::new(),
    };
    let looped = SelfTraining::new(roles, common::config(7, 1, 4, 2)).unwrap();
    let summary =
        common::block_on(looped.run(dir, &train, &dev, &next_core::observe::NoObserver)).unwrap();
    summary.iterations[0].train.train_examples.unwrap_or(0)
}

#[test]
fn the_example_plugin_verifies_a_loop_over_the_mock_roles() {
    let dir = tempfile::tempdir().unwrap();
    let kept = train_examples(linting("kind = 'linting'"), &dir.path().join("lenient"));
    assert!(kept > 0, "the mock model's fixes pass the lenient linter");
    // Every fix has a line longer than five characters: the linter fails them all.
    let strict = linting("kind = 'linting'\nmax_line = 5");
    let kept = train_examples(strict, &dir.path().join("strict"));
    assert_eq!(kept, 0, "no fix passes the strict linter");
}

#[test]
fn the_example_plugin_is_listed_with_its_file_and_options() {
    let loaded = plugin::load(build::library("next_plugin_linting")).unwrap();
    let entries = registry::list();
    let entry = entries
        .iter()
        .find(|entry| entry.role == RoleKind::Verifier && entry.name == "linting")
        .unwrap();
    assert_eq!(entry.origin, Origin::File(loaded.path()));
    let keys: Vec<&str> = entry.options.iter().map(|doc| doc.key).collect();
    assert_eq!(keys, ["inner", "max_line", "forbid"]);
    assert_eq!(entry.options[1].default, "100");
    // Compiled-in factories keep their origin.
    let none = entries
        .iter()
        .find(|entry| entry.role == RoleKind::TraceRenderer && entry.name == "none")
        .unwrap();
    assert_eq!(none.origin, Origin::BuiltIn);
    // Loading again adds nothing.
    let again = plugin::load(build::library("next_plugin_linting")).unwrap();
    assert_eq!(again.path(), loaded.path());
    let count = registry::list()
        .iter()
        .filter(|entry| entry.name == "linting")
        .count();
    assert_eq!(count, 1);
}

#[test]
fn the_example_plugin_checks_its_options() {
    plugin::load(build::library("next_plugin_linting")).unwrap();
    let err = registry::verifier(
        "linting",
        &toml::from_str("max_lines = 3").unwrap(),
        &Context::new(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, registry::RegistryError::Options { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max_lines"), "{err}");
    // An inner verifier the plugin lacks is the plugin's build error, naming the file.
    let err = registry::verifier(
        "linting",
        &toml::from_str("inner = 'tests'").unwrap(),
        &Context::new(),
    )
    .err()
    .unwrap();
    let message = next_core::error::chain(&err);
    assert!(message.contains("next_plugin_linting"), "{message}");
    assert!(message.contains("`tests`"), "{message}");
}
