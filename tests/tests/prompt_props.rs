//! Properties of the answer format: whatever a rationale and a fix contain (fences of
//! any kind, CRLF line ends), formatting them as an answer and parsing it back gives
//! them back; and parsing any text never panics.
#![allow(clippy::unwrap_used)]

use next_core::prompt::{format_answer, parse_answer};
use next_core::sample::{Answer, ParseFailure, Sample};
use next_core::task::Program;
use next_core::testing::strategies::{answer_text, rationale_and_code};
use proptest::prelude::*;

/// The program `parse_answer` must give back for `code`: the same text, ending with a
/// line break.
fn expected_program(code: &str) -> Program {
    if code.ends_with('\n') {
        Program::new(code)
    } else {
        Program::new(format!("{code}\n"))
    }
}

fn assert_round_trip(rationale: &str, code: &Program) -> Result<(), TestCaseError> {
    let answer = format_answer(rationale, code);
    match parse_answer(&answer) {
        Answer::Fix {
            rationale: parsed,
            program,
        } => {
            prop_assert_eq!(parsed.as_str(), rationale.trim(), "answer: {:?}", answer);
            prop_assert_eq!(
                program,
                expected_program(code.source()),
                "answer: {:?}",
                answer
            );
        }
        Answer::Unparseable { reason } => {
            prop_assert!(false, "unparseable ({:?}): {:?}", reason, answer);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn formatted_answers_parse_back((rationale, code) in rationale_and_code()) {
        assert_round_trip(&rationale, &code)?;
    }

    #[test]
    fn arbitrary_text_round_trips(
        rationale in any::<String>(),
        code in any::<String>().prop_filter("non-blank code", |c| !c.trim().is_empty()),
    ) {
        assert_round_trip(&rationale, &Program::new(code))?;
    }

    #[test]
    fn an_answer_followed_by_prose_keeps_its_fix((rationale, code) in rationale_and_code(), tail in "[a-zA-Z .]{0,30}") {
        // Prose after the block does not change the fix.
        let answer = format!("{}{tail}", format_answer(&rationale, &code));
        let parsed = parse_answer(&answer);
        prop_assert_eq!(parsed.clone(), parse_answer(&format_answer(&rationale, &code)), "answer: {:?}", answer);
        prop_assert!(matches!(parsed, Answer::Fix { .. }), "no fix in {:?}", answer);
    }

    #[test]
    fn parsing_never_panics(text in answer_text()) {
        let sample = Sample::from_raw(text.clone());
        prop_assert_eq!(&sample.raw, &text);
        match sample.answer {
            Answer::Fix { program, .. } => {
                prop_assert!(!program.source().trim().is_empty());
                prop_assert!(program.source().ends_with('\n'));
            }
            Answer::Unparseable { reason } => {
                prop_assert!(matches!(reason, ParseFailure::NoCodeBlock | ParseFailure::EmptyCodeBlock));
            }
        }
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(text in any::<String>()) {
        let _ = parse_answer(&text);
    }
}
