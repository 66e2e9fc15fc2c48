//! `next trace PROGRAM.py --test STMT [--test ...] [--tests-file FILE] [--renderer NAME]
//! [--json] [--sandbox KIND]`: runs one program on its tests under the Python tracer
//! (`next_tracers::python`) and prints the rendering the model would read, or the raw
//! traces as JSON.
//!
//! Tests come from `--test` (one statement each, in order) and then from `--tests-file`
//! (one test statement per line; the JSON forms `next verify` reads are accepted too).
//! The tracer is the registry's `python` tracer, over the sandbox named by `--sandbox`;
//! the renderer is the registry's renderer named by `--renderer` (`inline`, `none`,
//! `scratchpad`, `blocks`).
//!
//! Exit status: 0 when the program was traced (whether its tests passed or not), 2 for a
//! usage or infrastructure error (a missing file, no test, a sandbox or renderer that is
//! not compiled in, a sandbox that cannot run).

use std::path::PathBuf;
use std::process::ExitCode;

use next_core::registry::{self, Context};
use next_core::task::{Program, TestCase};
use next_core::trace::Trace;
// The `python` tracer and the renderers register themselves in next-tracers: link it.
use next_tracers as _;
use tokio::runtime::Runtime;

use crate::error::CliError;
use crate::input::{parse_tests, read, read_program, sandbox};

/// The arguments of `next trace`.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The program to trace: a Python source file.
    program: PathBuf,
    /// A test statement, such as `assert f(1) == 2`; repeat for several, in order.
    #[arg(long = "test", value_name = "STATEMENT")]
    tests: Vec<String>,
    /// A file of tests, one statement per line, run after those given by `--test`.
    #[arg(long)]
    tests_file: Option<PathBuf>,
    /// How to show the traces: a renderer factory (inline, none, scratchpad, blocks).
    #[arg(long, default_value = "inline")]
    renderer: String,
    /// Print the traces as JSON (an array, one trace per test) instead of rendering them.
    #[arg(long)]
    json: bool,
    /// The sandbox that runs the program: process (default), or wasm and docker where
    /// compiled in (`next roles` lists them).
    #[arg(long, default_value = "process")]
    sandbox: String,
    /// The Python interpreter of the process sandbox (default: `python3` on PATH).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Stop recording a test after this many events.
    #[arg(long)]
    max_events: Option<u32>,
    /// Stop a test after this many milliseconds.
    #[arg(long)]
    time_limit_ms: Option<u64>,
    /// The tracing engine: auto (default), settrace or monitoring.
    #[arg(long)]
    engine: Option<String>,
}

/// Runs `next trace`: prints the traces and exits with 0; an error is the
/// could-not-trace status (2) `main` gives it.
///
/// # Errors
/// [`CliError`] when a file cannot be read, there is no test, a role cannot be built,
/// or the program cannot be traced.
pub fn run(args: &TraceArgs, runtime: &Runtime) -> Result<ExitCode, CliError> {
    let text = trace(args, runtime)?;
    crate::out!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The tests: `--test` ones first, then the tests file's.
fn tests(args: &TraceArgs) -> Result<Vec<TestCase>, CliError> {
    let mut tests = args
        .tests
        .iter()
        .map(|code| TestCase::new(code.clone()).map_err(CliError::Input))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = &args.tests_file {
        tests.extend(parse_tests(&read(path, "tests file")?)?);
    }
    if tests.is_empty() {
        return Err(CliError::NoTestGiven);
    }
    Ok(tests)
}

/// The traces, rendered or as JSON.
fn trace(args: &TraceArgs, runtime: &Runtime) -> Result<String, CliError> {
    let program = Program::new(read_program(&args.program, "program")?);
    let tests = tests(args)?;
    let _context = runtime.enter();
    let renderer = if args.json {
        None
    } else {
        Some(
            registry::renderer(&args.renderer, &toml::Table::new(), &Context::new()).map_err(
                |source| CliError::Role {
                    role: "renderer",
                    name: args.renderer.clone(),
                    source,
                },
            )?,
        )
    };
    let cx = Context::new().with_sandbox(sandbox(&args.sandbox, args.python.as_deref())?);
    let mut options = toml::Table::new();
    if let Some(max_events) = args.max_events {
        options.insert(
            "max_events".to_owned(),
            toml::Value::Integer(i64::from(max_events)),
        );
    }
    if let Some(ms) = args.time_limit_ms {
        let ms = i64::try_from(ms).map_err(|_| CliError::TimeLimit)?;
        options.insert("time_limit_ms".to_owned(), toml::Value::Integer(ms));
    }
    if let Some(engine) = &args.engine {
        options.insert("engine".to_owned(), toml::Value::String(engine.clone()));
    }
    let recorder = registry::tracer("python", &options, &cx).map_err(CliError::Tracer)?;
    let traces: Vec<Trace> = runtime
        .block_on(recorder.trace(&program, &tests))
        .map_err(CliError::Tracing)?;
    match renderer {
        None => serde_json::to_string_pretty(&traces)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(CliError::Json),
        Some(renderer) => Ok(renderer.render(&program, &tests, &traces)),
    }
}
