//! The one place where a task becomes a repair prompt and an answer becomes a fix.
//!
//! The sampler and the trainer must format the very same text, so both call this module:
//! [`repair`] builds the chat messages from a task and its rendered trace,
//! [`parse_answer`] reads the rationale and the fix out of a model's answer, and
//! [`format_answer`] writes a rationale and a fix back as an answer (the training target).
//!
//! The fix is the **last complete fenced code block** of the answer
//! (`self-training.md`, a choice of this project). Fences follow CommonMark: a run of
//! three or more backticks (or tildes) opens a block, and the block closes at the next
//! line holding only a run of the same character at least as long. [`format_answer`]
//! picks a fence longer than any run of backticks inside the code, so that
//! `parse_answer(&format_answer(r, c))` gives back `r` and `c` for any text.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::task::{Program, RepairTask, TestCase};

pub mod shots;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// Makes a message.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// A chat prompt: messages in order, ending with the user's turn.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prompt {
    /// The messages.
    pub messages: Vec<Message>,
}

impl Prompt {
    /// The whole prompt as plain text, `role: content` blocks, for backends without a
    /// chat template and for display.
    pub fn to_plain_text(&self) -> String {
        let mut text = String::new();
        for message in &self.messages {
            let role = match message.role {
                Role::System => "System",
                Role::User => "User",
                Role::Assistant => "Assistant",
            };
            let _ = write!(text, "{role}:\n{}\n\n", message.content);
        }
        text
    }
}

/// A solved example shown before the task (few-shot prompting).
#[derive(Debug, Clone, PartialEq)]
pub struct FewShot {
    /// The example task.
    pub task: RepairTask,
    /// Its rendered trace, or `None` when the prompt shows no execution.
    pub rendered: Option<String>,
    /// The example's rationale.
    pub rationale: String,
    /// The example's fixed program.
    pub fix: Program,
}

/// The system message of every repair prompt.
pub const SYSTEM: &str = "You are an expert Python programmer. You repair buggy programs \
by reasoning about how they execute.";

/// A rendered trace and the legend that explains its format to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown<'a> {
    /// The renderer's output.
    pub text: &'a str,
    /// How to read it ([`TraceRenderer::legend`](crate::render::TraceRenderer::legend)).
    pub legend: &'a str,
}

const INSTRUCTION: &str = "Explain step by step why the program fails its tests: say what \
the task asks, walk through what the program does, compare what it computes with what the \
tests expect, and name the cause of the bug. Then write \"Here is a fixed version:\" followed \
by the complete fixed program in a single ```python code block.";

/// Builds the repair prompt of `task`.
///
/// `trace` is the output of a [`TraceRenderer`](crate::render::TraceRenderer) that
/// shows execution, with its legend, or `None` to show the buggy program alone. `shots`
/// are solved examples put before the task as earlier user and assistant turns; their
/// renderings are explained by the same legend (the inline one when `trace` is `None`).
pub fn repair(task: &RepairTask, trace: Option<Shown<'_>>, shots: &[FewShot]) -> Prompt {
    let legend = trace.map_or(crate::render::INLINE_LEGEND, |t| t.legend);
    let prompt = Prompt {
        messages: vec![
            Message::new(Role::System, SYSTEM),
            Message::new(Role::User, user_turn(task, trace)),
        ],
    };
    lead(&prompt, shots, legend)
}

/// `prompt` led by `shots`: each one's user and assistant turns put after the system
/// message, their renderings explained by `legend`. The loop keeps its prompts bare and
/// leads them when it samples a checkpoint that is shown shots (the base model, by
/// default), so that the training examples it keeps are zero-shot.
pub fn lead(prompt: &Prompt, shots: &[FewShot], legend: &str) -> Prompt {
    let system = usize::from(
        prompt
            .messages
            .first()
            .is_some_and(|m| m.role == Role::System),
    );
    let mut messages = Vec::with_capacity(prompt.messages.len() + 2 * shots.len());
    messages.extend_from_slice(&prompt.messages[..system]);
    for shot in shots {
        let shown = shot.rendered.as_deref().map(|text| Shown { text, legend });
        messages.push(Message::new(Role::User, user_turn(&shot.task, shown)));
        messages.push(Message::new(
            Role::Assistant,
            format_answer(&shot.rationale, &shot.fix),
        ));
    }
    messages.extend_from_slice(&prompt.messages[system..]);
    Prompt { messages }
}

const PROXY_INSTRUCTION: &str = "Another programmer explained the bug below. Using their \
explanation, write \"Here is a fixed version:\" followed by the complete fixed program in a \
single ```python code block.";

/// The prompt of the paper's proxy evaluation of a rationale: a second model gets the
/// task, its buggy program and tests, and a `rationale` written for it (without the fix
/// that came with it), and must repair the program; how often it can scores how useful
/// the rationale is.
pub fn proxy(task: &RepairTask, rationale: &str) -> Prompt {
    let tests: Vec<&str> = task.tests.iter().map(TestCase::code).collect();
    let text = format!(
        "# Task\n{}\n\n# Buggy program\n{}\n\n# Tests\n{}\n\n# Explanation of the bug\n{}\n\n\
         {PROXY_INSTRUCTION}",
        task.spec.trim(),
        fenced("python", task.program.source()),
        fenced("python", &tests.join("\n")),
        rationale.trim(),
    );
    Prompt {
        messages: vec![
            Message::new(Role::System, SYSTEM),
            Message::new(Role::User, text),
        ],
    }
}

const SYNTHESIS_INSTRUCTION: &str = "Write a Python program that does the task and passes \
the tests. Write the complete program in a single ```python code block.";

/// The prompt that asks a model to write the program of `task` from its description and
/// its tests (the program itself is not shown): how the paper made Mbpp-R, keeping the
/// model's programs that fail a test as repair tasks (`next data mbpp-r`).
pub fn synthesis(task: &RepairTask) -> Prompt {
    let tests: Vec<&str> = task.prompt_tests().iter().map(TestCase::code).collect();
    let text = format!(
        "# Task\n{}\n\n# Tests\n{}\n\n{SYNTHESIS_INSTRUCTION}",
        task.spec.trim(),
        fenced("python", &tests.join("\n")),
    );
    Prompt {
        messages: vec![
            Message::new(Role::System, SYSTEM),
            Message::new(Role::User, text),
        ],
    }
}

fn user_turn(task: &RepairTask, trace: Option<Shown<'_>>) -> String {
    let mut text = String::new();
    let _ = write!(text, "# Task\n{}\n\n", task.spec.trim());
    match trace {
        Some(Shown {
            text: trace,
            legend,
        }) => {
            let _ = write!(
                text,
                "# Buggy program with its execution trace\n{legend}\n\n{}\n\n",
                fenced("python", trace)
            );
        }
        None => {
            let _ = write!(
                text,
                "# Buggy program\n{}\n\n",
                fenced("python", task.program.source())
            );
        }
    }
    let tests: Vec<&str> = task.prompt_tests().iter().map(TestCase::code).collect();
    let _ = write!(
        text,
        "# Tests\n{}\n\n{INSTRUCTION}",
        fenced("python", &tests.join("\n"))
    );
    text
}

/// Writes `body` as a fenced block whose fence is longer than any backtick run inside.
fn fenced(info: &str, body: &str) -> String {
    let fence = "`".repeat(longest_run(body, '`').max(2) + 1);
    let body = body.strip_suffix('\n').unwrap_or(body);
    format!("{fence}{info}\n{body}\n{fence}")
}

fn longest_run(text: &str, c: char) -> usize {
    let mut best = 0;
    let mut run = 0;
    for ch in text.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// Writes a rationale and a fix as an answer: the rationale, an empty line, and the fix
/// in a `python` fenced block. The training target of a kept sample.
pub fn format_answer(rationale: &str, fix: &Program) -> String {
    let rationale = rationale.trim();
    let block = fenced("python", fix.source());
    if rationale.is_empty() {
        format!("{block}\n")
    } else {
        format!("{rationale}\n\n{block}\n")
    }
}

/// A fence line: indentation of at most three spaces, then a run of at least three
/// backticks or tildes.
struct Fence<'a> {
    ch: char,
    len: usize,
    rest: &'a str,
}

fn fence(line: &str) -> Option<Fence<'_>> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let rest = &trimmed[len..];
    // CommonMark: a backtick fence's info string may not contain a backtick.
    if ch == '`' && rest.contains('`') {
        return None;
    }
    Some(Fence { ch, len, rest })
}

/// Why an answer has no fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseFailure {
    /// The answer holds no complete fenced code block.
    NoCodeBlock,
    /// The last code block is empty.
    EmptyCodeBlock,
}

/// What an answer says: a rationale and a fix, or nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// A rationale followed by a fixed program.
    Fix {
        /// The text before the fix's code block, trimmed.
        rationale: String,
        /// The code of the last fenced block.
        program: Program,
    },
    /// No fix could be read; the sample counts as a failure.
    Unparseable {
        /// Why.
        reason: ParseFailure,
    },
}

/// Reads the rationale and the fix out of a model's answer.
///
/// The fix is the code of the last complete fenced block; the rationale is the text
/// before that block, trimmed. An answer without a complete block, or whose last block is
/// blank, is [`Answer::Unparseable`]: the sample is kept and counts as a failure.
///
/// The block is found from the end: its closing fence is the last line that holds only a
/// fence, and its opening fence is the nearest line above that starts with a run of the
/// same character of the same length. That makes parsing immune to whatever fences the
/// rationale itself holds, closed or not.
pub fn parse_answer(raw: &str) -> Answer {
    let lines: Vec<&str> = raw.split('\n').collect();
    let unparseable = |reason| Answer::Unparseable { reason };
    let Some(close_at) = lines.iter().rposition(|line| {
        fence(line.trim_end_matches('\r')).is_some_and(|f| f.rest.trim().is_empty())
    }) else {
        return unparseable(ParseFailure::NoCodeBlock);
    };
    let Some(close) = fence(lines[close_at].trim_end_matches('\r')) else {
        return unparseable(ParseFailure::NoCodeBlock);
    };
    let Some(open_at) = lines[..close_at].iter().rposition(|line| {
        fence(line.trim_end_matches('\r')).is_some_and(|f| f.ch == close.ch && f.len == close.len)
    }) else {
        return unparseable(ParseFailure::NoCodeBlock);
    };
    let code = lines[open_at + 1..close_at].join("\n");
    if code.trim().is_empty() {
        return unparseable(ParseFailure::EmptyCodeBlock);
    }
    let mut code = code;
    code.push('\n');
    let rationale = lines[..open_at].join("\n").trim().to_owned();
    Answer::Fix {
        rationale,
        program: Program::new(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(answer: &Answer) -> (&str, &str) {
        match answer {
            Answer::Fix { rationale, program } => (rationale, program.source()),
            Answer::Unparseable { reason } => panic!("unparseable: {reason:?}"),
        }
    }

    #[test]
    fn last_block_is_the_fix() {
        let raw = "The bug:\n```python\nold()\n```\nHere is a fixed version:\n```python\nnew()\n```\nDone.";
        let answer = parse_answer(raw);
        let (rationale, code) = fix(&answer);
        assert_eq!(code, "new()\n");
        assert_eq!(
            rationale,
            "The bug:\n```python\nold()\n```\nHere is a fixed version:"
        );
    }

    #[test]
    fn no_block_and_unclosed_block_are_unparseable() {
        assert_eq!(
            parse_answer("I think it is fine."),
            Answer::Unparseable {
                reason: ParseFailure::NoCodeBlock
            }
        );
        assert_eq!(
            parse_answer("```python\ndef f(): pass"),
            Answer::Unparseable {
                reason: ParseFailure::NoCodeBlock
            }
        );
        assert_eq!(
            parse_answer("```python\n\n```"),
            Answer::Unparseable {
                reason: ParseFailure::EmptyCodeBlock
            }
        );
    }

    #[test]
    fn crlf_answers_parse() {
        let answer = parse_answer("Fix:\r\n```python\r\nx = 1\r\n```\r\n");
        let (rationale, code) = fix(&answer);
        assert_eq!(rationale, "Fix:");
        assert_eq!(code, "x = 1\r\n");
    }

    #[test]
    fn code_with_fences_round_trips() {
        let code = Program::new("s = '''\n```\n````python\n'''\n");
        let answer = format_answer("Because ``` appears.\n```\nunclosed", &code);
        let parsed = parse_answer(&answer);
        let (rationale, got) = fix(&parsed);
        assert_eq!(got, code.source());
        assert_eq!(rationale, "Because ``` appears.\n```\nunclosed");
    }

    #[test]
    fn prompt_shows_trace_or_program() {
        let task = crate::task::fixture(
            "t",
            "Add one.",
            "def f(x):\n    return x\n",
            "assert f(1) == 2",
        );
        let plain = repair(&task, None, &[]);
        assert_eq!(plain.messages.len(), 2);
        assert!(plain.messages[1]
            .content
            .contains("# Buggy program\n```python\ndef f(x):"));
        assert!(!plain.messages[1].content.contains("(k)"));
        let traced = repair(
            &task,
            Some(Shown {
                text: "def f(x):  # (0) x=1;\n",
                legend: crate::render::INLINE_LEGEND,
            }),
            &[],
        );
        assert!(traced.messages[1].content.contains("execution trace"));
        assert!(traced.messages[1].content.contains("# (0) x=1;"));
        assert!(traced.messages[1].content.contains("assert f(1) == 2"));
    }

    #[test]
    fn prompt_shows_the_shown_tests_not_the_judging_ones() {
        let mut task = crate::task::fixture(
            "t",
            "Add one.",
            "def f(x):\n    return x\n",
            "assert __next_evalplus__(f(*[7]), 8, 0)",
        );
        task.shown_tests = vec![crate::task::TestCase::new("assert f(1) == 2").unwrap()];
        let text = &repair(&task, None, &[]).messages[1].content;
        assert!(text.contains("assert f(1) == 2"), "{text}");
        assert!(!text.contains("__next_evalplus__"), "{text}");
    }

    #[test]
    fn few_shots_become_earlier_turns() {
        let task = crate::task::fixture(
            "t",
            "Add one.",
            "def f(x):\n    return x\n",
            "assert f(1) == 2",
        );
        let shot = FewShot {
            task: task.clone(),
            rendered: None,
            rationale: "It forgets to add one.".into(),
            fix: Program::new("def f(x):\n    return x + 1\n"),
        };
        let prompt = repair(&task, None, &[shot]);
        let roles: Vec<Role> = prompt.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        let parsed = parse_answer(&prompt.messages[2].content);
        let (rationale, code) = fix(&parsed);
        assert_eq!(rationale, "It forgets to add one.");
        assert_eq!(code, "def f(x):\n    return x + 1\n");
    }
}
