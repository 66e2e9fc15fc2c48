//! The `export` trainer: what it writes (each format parses back into the example it
//! came from, and follows its documented rules), that it defers the training with the
//! resume command, that its factory refuses unknown options, and a whole run with the
//! mock roles that stops for the export and finishes once given the trained model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::path::Path;

use futures::executor::block_on;
use next_core::observe::NoObserver;
use next_core::prompt::{self, Message, Prompt, Role};
use next_core::registry::{self, Context};
use next_core::render::NoneRenderer;
use next_core::run::{RunDir, RunError};
use next_core::self_training::{LoopConfig, Roles, SelfTraining};
use next_core::task::{Program, RepairTask, TaskId, TestCase};
use next_core::testing::{mock_checkpoint, task_tag, MockSampler, MockVerifier, Skill};
use next_core::trace::NoneTracer;
use next_core::train::{Checkpoint, TrainContext, TrainError, TrainExample, Trainer};
use next_models::export::{ExportConfig, Format, JsonlExportTrainer, README_FILE};
use serde_json::Value;

fn example(task: &str, sample: u32, messages: Vec<Message>, completion: &str) -> TrainExample {
    TrainExample {
        task: TaskId::new(task).unwrap(),
        sample,
        prompt: Prompt { messages },
        completion: completion.to_owned(),
    }
}

/// A plain repair prompt, one with a solved example before the task (few-shot), and
/// texts with quotes, backslashes, new lines, tabs and non-ASCII characters.
fn examples() -> Vec<TrainExample> {
    let task = RepairTask::new(
        TaskId::new("mbpp/7").unwrap(),
        "Return the sum of the odd numbers of a list.",
        Program::new("def sum_odd(xs):\n    return sum(xs)\n"),
        vec![TestCase::new("assert sum_odd([1, 2, 3]) == 4").unwrap()],
        "sum_odd",
    )
    .unwrap();
    let answer = prompt::format_answer(
        "For the first assertion the return value is `6` while the expected output is `4`.",
        &Program::new("def sum_odd(xs):\n    return sum(x for x in xs if x % 2)\n"),
    );
    vec![
        TrainExample {
            task: task.id.clone(),
            sample: 3,
            prompt: prompt::repair(&task, None, &[]),
            completion: answer.clone(),
        },
        example(
            "few/1",
            0,
            vec![
                Message::new(Role::System, prompt::SYSTEM),
                Message::new(Role::User, "Fix `def f(): return 1`; f() should be 2."),
                Message::new(
                    Role::Assistant,
                    "It returns 1.\n```python\ndef f(): return 2\n```",
                ),
                Message::new(
                    Role::User,
                    "Fix `def g(): return \"a\"`; g() should be \"b\".",
                ),
            ],
            "It returns \"a\".\n```python\ndef g(): return \"b\"\n```",
        ),
        example(
            "odd/\u{e9}t\u{e9}",
            11,
            vec![Message::new(
                Role::User,
                "tab\there, backslash \\ and quote \" and \u{1f600} and a line\r\nend",
            )],
            "na\u{ef}ve \u{2192} fixed\n```python\nprint('\\\\')\n```",
        ),
    ]
}

fn train(
    trainer: &JsonlExportTrainer, examples: &[TrainExample], out: &Path,
) -> Result<Checkpoint, TrainError> {
    block_on(trainer.train(&Checkpoint::base(), examples, &TrainContext::new(out)))
}

fn export_all(examples: &[TrainExample]) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let trainer = JsonlExportTrainer::new(&ExportConfig::default()).unwrap();
    let err = train(&trainer, examples, out.path()).unwrap_err();
    let TrainError::Deferred { instructions } = err else {
        panic!("expected Deferred, got {err:?}");
    };
    (out, instructions)
}

fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{}: no final newline", path.display());
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn role(name: &str) -> Role {
    match name {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => panic!("unexpected role {other:?}"),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// `[{"role": ..., "content": ...}]` as messages, checking that no other key is there
/// but OpenAI's `weight`.
fn chat_messages(value: &Value) -> Vec<Message> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let object = m.as_object().unwrap();
            assert!(
                object
                    .keys()
                    .all(|k| k == "role" || k == "content" || k == "weight"),
                "{m}"
            );
            Message::new(role(m["role"].as_str().unwrap()), text(&m["content"]))
        })
        .collect()
}

/// Splits the original example into what each format must give back: the prompt's
/// messages and the completion.
fn expected(example: &TrainExample) -> (Vec<Message>, String) {
    (example.prompt.messages.clone(), example.completion.clone())
}

#[test]
fn openai_lines_parse_back_into_the_examples() {
    let examples = examples();
    let (out, _) = export_all(&examples);
    let parsed = lines(&out.path().join("openai.jsonl"));
    assert_eq!(parsed.len(), examples.len());
    for (line, example) in parsed.iter().zip(&examples) {
        assert_eq!(line.as_object().unwrap().len(), 1, "{line}");
        let mut messages = chat_messages(&line["messages"]);
        let last = messages.pop().unwrap();
        assert_eq!(last.role, Role::Assistant);
        assert_eq!((messages, last.content), expected(example));
    }
}

#[test]
fn gemini_lines_parse_back_into_the_examples() {
    let examples = examples();
    let (out, _) = export_all(&examples);
    let parsed = lines(&out.path().join("gemini.jsonl"));
    assert_eq!(parsed.len(), examples.len());
    for (line, example) in parsed.iter().zip(&examples) {
        let mut messages = Vec::new();
        if let Some(system) = line.get("systemInstruction") {
            assert_eq!(system["role"], "system");
            for part in system["parts"].as_array().unwrap() {
                messages.push(Message::new(Role::System, text(&part["text"])));
            }
        }
        for content in line["contents"].as_array().unwrap() {
            let role = match content["role"].as_str().unwrap() {
                "user" => Role::User,
                "model" => Role::Assistant,
                other => panic!("unexpected Gemini role {other:?}"),
            };
            let parts = content["parts"].as_array().unwrap();
            assert_eq!(parts.len(), 1, "{content}");
            messages.push(Message::new(role, text(&parts[0]["text"])));
        }
        let last = messages.pop().unwrap();
        assert_eq!(last.role, Role::Assistant, "the last turn is the model's");
        assert_eq!((messages, last.content), expected(example));
        // Only the documented keys.
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| *k == "systemInstruction" || *k == "contents"),
            "{keys:?}"
        );
    }
    // An example without a system message has no system instruction.
    assert!(parsed[2].get("systemInstruction").is_none());
}

#[test]
fn hf_lines_parse_back_into_the_examples() {
    let examples = examples();
    let (out, _) = export_all(&examples);
    let parsed = lines(&out.path().join("hf.jsonl"));
    assert_eq!(parsed.len(), examples.len());
    for (line, example) in parsed.iter().zip(&examples) {
        assert_eq!(line.as_object().unwrap().len(), 2, "{line}");
        let prompt = chat_messages(&line["prompt"]);
        let completion = chat_messages(&line["completion"]);
        assert_eq!(completion.len(), 1);
        assert_eq!(completion[0].role, Role::Assistant);
        assert!(line["prompt"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("weight").is_none()));
        assert_eq!((prompt, completion[0].content.clone()), expected(example));
    }
}

/// OpenAI's chat fine-tuning rules: every line is an object with `messages`; roles are
/// system, user or assistant; contents are non-empty strings; one assistant message is
/// trained on and it is the last (the few-shot answers before it have weight 0).
#[test]
fn openai_file_follows_the_documented_rules() {
    let examples = examples();
    let (out, _) = export_all(&examples);
    for line in lines(&out.path().join("openai.jsonl")) {
        let messages = line["messages"].as_array().unwrap();
        assert!(messages.len() >= 2, "{line}");
        for m in messages {
            let role = m["role"].as_str().unwrap();
            assert!(["system", "user", "assistant"].contains(&role), "{m}");
            assert!(!m["content"].as_str().unwrap().trim().is_empty(), "{m}");
            if let Some(weight) = m.get("weight") {
                assert_eq!(role, "assistant", "{m}");
                assert!(weight == 0 || weight == 1, "{m}");
            }
        }
        let trained: Vec<usize> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m["role"] == "assistant" && m.get("weight") != Some(&Value::from(0)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(trained, vec![messages.len() - 1], "{line}");
        assert_eq!(messages.last().unwrap()["role"], "assistant");
    }
    // Without few-shot turns there is exactly one assistant message, without weight.
    let first = &lines(&out.path().join("openai.jsonl"))[0];
    let assistants: Vec<&Value> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(assistants.len(), 1);
    assert!(assistants[0].get("weight").is_none());
}

#[test]
fn the_same_examples_give_the_same_bytes() {
    let examples = examples();
    let (a, _) = export_all(&examples);
    let (b, _) = export_all(&examples);
    for format in Format::ALL {
        let name = format.file_name();
        assert_eq!(
            std::fs::read(a.path().join(name)).unwrap(),
            std::fs::read(b.path().join(name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(a.path().join(README_FILE)).unwrap(),
        std::fs::read(b.path().join(README_FILE)).unwrap()
    );
}

#[test]
fn training_is_deferred_with_the_files_and_the_resume_command() {
    let examples = examples();
    let (out, instructions) = export_all(&examples);
    for name in ["openai.jsonl", "gemini.jsonl", "hf.jsonl", "README.md"] {
        assert!(out.path().join(name).is_file(), "{name}");
        assert!(instructions.contains(name), "{instructions}");
    }
    assert!(
        instructions.contains(&out.path().display().to_string()),
        "{instructions}"
    );
    // Outside a run, the iteration and the run directory are placeholders.
    assert!(
        instructions.contains("next resume RUN_DIR --config CONFIG --checkpoint iter-N=MODEL"),
        "{instructions}"
    );
    assert!(instructions.lines().count() > 3, "{instructions}");
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn in_a_run_the_instructions_name_the_run_and_the_iteration() {
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("iter-2/checkpoint");
    let state = run.path().join("iter-2/train-state");
    std::fs::create_dir_all(&out).unwrap();
    let trainer = JsonlExportTrainer::new(&ExportConfig::default()).unwrap();
    let cx = TrainContext::for_iteration(&out, &state, 2, &NoObserver);
    let start = mock_checkpoint("iter-1", 4);
    let err = block_on(trainer.train(&start, &examples(), &cx)).unwrap_err();
    let TrainError::Deferred { instructions } = err else {
        panic!("expected Deferred, got {err:?}");
    };
    let command = format!(
        "next resume {} --config CONFIG --checkpoint iter-2=MODEL",
        run.path().display()
    );
    assert!(instructions.contains(&command), "{instructions}");
    assert!(instructions.contains("iteration 2"), "{instructions}");
    // It names the checkpoint to fine-tune from.
    assert!(instructions.contains("iter-1"), "{instructions}");
}

#[test]
fn only_the_chosen_formats_are_written() {
    let out = tempfile::tempdir().unwrap();
    let table: toml::Table = toml::from_str("formats = ['hf', 'openai', 'hf']").unwrap();
    let trainer = registry::trainer("export", &table, &Context::new()).unwrap();
    let err = block_on(trainer.train(
        &Checkpoint::base(),
        &examples(),
        &TrainContext::new(out.path()),
    ))
    .unwrap_err();
    assert!(matches!(err, TrainError::Deferred { .. }), "{err:?}");
    assert!(out.path().join("openai.jsonl").is_file());
    assert!(out.path().join("hf.jsonl").is_file());
    assert!(!out.path().join("gemini.jsonl").exists());
}

#[test]
fn the_factory_refuses_bad_options() {
    let build = |text: &str| {
        let table: toml::Table = toml::from_str(text).unwrap();
        registry::trainer("export", &table, &Context::new())
    };
    assert!(build("").is_ok());
    for (text, needle) in [
        ("format = ['openai']", "format"),
        ("formats = ['openai']\nepochs = 3", "epochs"),
        ("formats = ['csv']", "csv"),
        ("formats = []", "empty"),
        ("formats = 'openai'", "formats"),
    ] {
        let err = build(text).err().unwrap();
        let message = next_core::error::chain(&err);
        assert!(message.contains(needle), "{text}: {message}");
        assert!(message.contains("export"), "{text}: {message}");
    }
}

#[test]
fn empty_texts_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let trainer = JsonlExportTrainer::new(&ExportConfig::default()).unwrap();
    let bad = example("t/1", 2, vec![Message::new(Role::User, "fix it")], "  \n");
    let err = train(&trainer, &[bad], out.path()).unwrap_err();
    let message = next_core::error::chain(&err);
    assert!(
        message.contains("t/1") && message.contains("completion is empty"),
        "{message}"
    );
}

// The loop, with the mock model and verifier and the real export trainer.

fn task(id: &str) -> RepairTask {
    let id = TaskId::new(id).unwrap();
    RepairTask::new(
        id.clone(),
        format!("{} Return x plus one.", task_tag(&id)),
        Program::new("def f(x):\n    return x\n# mock-verdict: fail\n"),
        vec![TestCase::new("assert f(1) == 2").unwrap()],
        "f",
    )
    .unwrap()
}

fn looped() -> SelfTraining<NoneTracer, NoneRenderer, MockSampler, MockVerifier, JsonlExportTrainer>
{
    let mut config = LoopConfig {
        iterations: 2,
        samples_per_task: 8,
        seed: 11,
        ..LoopConfig::default()
    };
    config.eval.samples_per_task = 8;
    config.eval.ks = vec![1];
    config.hard_filter.enabled = false;
    SelfTraining::new(
        Roles {
            tracer: NoneTracer,
            renderer: NoneRenderer,
            sampler: MockSampler::new(Skill::growing(0.3, 0.01, 0.9)),
            verifier: MockVerifier::new(),
            trainer: JsonlExportTrainer::new(&ExportConfig::default()).unwrap(),
        },
        config,
    )
    .unwrap()
}

#[test]
fn a_run_stops_for_the_export_and_finishes_with_the_supplied_checkpoints() {
    let train: Vec<RepairTask> = (0..8).map(|i| task(&format!("train/{i}"))).collect();
    let dev: Vec<RepairTask> = (0..4).map(|i| task(&format!("dev/{i}"))).collect();
    let dir = tempfile::tempdir().unwrap();
    let looped = looped();

    let err = block_on(looped.run(dir.path(), &train, &dev, &NoObserver)).unwrap_err();
    let RunError::TrainingDeferred {
        iteration,
        instructions,
    } = err
    else {
        panic!("expected TrainingDeferred, got {err:?}");
    };
    assert_eq!(iteration, 1);
    let command = format!(
        "next resume {} --config CONFIG --checkpoint iter-1=MODEL",
        dir.path().display()
    );
    assert!(instructions.contains(&command), "{instructions}");
    let iter1 = dir.path().join("iter-1");
    assert!(iter1.join("deferred.json").is_file());
    assert!(!iter1.join("checkpoint.json").exists());
    let kept = std::fs::read_to_string(iter1.join("train.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(kept > 0);
    for format in Format::ALL {
        let path = iter1.join("checkpoint").join(format.file_name());
        assert_eq!(lines(&path).len(), kept, "{}", path.display());
    }
    let run = RunDir::open(dir.path()).unwrap();
    assert_eq!(run.deferred_iterations().unwrap(), vec![1]);

    // Resuming without a model exports again and stops again.
    let again = block_on(looped.resume(dir.path(), &NoObserver)).unwrap_err();
    assert!(
        matches!(again, RunError::TrainingDeferred { iteration: 1, .. }),
        "{again:?}"
    );

    // A checkpoint for an iteration that does not wait for one is refused.
    let refused = run
        .supply_checkpoint(2, &mock_checkpoint("tuned-2", 10))
        .unwrap_err();
    assert!(
        matches!(
            refused,
            RunError::NotAwaitingCheckpoint { iteration: 2, .. }
        ),
        "{refused:?}"
    );

    let tuned1 = mock_checkpoint("tuned-1", 40);
    run.supply_checkpoint(1, &tuned1).unwrap();
    assert!(run.deferred_iterations().unwrap().is_empty());
    let err = block_on(looped.resume(dir.path(), &NoObserver)).unwrap_err();
    assert!(
        matches!(err, RunError::TrainingDeferred { iteration: 2, .. }),
        "{err:?}"
    );
    assert!(dir.path().join("iter-2/checkpoint/openai.jsonl").is_file());

    let tuned2 = mock_checkpoint("tuned-2", 80);
    RunDir::open(dir.path())
        .unwrap()
        .supply_checkpoint(2, &tuned2)
        .unwrap();
    let summary = block_on(looped.resume(dir.path(), &NoObserver)).unwrap();
    assert_eq!(summary.iterations.len(), 2);
    assert_eq!(summary.iterations[0].checkpoint, tuned1);
    assert!(summary.iterations[0].trained);
    assert_eq!(summary.iterations[1].checkpoint, tuned2);
    // The supplied models were sampled from: more training, more skill.
    let base = summary.base_eval.pass_at(1).unwrap();
    let last = summary.iterations[1].eval.pass_at(1).unwrap();
    assert!(last > base, "base {base}, iteration 2 {last}");
}
