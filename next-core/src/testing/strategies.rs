//! Proptest strategies for NExT's words: task ids, programs, tests, repair tasks,
//! outcomes and verdicts, verdict patterns, sampling parameters, model answers and mock
//! skills.
//!
//! Tasks come with a failing `# mock-verdict:` marker on their buggy program (so a
//! [`MockVerifier`](super::MockVerifier) fails them and a
//! [`MockTracer`](super::MockTracer) traces the failure), and their spec holds
//! [`task_tag`] of their id (so a [`MockSampler`] can give them their own skill).

use proptest::collection::{vec, SizeRange};
use proptest::prelude::*;

use super::sampler::{task_tag, MockSampler, Skill};
use super::verdict::{mark, MockOutcome, VerdictPattern};
use crate::sample::SamplingParams;
use crate::task::{Program, RepairTask, TaskId, TestCase};
use crate::verify::{TestOutcome, Verdict};

/// Task ids such as `mbpp/17` or `he_x/3`.
pub fn task_id() -> impl Strategy<Value = TaskId> {
    "[a-z][a-z_]{0,5}/[0-9]{1,4}".prop_filter_map("a valid task id", |id| TaskId::new(id).ok())
}

/// A Python identifier that is never a keyword (it starts with `f_`).
fn function_name() -> impl Strategy<Value = String> {
    "f_[a-z0-9_]{0,8}"
}

/// Lines of a function body, with comments and blank lines mixed in.
fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1_u8..4, -99_i32..100).prop_map(|(var, value)| format!("    v{var} = x + {value}")),
        1 => "    # [a-z ]{0,20}",
        1 => Just(String::new()),
        1 => Just("    if x < 0:\n        x = -x".to_owned()),
    ]
}

fn program_named(name: String) -> impl Strategy<Value = Program> {
    (vec(body_line(), 0..5), -9_i32..10, any::<bool>()).prop_map(move |(body, offset, crlf)| {
        let mut lines = vec![format!("def {name}(x):")];
        lines.extend(body);
        lines.push(format!("    return x + {offset}"));
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut source = lines.join(newline);
        source.push_str(newline);
        Program::new(source)
    })
}

/// Small Python programs: one function `f_...(x)` with a few statements, comments,
/// blank lines, sometimes CRLF line ends; no verdict marker.
pub fn program() -> impl Strategy<Value = Program> {
    function_name().prop_flat_map(program_named)
}

/// A program and the verdict pattern its marker carries.
pub fn marked_program() -> impl Strategy<Value = (Program, VerdictPattern)> {
    (program(), verdict_pattern())
        .prop_map(|(program, pattern)| (mark(&program, &pattern), pattern))
}

/// Tests of the function `entry`: `assert ENTRY(a) == b`.
pub fn test_case_for(entry: &str) -> impl Strategy<Value = TestCase> {
    let entry = entry.to_owned();
    (-999_i32..1000, -999_i32..1000).prop_filter_map("a non-blank test", move |(a, b)| {
        TestCase::new(format!("assert {entry}({a}) == {b}")).ok()
    })
}

/// Tests of some function: `assert f_...(a) == b`.
pub fn test_case() -> impl Strategy<Value = TestCase> {
    function_name().prop_flat_map(|name| test_case_for(&name))
}

/// One outcome of a mock program.
pub fn mock_outcome() -> impl Strategy<Value = MockOutcome> {
    proptest::sample::select(MockOutcome::ALL.to_vec())
}

/// Verdict patterns of 1 to 4 entries, any outcomes.
pub fn verdict_pattern() -> impl Strategy<Value = VerdictPattern> {
    vec(mock_outcome(), 1..=4).prop_filter_map("a non-empty pattern", |outcomes| {
        VerdictPattern::new(outcomes).ok()
    })
}

/// Patterns of exactly `num_tests` entries (at least 1) of which at least one is not a
/// pass: the marker of a buggy program.
pub fn failing_pattern(num_tests: usize) -> impl Strategy<Value = VerdictPattern> {
    let len = num_tests.max(1);
    (
        vec(mock_outcome(), len),
        0..len,
        proptest::sample::select(MockOutcome::FAILURES.to_vec()),
    )
        .prop_filter_map("a non-empty pattern", |(mut outcomes, at, failure)| {
            if outcomes.iter().all(|o| o.is_pass()) {
                outcomes[at] = failure;
            }
            VerdictPattern::new(outcomes).ok()
        })
}

/// Any test outcome, with short printable messages.
pub fn outcome() -> impl Strategy<Value = TestOutcome> {
    prop_oneof![
        3 => Just(TestOutcome::Pass),
        1 => "[ -~]{0,30}".prop_map(|message| TestOutcome::Fail { message }),
        1 => "[ -~]{0,30}".prop_map(|message| TestOutcome::Error { message }),
        1 => Just(TestOutcome::Timeout),
        1 => "memory|processes|output".prop_map(|message| TestOutcome::ResourceLimit { message }),
    ]
}

/// Verdicts with exactly `num_tests` outcomes.
pub fn verdict(num_tests: usize) -> impl Strategy<Value = Verdict> {
    vec(outcome(), num_tests).prop_map(Verdict::new)
}

/// The parts of a task other than its id.
fn task_body() -> impl Strategy<Value = (String, Program, Vec<TestCase>, VerdictPattern, String)> {
    (function_name(), 1_usize..=4, "[A-Za-z ,.]{0,40}").prop_flat_map(
        |(entry, num_tests, words)| {
            (
                Just(entry.clone()),
                program_named(entry.clone()),
                vec(test_case_for(&entry), num_tests),
                failing_pattern(num_tests),
                Just(words),
            )
        },
    )
}

fn assemble(
    id: TaskId,
    (entry, program, tests, pattern, words): (
        String,
        Program,
        Vec<TestCase>,
        VerdictPattern,
        String,
    ),
) -> Option<RepairTask> {
    let spec = format!("{} Write `{entry}(x)`. {}", task_tag(&id), words.trim());
    RepairTask::new(id, spec, mark(&program, &pattern), tests, entry).ok()
}

/// Repair tasks: a buggy function with 1 to 4 tests and a marker that fails at least one
/// of them; the spec starts with [`task_tag`] of the id.
pub fn repair_task() -> impl Strategy<Value = RepairTask> {
    (task_id(), task_body()).prop_filter_map("a valid task", |(id, body)| assemble(id, body))
}

/// Lists of repair tasks (as [`repair_task`]) with unique ids `PREFIX/0`, `PREFIX/1`, ...
pub fn repair_tasks(size: impl Into<SizeRange>) -> impl Strategy<Value = Vec<RepairTask>> {
    ("[a-z]{1,6}", vec(task_body(), size)).prop_filter_map("valid tasks", |(prefix, bodies)| {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| assemble(TaskId::new(format!("{prefix}/{i}")).ok()?, body))
            .collect()
    })
}

/// Valid sampling parameters: [`SamplingParams::validate`] accepts every one.
pub fn sampling_params() -> impl Strategy<Value = SamplingParams> {
    (
        prop_oneof![Just(0.0), 0.0_f64..2.0],
        prop_oneof![Just(1.0), 0.01_f64..=1.0],
        1_u32..=4096,
        proptest::option::of(any::<u64>()),
        vec("[a-z#\n]{1,5}", 0..3),
    )
        .prop_map(
            |(temperature, top_p, max_tokens, seed, stop)| SamplingParams {
                temperature,
                top_p,
                max_tokens,
                seed,
                stop,
            },
        )
}

/// One line of a model answer: prose, code, and every kind of fence line.
fn answer_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,24}",
        2 => "\\PC{0,12}",
        1 => proptest::sample::select(vec![
            "```", "````", "`````", "```python", "````python", "``` python", "~~~", "~~~~",
            "~~~python", "   ```", "    ```", "``", "```py`thon", "``` ", "Here is a fixed version:",
        ])
        .prop_map(str::to_owned),
        1 => "x = [0-9]{1,3}",
    ]
}

/// Lines joined by `\n` or `\r\n` (chosen per line), with or without a final break.
fn joined_lines(lines: impl Strategy<Value = Vec<String>>) -> impl Strategy<Value = String> {
    (lines, any::<u64>(), any::<bool>()).prop_map(|(lines, crlf_bits, final_break)| {
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            text.push_str(line);
            if i + 1 < lines.len() || final_break {
                text.push_str(if crlf_bits >> (i % 64) & 1 == 1 {
                    "\r\n"
                } else {
                    "\n"
                });
            }
        }
        text
    })
}

/// Arbitrary answer text: prose and code lines mixed with fence runs (backticks and
/// tildes of several lengths, with and without info strings, indented, unclosed), CRLF
/// and LF line ends, with or without a final line break.
pub fn answer_text() -> impl Strategy<Value = String> {
    joined_lines(vec(answer_line(), 0..12))
}

/// A rationale (as [`answer_text`]) and a non-blank program whose code may hold fence
/// runs and CRLF line ends, for round trips through
/// [`format_answer`](crate::prompt::format_answer) and
/// [`parse_answer`](crate::prompt::parse_answer).
pub fn rationale_and_code() -> impl Strategy<Value = (String, Program)> {
    let core = prop_oneof![
        "[a-z_]{1,8} = [0-9]{1,3}",
        Just("```".to_owned()),
        Just("~~~".to_owned()),
        Just("print('````')".to_owned()),
        "\\PC{0,6}[a-z]",
    ];
    let code_lines = (vec(answer_line(), 0..5), core, vec(answer_line(), 0..5)).prop_map(
        |(mut before, core, after)| {
            before.push(core);
            before.extend(after);
            before
        },
    );
    (answer_text(), joined_lines(code_lines))
        .prop_map(|(rationale, code)| (rationale, Program::new(code)))
}

/// Skills: base in `[0, 1]`, growth in `[0, 0.05]`, ceiling in `[base, 1]`.
pub fn skill() -> impl Strategy<Value = Skill> {
    (0.0_f64..=1.0, 0.0_f64..=0.05, 0.0_f64..=1.0).prop_map(|(base, growth, headroom)| {
        Skill::growing(base, growth, base + (1.0 - base) * headroom)
    })
}

/// Mock samplers of any [`skill`], with up to 30% unparseable answers and 1 to 8 variants.
pub fn mock_sampler() -> impl Strategy<Value = MockSampler> {
    (skill(), 0.0_f64..0.3, 1_u32..=8).prop_map(|(skill, unparseable, variants)| {
        MockSampler::new(skill)
            .with_unparseable_rate(unparseable)
            .with_variants(variants)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::testing::{MockTracer, MockVerifier};

    proptest! {
        #[test]
        fn tasks_fail_their_mock_verification(task in repair_task()) {
            let verdict = MockVerifier::judge(&task.program, &task.tests);
            prop_assert_eq!(verdict.outcomes.len(), task.tests.len());
            prop_assert!(!verdict.passed());
            prop_assert!(task.spec.contains(&task_tag(&task.id)));
            let traces = MockTracer::traces(&task.program, &task.tests);
            prop_assert_eq!(traces.len(), task.tests.len());
            prop_assert!(traces.iter().any(|t| !t.passed()));
            for test in &task.tests {
                prop_assert!(test.code().contains(&task.entry_point));
            }
        }

        #[test]
        fn task_lists_have_unique_ids(tasks in repair_tasks(0..6)) {
            let ids: BTreeSet<&TaskId> = tasks.iter().map(|t| &t.id).collect();
            prop_assert_eq!(ids.len(), tasks.len());
        }

        #[test]
        fn params_are_valid(params in sampling_params()) {
            prop_assert!(params.validate().is_ok());
        }

        #[test]
        fn verdicts_have_one_outcome_per_test(
            (n, v) in (0_usize..6).prop_flat_map(|n| (Just(n), verdict(n)))
        ) {
            prop_assert_eq!(v.outcomes.len(), n);
        }

        #[test]
        fn marked_programs_carry_their_pattern((program, pattern) in marked_program()) {
            prop_assert_eq!(VerdictPattern::from_source(program.source()).unwrap(), Some(pattern));
        }

        #[test]
        fn failing_patterns_fail(
            (n, pattern) in (1_usize..6).prop_flat_map(|n| (Just(n), failing_pattern(n)))
        ) {
            prop_assert!(!pattern.passes(n));
            prop_assert_eq!(pattern.outcomes().len(), n);
        }

        #[test]
        fn skills_stay_in_range(skill in skill(), n in 0_u64..10_000) {
            let p = skill.at(n);
            prop_assert!((0.0..=1.0).contains(&p));
            prop_assert!(skill.at(n + 1) >= p);
        }
    }
}
