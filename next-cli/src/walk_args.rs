//! The arguments that `next repair` and `next eval` share: the roles that walk a task
//! (tracer, verifier, their sandbox), the few-shot exemplars and the sampling parameters,
//! together [`WalkArgs`].

use std::path::PathBuf;

use next_core::checkpoint::Checkpoint;
use next_core::error::InvalidInput;
use next_core::prompt::shots::Exemplars;
use next_core::prompt::FewShot;
use next_core::registry::{self, Context, RegistryError};
use next_core::render::TraceRenderer;
use next_core::repair::Repairer;
use next_core::sample::SamplingParams;
use next_core::trace::Tracer;
use next_core::verify::Verifier;

use crate::error::CliError;

/// The roles that trace and judge a task.
/// What every command that walks tasks takes: the roles that trace and judge, the
/// few-shot exemplars before each prompt and how samples are drawn.
#[derive(clap::Args, Debug)]
pub struct WalkArgs {
    /// The roles that trace and judge.
    #[command(flatten)]
    pub roles: RoleArgs,
    /// The few-shot exemplars before each prompt.
    #[command(flatten)]
    pub shots: ShotArgs,
    /// How samples are drawn.
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

#[derive(clap::Args, Debug)]
pub struct RoleArgs {
    /// The tracer (a registered tracer's name).
    #[arg(long, default_value = "python")]
    pub tracer: String,
    /// The verifier (a registered verifier's name).
    #[arg(long, default_value = "tests")]
    pub verifier: String,
    /// The sandbox that traces and verifies (process, or wasm and docker where compiled
    /// in).
    #[arg(long, default_value = "process")]
    pub sandbox: String,
    /// The Python interpreter of the process sandbox (default: `python3` on PATH).
    #[arg(long)]
    pub python: Option<PathBuf>,
}

/// The roles built from [`RoleArgs`].
pub struct Roles {
    /// The tracer.
    pub tracer: Box<dyn Tracer>,
    /// The verifier.
    pub verifier: Box<dyn Verifier>,
}

impl RoleArgs {
    /// Builds the tracer and the verifier over one sandbox (call inside the runtime).
    ///
    /// # Errors
    /// [`CliError`] when the sandbox or a role cannot be built.
    pub fn build(&self) -> Result<Roles, CliError> {
        let no_options = toml::Table::new();
        let sandbox = crate::input::sandbox(&self.sandbox, self.python.as_deref())?;
        let cx = Context::new().with_sandbox(sandbox);
        Ok(Roles {
            tracer: registry::tracer(&self.tracer, &no_options, &cx)
                .map_err(role_error("tracer", &self.tracer))?,
            verifier: registry::verifier(&self.verifier, &no_options, &cx)
                .map_err(role_error("verifier", &self.verifier))?,
        })
    }
}

/// The renderer called `name`, with its default options.
///
/// # Errors
/// [`CliError::Role`] when no renderer has that name.
pub fn renderer(name: &str) -> Result<Box<dyn TraceRenderer>, CliError> {
    registry::renderer(name, &toml::Table::new(), &Context::new())
        .map_err(role_error("renderer", name))
}

/// How many shots lead a base model's prompts when `--shots` does not say.
const DEFAULT_SHOTS: usize = 3;

/// The few-shot exemplars that lead the prompt.
#[derive(clap::Args, Debug)]
pub struct ShotArgs {
    /// Few-shot exemplars before the prompt. Default: 3 for the base model, 0 for a
    /// tuned checkpoint, as the paper prompts them.
    #[arg(long)]
    pub shots: Option<usize>,
    /// A TOML file of exemplars of one's own (default: the shipped ones; the form is in
    /// `next_core::prompt::shots`).
    #[arg(long)]
    pub shots_file: Option<PathBuf>,
}

impl ShotArgs {
    /// How many shots `checkpoint` is shown.
    pub fn count(&self, checkpoint: &Checkpoint) -> usize {
        self.shots.unwrap_or(if checkpoint.is_base() {
            DEFAULT_SHOTS
        } else {
            0
        })
    }

    /// The shots for `checkpoint`, rendered by `repairer`'s tracer and renderer (none
    /// for `--shots 0`), which shows them to whichever checkpoint it samples.
    ///
    /// # Errors
    /// [`CliError::Input`] when the file cannot be read, holds fewer exemplars than
    /// asked, or an exemplar cannot be traced or rendered.
    pub async fn render(
        &self, repairer: &Repairer<'_>, checkpoint: &Checkpoint,
    ) -> Result<Vec<FewShot>, CliError> {
        let count = self.count(checkpoint);
        if count == 0 {
            return Ok(Vec::new());
        }
        let input = |e: &dyn std::fmt::Display| CliError::Input(InvalidInput::new(e.to_string()));
        let exemplars =
            Exemplars::load_or_shipped(self.shots_file.as_deref()).map_err(|e| input(&e))?;
        let chosen = exemplars.first(count).map_err(|e| input(&e))?;
        repairer
            .render_shots(chosen)
            .await
            .map_err(|e| input(&format!("the few-shot exemplars: {e}")))
    }
}

/// How samples are drawn.
#[derive(clap::Args, Debug)]
pub struct SamplingArgs {
    /// Most tokens per sample.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Seed of the first sample (sample k uses seed + k).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    /// The sampling parameters.
    ///
    /// # Errors
    /// [`CliError::Input`] for a parameter out of range.
    pub fn params(&self) -> Result<SamplingParams, CliError> {
        let params = SamplingParams {
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            seed: self.seed,
            stop: Vec::new(),
        };
        params.validate().map_err(CliError::Input)?;
        Ok(params)
    }
}

/// A role named on the command line that could not be built.
pub fn role_error(role: &'static str, name: &str) -> impl FnOnce(RegistryError) -> CliError {
    let name = name.to_owned();
    move |source| CliError::Role { role, name, source }
}
