//! The budget mode and the registered factories of the renderers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use next_core::registry::{self, Context, RoleKind};
use next_core::render::TraceRenderer;
use next_core::trace::TraceStatus;
use next_tracers::render::{Budget, Budgeted, InlineOptions, InlineRenderer, Shrink};
use support::{sum_odd, sum_odd_events, tests};

const TEST: &str = "assert sum_odd([1, 2, 3, 4]) == 4";

fn render(renderer: &dyn TraceRenderer) -> String {
    let trace = sum_odd_events().trace(0, TraceStatus::Passed);
    renderer.render(&sum_odd(), &tests(&[TEST]), &[trace])
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

#[test]
fn inline_options_shrink_traces_then_states_then_values() {
    let mut seen = vec![InlineOptions::default()];
    while let Some(next) = seen[seen.len() - 1].shrink() {
        seen.push(next);
    }
    let triples: Vec<(usize, usize, usize)> = seen
        .iter()
        .map(|o| (o.max_traces, o.max_states_per_line, o.max_value_chars))
        .collect();
    assert_eq!(
        triples,
        [
            (3, 3, 60),
            (2, 3, 60),
            (1, 3, 60),
            (1, 2, 60),
            (1, 2, 30),
            (1, 2, 15),
            (1, 2, 7),
            (1, 2, 5)
        ]
    );
    assert!(seen.iter().all(|options| options.validate().is_ok()));
}

#[test]
fn a_budget_that_holds_the_full_rendering_changes_nothing() {
    let full = render(&InlineRenderer::default());
    let held = Budgeted::new(InlineRenderer::default(), Budget::chars(chars(&full)));
    assert_eq!(render(&held), full);
}

#[test]
fn a_tighter_budget_gets_the_first_smaller_rendering_that_fits() {
    let full = render(&InlineRenderer::default());
    let two_states = InlineRenderer::new(InlineOptions {
        max_states_per_line: 2,
        max_traces: 1,
        ..InlineOptions::default()
    })
    .unwrap();
    let smaller = render(&two_states);
    assert!(chars(&smaller) < chars(&full));
    let held = Budgeted::new(InlineRenderer::default(), Budget::chars(chars(&full) - 1));
    assert_eq!(render(&held), smaller);
    // Four characters a token.
    let tokens = chars(&smaller).div_ceil(4);
    let held = Budgeted::new(InlineRenderer::default(), Budget::tokens(tokens));
    assert!(chars(&render(&held)) <= tokens * 4);
}

#[test]
fn when_nothing_fits_the_smallest_rendering_is_returned() {
    let smallest = InlineRenderer::new(InlineOptions {
        max_states_per_line: 2,
        max_value_chars: 5,
        max_traces: 1,
    })
    .unwrap();
    let held = Budgeted::new(InlineRenderer::default(), Budget::chars(10));
    let text = render(&held);
    assert_eq!(text, render(&smallest));
    assert!(text.contains("nums=[...];"));
    assert_eq!(held.name(), "inline");
    assert!(held.shows_execution());
}

#[test]
fn the_factories_are_registered_with_their_options() {
    let entries = registry::list();
    for name in ["inline", "scratchpad", "blocks", "none"] {
        assert!(
            entries
                .iter()
                .any(|e| e.role == RoleKind::TraceRenderer && e.name == name),
            "{name} is not registered"
        );
    }
    let cx = Context::new();
    let table = |text: &str| -> toml::Table { toml::from_str(text).unwrap() };

    let inline = registry::renderer("inline", &table(""), &cx).unwrap();
    assert_eq!(render(&*inline), render(&InlineRenderer::default()));
    let two = registry::renderer("inline", &table("max_states_per_line = 2"), &cx).unwrap();
    assert!(render(&*two).contains("for n in nums:  # (2) n=1; ...; (7) n=4;\n"));

    for name in ["scratchpad", "blocks"] {
        let renderer = registry::renderer(name, &table(""), &cx).unwrap();
        assert_eq!(renderer.name(), name);
        assert!(renderer.shows_execution());
    }
    let scratchpad = registry::renderer("scratchpad", &table("max_steps = 2"), &cx).unwrap();
    assert!(render(&*scratchpad).contains("[... 12 steps left out ...]"));
    let blocks = registry::renderer("blocks", &table("max_blocks = 2"), &cx).unwrap();
    assert!(render(&*blocks).contains("[... 5 blocks left out ...]"));

    // Budgets, in characters or tokens; the tighter of the two holds.
    let full = chars(&render(&InlineRenderer::default()));
    let held = registry::renderer(
        "inline",
        &table(&format!(
            "budget_chars = {}\nbudget_tokens = 1000",
            full - 1
        )),
        &cx,
    )
    .unwrap();
    assert!(chars(&render(&*held)) < full);
    let held = registry::renderer("blocks", &table("budget_tokens = 10"), &cx).unwrap();
    assert_eq!(held.name(), "blocks");
    assert!(
        chars(&render(&*held)) > 40,
        "nothing fits: the smallest is returned"
    );
}

#[test]
fn bad_options_are_errors_that_name_them() {
    let cx = Context::new();
    let table = |text: &str| -> toml::Table { toml::from_str(text).unwrap() };
    for (name, options, needle) in [
        ("inline", "max_state_per_line = 2", "max_state_per_line"),
        ("inline", "max_states_per_line = 1", "max_states_per_line"),
        ("inline", "max_value_chars = 4", "max_value_chars"),
        ("inline", "max_traces = 0", "max_traces"),
        ("inline", "max_traces = 'two'", "max_traces"),
        ("inline", "budget_chars = 0", "budget_chars"),
        ("inline", "budget_tokens = -1", "budget_tokens"),
        ("scratchpad", "max_steps = 0", "max_steps"),
        ("scratchpad", "max_blocks = 3", "max_blocks"),
        ("blocks", "max_blocks = 0", "max_blocks"),
        ("blocks", "max_traces = 1", "max_traces"),
    ] {
        let err = registry::renderer(name, &table(options), &cx)
            .err()
            .unwrap_or_else(|| panic!("{name} accepted {options}"));
        let message = err.to_string();
        assert!(message.contains(needle), "{name} {options}: {message}");
        assert!(message.contains(name), "{message}");
    }
}
