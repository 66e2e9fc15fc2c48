//! `next resume DIR --config RUN.toml [--checkpoint iter-N=MODEL ...]`: continues a run
//! where it stopped, first giving each iteration whose training was left to another
//! trainer (`[trainer] kind = "export"`) the model trained on its export.
//!
//! `MODEL` is read by [`checkpoint_from_spec`]: a hosted model id, an adapter directory,
//! a `.gguf` file, or the checkpoint's data as a JSON object.
//!
//! Exit status, for `next run` as for `next resume`: 0 when the run finished (the
//! summary is printed), [`DEFERRED`] (3) when it stopped because an iteration is to be
//! trained outside the run (what was written where, and the `next resume` command that
//! goes on, are printed), 1 for any error, 2 for a usage error (a malformed
//! `--checkpoint`, among others).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use next_core::run::{RunDir, RunError, Summary};
use next_core::train::Checkpoint;
use next_models::checkpoint::checkpoint_from_spec;
use tokio::runtime::Runtime;

use crate::config::RunConfig;
use crate::error::CliError;
use crate::progress::Bars;

/// The exit status of a run that stopped for a training done outside it.
pub const DEFERRED: u8 = 3;

/// The arguments of `next resume`.
#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The run directory.
    dir: PathBuf,
    /// The run's TOML configuration (its `[loop]` must match the run's).
    #[arg(long)]
    config: PathBuf,
    /// The model trained outside the run for iteration N, whose training was exported:
    /// a hosted model id, an adapter directory, a .gguf file, or the checkpoint's data
    /// as a JSON object. Repeatable, once per waiting iteration.
    #[arg(long = "checkpoint", value_name = "iter-N=MODEL", value_parser = parse_supplied)]
    checkpoints: Vec<Supplied>,
}

/// One `--checkpoint iter-N=MODEL`.
#[derive(Debug, Clone)]
struct Supplied {
    iteration: u32,
    checkpoint: Checkpoint,
}

/// Parses `iter-N=MODEL` strictly: `N` a positive decimal number without sign or
/// leading zero, `MODEL` as [`checkpoint_from_spec`] reads it.
fn parse_supplied(text: &str) -> Result<Supplied, String> {
    let Some((name, model)) = text.split_once('=') else {
        return Err("expected iter-N=MODEL, as in iter-1=ft:my-model (no `=` found)".to_owned());
    };
    let iteration = parse_iteration(name)?;
    let checkpoint = checkpoint_from_spec(name, model).map_err(|err| err.to_string())?;
    Ok(Supplied {
        iteration,
        checkpoint,
    })
}

/// `iter-N` as `N`.
fn parse_iteration(name: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "`{name}` does not name an iteration: expected iter-N with N a number from 1, \
             as in iter-1 (the name of the run's iter-N/ directory)"
        )
    };
    let digits = name.strip_prefix("iter-").ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(bad());
    }
    digits.parse::<u32>().map_err(|_| bad())
}

/// Runs `next resume`; see the module documentation for the exit status.
///
/// # Errors
/// [`CliError`] when the configuration, the roles, a `--checkpoint` or the run fail.
pub fn run(args: &ResumeArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let config = RunConfig::read(&args.config)?;
    let looped = config.build()?;
    if !args.checkpoints.is_empty() {
        supply(&args.dir, &args.checkpoints)?;
    }
    let result = runtime.block_on(looped.resume(&args.dir, &Bars::new()));
    finish(result, &args.dir, &config)
}

/// Gives every named iteration its model, after checking that each one waits for it (so
/// that a mistake in one leaves the run as it was).
fn supply(dir: &Path, supplied: &[Supplied]) -> Result<(), CliError> {
    let run = RunDir::open(dir).map_err(|source| CliError::Open {
        dir: dir.to_owned(),
        source,
    })?;
    let waiting = run.deferred_iterations().map_err(|source| CliError::Open {
        dir: dir.to_owned(),
        source,
    })?;
    let mut seen = BTreeSet::new();
    for s in supplied {
        if !seen.insert(s.iteration) {
            return Err(CliError::Twice(s.iteration));
        }
        if !waiting.contains(&s.iteration) {
            return Err(CliError::NotWaiting {
                iteration: s.iteration,
                dir: dir.to_owned(),
                waiting: if waiting.is_empty() {
                    "none is".to_owned()
                } else {
                    let names: Vec<String> = waiting.iter().map(|n| format!("iter-{n}")).collect();
                    format!("waiting: {}", names.join(", "))
                },
            });
        }
    }
    for s in supplied {
        run.supply_checkpoint(s.iteration, &s.checkpoint)
            .map_err(|source| CliError::Supply {
                iteration: s.iteration,
                source,
            })?;
    }
    Ok(())
}

/// The end of `next run` and `next resume`: the summary of a finished run (status 0);
/// for a run that stopped for a training done elsewhere, the trainer's instructions and
/// the command that goes on with this run's directory and configuration (status
/// [`DEFERRED`]); any other error, explained.
///
/// # Errors
/// [`CliError`] for a run that failed.
pub(crate) fn finish(
    result: Result<Summary, RunError>, dir: &Path, config: &RunConfig,
) -> Result<ExitCode, CliError> {
    match result {
        Ok(summary) => {
            crate::print_summary(&summary);
            crate::report_cmd::after_run(dir);
            Ok(ExitCode::SUCCESS)
        }
        Err(RunError::TrainingDeferred {
            iteration,
            instructions,
        }) => {
            crate::outln!("iteration {iteration} is to be trained outside this run:");
            crate::outln!("{}", instructions.trim_end());
            crate::outln!("with this run's directory and configuration:");
            crate::outln!(
                "  next resume {} --config {} --checkpoint iter-{iteration}=MODEL",
                shell_word(dir),
                shell_word(config.path())
            );
            Ok(ExitCode::from(DEFERRED))
        }
        Err(error) => Err(crate::explain(error, dir, config)),
    }
}

/// A path as one shell word: as is when it holds only characters no shell treats
/// specially, else single-quoted.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_are_parsed_strictly() {
        assert_eq!(parse_iteration("iter-1"), Ok(1));
        assert_eq!(parse_iteration("iter-42"), Ok(42));
        for bad in [
            "iter-",
            "iter-x",
            "iter-0",
            "iter-01",
            "iter-+1",
            "iter--1",
            "iter-1 ",
            "iter1",
            "it-1",
            "1",
            "",
            "iter-99999999999",
        ] {
            let err = parse_iteration(bad).unwrap_err();
            assert!(err.contains("expected iter-N"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn specs_need_an_equals_sign_and_a_model() {
        let s = parse_supplied("iter-2=ft:m:1").unwrap();
        assert_eq!(s.iteration, 2);
        assert_eq!(s.checkpoint.name, "iter-2");
        assert_eq!(s.checkpoint.data, serde_json::json!({"model": "ft:m:1"}));
        // The model may hold `=` itself.
        let s = parse_supplied(r#"iter-1={"model": "a=b"}"#).unwrap();
        assert_eq!(s.checkpoint.data, serde_json::json!({"model": "a=b"}));
        assert!(parse_supplied("iter-1").unwrap_err().contains("no `=`"));
        assert!(parse_supplied("iter-1=").unwrap_err().contains("no model"));
        assert!(parse_supplied("iter-x=m").unwrap_err().contains("`iter-x`"));
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word(Path::new("runs/first")), "runs/first");
        assert_eq!(shell_word(Path::new("my runs/a")), "'my runs/a'");
        assert_eq!(shell_word(Path::new("it's")), r"'it'\''s'");
    }
}
