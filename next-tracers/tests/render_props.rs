//! Property tests of the renderers: on any traces, however malformed, rendering does
//! not panic, is deterministic, keeps the program's lines in order, and the budget mode
//! fits whenever one of its renderings does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use next_core::render::TraceRenderer;
use next_core::task::{Program, TestCase};
use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceStatus};
use next_tracers::render::{
    select_traces, BlocksOptions, BlocksRenderer, Budget, Budgeted, InlineOptions, InlineRenderer,
    ScratchpadOptions, ScratchpadRenderer, Shrink,
};
use proptest::prelude::*;

fn line_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("def f(x, y):".to_owned()),
        Just("    s = [1,".to_owned()),
        Just("         2]  # (".to_owned()),
        Just("    for i in range(3):".to_owned()),
        Just("        s += x  # old".to_owned()),
        Just("\treturn '''a".to_owned()),
        Just(String::new()),
        Just("   ".to_owned()),
        "[ -~\té]{0,30}",
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (
        prop::collection::vec(line_text(), 0..12),
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        0..3_usize,
    )
        .prop_map(|(lines, ending, blank_tail)| {
            let mut source = lines.join(ending);
            for _ in 0..blank_tail {
                source.push_str(ending);
            }
            Program::new(source)
        })
}

fn test_case() -> impl Strategy<Value = TestCase> {
    (
        "assert [ -~]{0,20}",
        prop::collection::vec("[ -~]{0,10}", 0..3),
    )
        .prop_map(|(first, more)| {
            let mut code = first;
            for line in more {
                code.push('\n');
                code.push_str(&line);
            }
            TestCase::new(code).unwrap()
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{0,3}", "(?s).{0,90}"]
}

fn bindings() -> impl Strategy<Value = Vec<Binding>> {
    prop::collection::vec(
        (prop_oneof!["[a-c]", "(?s).{1,4}"], text()).prop_map(|(n, v)| Binding::new(n, v)),
        0..4,
    )
}

fn event() -> impl Strategy<Value = Event> {
    let location = prop_oneof![
        4 => (0..16_u32).prop_map(Location::Program),
        1 => (0..4_u32).prop_map(Location::Test),
        1 => any::<u32>().prop_map(Location::Program),
    ];
    let kind = prop_oneof![
        1 => ("[a-z]{1,4}|(?s).{0,4}", bindings())
            .prop_map(|(function, args)| EventKind::Call { function, args }),
        4 => bindings().prop_map(|changes| EventKind::Line { changes }),
        1 => text().prop_map(|value| EventKind::Return { value }),
        1 => text().prop_map(|value| EventKind::Exception { value }),
        1 => Just(EventKind::Timeout),
    ];
    (0..5_u32, location, kind).prop_map(|(frame, location, kind)| Event {
        frame,
        location,
        kind,
    })
}

fn status() -> impl Strategy<Value = TraceStatus> {
    prop_oneof![
        Just(TraceStatus::Passed),
        Just(TraceStatus::Failed),
        Just(TraceStatus::TimedOut),
        Just(TraceStatus::Crashed),
    ]
}

fn trace() -> impl Strategy<Value = Trace> {
    (0..6_usize, status(), prop::collection::vec(event(), 0..60)).prop_map(
        |(test, status, events)| Trace {
            test,
            status,
            events,
            truncated: false,
            incomplete: false,
            stdout: String::new(),
            stderr: String::new(),
        },
    )
}

fn case() -> impl Strategy<Value = (Program, Vec<TestCase>, Vec<Trace>)> {
    (
        program(),
        prop::collection::vec(test_case(), 0..4),
        prop::collection::vec(trace(), 0..5),
    )
}

fn inline_options() -> impl Strategy<Value = InlineOptions> {
    (2..6_usize, 5..80_usize, 1..5_usize).prop_map(|(states, chars, traces)| InlineOptions {
        max_states_per_line: states,
        max_value_chars: chars,
        max_traces: traces,
    })
}

fn scratchpad_options() -> impl Strategy<Value = ScratchpadOptions> {
    (1..30_usize, 5..80_usize, 1..5_usize).prop_map(|(steps, chars, traces)| ScratchpadOptions {
        max_steps: steps,
        max_value_chars: chars,
        max_traces: traces,
    })
}

fn blocks_options() -> impl Strategy<Value = BlocksOptions> {
    (1..10_usize, 5..80_usize).prop_map(|(blocks, chars)| BlocksOptions {
        max_blocks: blocks,
        max_value_chars: chars,
    })
}

/// The program's lines as the renderers show them: Python's line breaks, trailing
/// blank lines removed.
fn lines_of(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_owned)
        .collect();
    if text.ends_with(['\n', '\r']) {
        lines.pop();
    }
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Checks that `text` is `source` (program blocks and tests, as lines) with only
/// `  # ...` comments appended to lines.
fn annotates(text: &str, source: &[String]) -> Result<(), TestCaseError> {
    prop_assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text[..text.len() - 1].split('\n').collect();
    prop_assert_eq!(lines.len(), source.len().max(1), "{:?}", text);
    for (line, original) in lines.iter().zip(source) {
        prop_assert!(
            *line == original.as_str()
                || line
                    .strip_prefix(original.as_str())
                    .is_some_and(|rest| rest.starts_with("  # ")),
            "{:?} does not annotate {:?}",
            line,
            original
        );
    }
    Ok(())
}

fn starts_with_program(text: &str, program: &Program) -> Result<(), TestCaseError> {
    prop_assert!(text.ends_with('\n'));
    let mut expected = String::new();
    for line in lines_of(program.source()) {
        expected.push_str(&line);
        expected.push('\n');
    }
    prop_assert!(text.starts_with(&expected), "{:?}", text);
    Ok(())
}

/// Checks [`Budgeted`]: the first of the shrinking renderings that fits, or the
/// shortest.
fn check_budget<R>(
    renderer: R, budget: Budget, case: &(Program, Vec<TestCase>, Vec<Trace>),
) -> Result<(), TestCaseError>
where
    R: TraceRenderer + Shrink + Clone,
{
    let (program, tests, traces) = case;
    let mut renderings = vec![renderer.render(program, tests, traces)];
    let mut current = renderer.shrink();
    while let Some(smaller) = current {
        renderings.push(smaller.render(program, tests, traces));
        current = smaller.shrink();
    }
    let held = Budgeted::new(renderer, budget).render(program, tests, traces);
    if let Some(first) = renderings.iter().find(|text| budget.fits(text)) {
        prop_assert!(budget.fits(&held));
        prop_assert_eq!(&held, first);
    } else {
        let shortest = renderings.iter().map(|t| t.chars().count()).min().unwrap();
        let first_shortest = renderings
            .iter()
            .find(|t| t.chars().count() == shortest)
            .unwrap();
        prop_assert_eq!(&held, first_shortest);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn inline_annotates_the_program_and_tests_in_order(
        case in case(),
        options in inline_options(),
    ) {
        let (program, tests, traces) = &case;
        let renderer = InlineRenderer::new(options).unwrap();
        let text = renderer.render(program, tests, traces);
        prop_assert_eq!(&text, &renderer.render(program, tests, traces));
        let program_lines = lines_of(program.source());
        let mut source: Vec<String> = Vec::new();
        for trace in select_traces(traces, tests.len(), options.max_traces) {
            if !source.is_empty() {
                source.push(String::new());
            }
            source.extend(program_lines.iter().cloned());
            if !program_lines.is_empty() {
                source.push(String::new());
            }
            source.extend(lines_of(tests[trace.test].code()));
        }
        if source.is_empty() {
            source = program_lines;
        }
        annotates(&text, &source)?;
    }

    #[test]
    fn scratchpad_and_blocks_start_with_the_program(
        case in case(),
        scratchpad in scratchpad_options(),
        blocks in blocks_options(),
    ) {
        let (program, tests, traces) = &case;
        let scratchpad = ScratchpadRenderer::new(scratchpad).unwrap();
        let text = scratchpad.render(program, tests, traces);
        prop_assert_eq!(&text, &scratchpad.render(program, tests, traces));
        starts_with_program(&text, program)?;
        let blocks = BlocksRenderer::new(blocks).unwrap();
        let text = blocks.render(program, tests, traces);
        prop_assert_eq!(&text, &blocks.render(program, tests, traces));
        starts_with_program(&text, program)?;
    }

    #[test]
    fn budgets_fit_when_a_rendering_fits(
        case in case(),
        inline in inline_options(),
        scratchpad in scratchpad_options(),
        blocks in blocks_options(),
        chars in 0..3000_usize,
    ) {
        let budget = Budget::chars(chars);
        check_budget(InlineRenderer::new(inline).unwrap(), budget, &case)?;
        check_budget(ScratchpadRenderer::new(scratchpad).unwrap(), budget, &case)?;
        check_budget(BlocksRenderer::new(blocks).unwrap(), budget, &case)?;
    }
}
