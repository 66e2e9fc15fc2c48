//! The run configuration file.
//!
//! ```toml
//! [loop]                 # next_core::self_training::LoopConfig; every key optional
//! iterations = 2
//! samples_per_task = 8
//! shots = 3              # exemplars before the base model's prompts (default 3; 0: none)
//! # shots_file = "my-shots.toml"   # exemplars of one's own, beside this file
//!
//! [sandbox]              # optional: what tracers and verifiers run code in
//! kind = "process"
//!
//! [tracer]               # optional, default kind = "none"
//! kind = "python"
//! [renderer]             # optional, default kind = "none"
//! kind = "inline"
//!
//! [sampler]              # required
//! kind = "openai"
//! model = "..."
//! [verifier]             # required
//! kind = "tests"
//! [trainer]              # required
//! kind = "..."
//! ```
//!
//! Each role table names a factory (`next plugins list` lists them) with `kind`; the
//! rest of the table is that factory's options. A role table may name a plugin to load
//! first, `plugin = "libmy_verifier.so"` (a path relative to this file), whose factories
//! `kind` can then name. Built with its `testing` feature, `next` also
//! has next-core's mock roles, `kind = "mock"` for the tracer, sampler, verifier and
//! trainer, to try the loop without a model:
//!
//! ```toml
//! [sampler]
//! kind = "mock"
//! skill = 0.1              # pass probability of the base model
//! growth = 0.05            # added per training example
//! max = 0.9                # the ceiling
//! [verifier]
//! kind = "mock"
//! [trainer]
//! kind = "mock"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use next_core::registry::{self, Context};
use next_core::render::TraceRenderer;
use next_core::sample::RationaleSampler;
use next_core::sandbox::Sandbox;
use next_core::self_training::{LoopConfig, Roles, SelfTraining};
use next_core::trace::Tracer;
use next_core::train::Trainer;
use next_core::verify::Verifier;

use crate::error::CliError;

/// How many shipped exemplars lead the base model's prompts when `[loop]` does not say:
/// the paper samples and evaluates base models 3-shot.
pub const DEFAULT_SHOTS: i64 = 3;

/// The loop over roles chosen at run time.
pub type DynLoop = SelfTraining<
    Box<dyn Tracer>,
    Box<dyn TraceRenderer>,
    Box<dyn RationaleSampler>,
    Box<dyn Verifier>,
    Box<dyn Trainer>,
>;

const SECTIONS: [&str; 7] = [
    "loop", "sandbox", "tracer", "renderer", "sampler", "verifier", "trainer",
];

/// A parsed configuration file.
pub struct RunConfig {
    path: PathBuf,
    table: toml::Table,
    looped: LoopConfig,
}

impl RunConfig {
    /// Reads and checks a configuration file.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks a configuration's text; `path` is where it is (or will be)
    /// kept, which errors name and relative `shots_file`s are found beside.
    pub fn parse(text: &str, path: &Path) -> Result<Self, CliError> {
        let invalid = |message: String| CliError::Config {
            path: path.to_owned(),
            message,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        plugins_beside(&mut table, path);
        if let Some(unknown) = table.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown section [{unknown}]; expected one of {}",
                SECTIONS.join(", ")
            )));
        }
        let mut looped_table = match table.get("loop") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => return Err(invalid("[loop] must be a table".into())),
        };
        // The command samples base models as the paper does, 3-shot; the library's
        // default is zero-shot.
        looped_table
            .entry("shots")
            .or_insert(toml::Value::Integer(DEFAULT_SHOTS));
        let mut looped: LoopConfig = looped_table.try_into().map_err(|e: toml::de::Error| {
            // `Display`, unlike `message()`, names the key holding a wrong value.
            invalid(format!(
                "[loop]: {}",
                next_core::error::one_line(&e.to_string())
            ))
        })?;
        // A file of exemplars is found beside the configuration that names it.
        if let (Some(file), Some(dir)) = (&looped.shots_file, path.parent()) {
            if file.is_relative() {
                looped.shots_file = Some(dir.join(file));
            }
        }
        looped
            .validate()
            .map_err(|e| invalid(format!("[loop]: {}", e.message())))?;
        Ok(Self {
            path: path.to_owned(),
            table,
            looped,
        })
    }

    fn section(&self, name: &str) -> Result<Option<&toml::Table>, CliError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(t)),
            Some(_) => Err(CliError::Config {
                path: self.path.clone(),
                message: format!("[{name}] must be a table"),
            }),
        }
    }

    fn required(&self, name: &str) -> Result<&toml::Table, CliError> {
        self.section(name)?.ok_or_else(|| CliError::Config {
            path: self.path.clone(),
            message: format!("missing [{name}] table (`next roles` lists the kinds)"),
        })
    }

    /// Builds every role through the registry, and the loop over them.
    pub fn build(&self) -> Result<DynLoop, CliError> {
        let mut cx = Context::new();
        if let Some(table) = self.section("sandbox")? {
            let sandbox: Box<dyn Sandbox> = registry::from_table(table, &cx)?;
            cx = cx.with_sandbox(Arc::from(sandbox));
        }
        let none = toml::Table::from_iter([("kind".to_owned(), toml::Value::from("none"))]);
        let tracer = registry::from_table(self.section("tracer")?.unwrap_or(&none), &cx)?;
        let renderer = registry::from_table(self.section("renderer")?.unwrap_or(&none), &cx)?;
        let sampler = registry::from_table(self.required("sampler")?, &cx)?;
        let verifier = registry::from_table(self.required("verifier")?, &cx)?;
        let trainer = registry::from_table(self.required("trainer")?, &cx)?;
        let roles = Roles {
            tracer,
            renderer,
            sampler,
            verifier,
            trainer,
        };
        Ok(SelfTraining::new(roles, self.looped.clone())?.with_roles_record(self.roles_record()))
    }

    /// The role tables (every section but `[loop]`), as JSON: what a run records and a
    /// resume must match.
    fn roles_record(&self) -> serde_json::Value {
        let roles: serde_json::Map<String, serde_json::Value> = self
            .table
            .iter()
            .filter(|(section, _)| section.as_str() != "loop")
            .filter_map(|(section, table)| {
                serde_json::to_value(table)
                    .ok()
                    .map(|v| (section.clone(), v))
            })
            .collect();
        serde_json::Value::Object(roles)
    }

    /// Builds only the sampler (`[sampler]`, with the `[sandbox]` in its context), for
    /// commands that sample without running the loop.
    pub fn build_sampler(&self) -> Result<Box<dyn RationaleSampler>, CliError> {
        let mut cx = Context::new();
        if let Some(table) = self.section("sandbox")? {
            let sandbox: Box<dyn Sandbox> = registry::from_table(table, &cx)?;
            cx = cx.with_sandbox(Arc::from(sandbox));
        }
        Ok(registry::from_table(self.required("sampler")?, &cx)?)
    }

    /// The path of the configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes the relative `plugin` paths of the role tables relative to the configuration's
/// directory (`[verifier] plugin = "libmy_verifier.so"` is found beside the file).
fn plugins_beside(table: &mut toml::Table, path: &Path) {
    let Some(dir) = path.parent() else { return };
    for (_, role) in table.iter_mut() {
        let Some(role) = role.as_table_mut() else {
            continue;
        };
        if let Some(toml::Value::String(plugin)) = role.get_mut(registry::PLUGIN_KEY) {
            if Path::new(plugin.as_str()).is_relative() {
                let beside = dir.join(plugin.as_str()).to_string_lossy().into_owned();
                *plugin = beside;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every configuration in `examples/configs` parses, and names role factories that
    /// exist (all of them when every backend is compiled in, as in CI).
    #[test]
    fn the_example_configurations_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/configs");
        let mut seen = 0;
        let every_backend = cfg!(all(
            feature = "openai",
            feature = "gemini",
            feature = "docker",
            feature = "wasm",
            feature = "candle",
            feature = "testing"
        ));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let config = RunConfig::read(&path)
                .unwrap_or_else(|e| panic!("{}: {}", path.display(), next_core::error::chain(&e)));
            for (section, value) in &config.table {
                let Some(role) = registry::RoleKind::from_name(section) else {
                    continue;
                };
                let kind = value.get("kind").and_then(toml::Value::as_str).unwrap();
                let found = registry::find(role, kind);
                assert!(
                    found.is_ok() || !every_backend,
                    "{}: [{section}] kind = {kind:?} is not a factory",
                    path.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 7, "{seen} example configurations");
        // The quickstart's own configuration is valid too.
        let quick = RunConfig::parse(
            include_str!("quickstart.toml"),
            Path::new("quickstart.toml"),
        )
        .unwrap();
        assert_eq!(quick.looped.iterations, 1);
    }

    /// Every factory linked into `next` documents the keys it takes (what `next plugins
    /// list` shows), but those that take none; each crate's `tests/option_docs.rs`
    /// checks the docs against the configuration.
    #[test]
    fn every_factory_but_the_optionless_documents_its_options() {
        const NO_OPTIONS: &[&str] = &[
            "tracer none",
            "renderer none",
            "tracer mock",
            "verifier mock",
        ];
        for entry in registry::list() {
            let name = format!("{} {}", entry.role, entry.name);
            assert_eq!(
                entry.options.is_empty(),
                NO_OPTIONS.contains(&name.as_str()),
                "{name}: {:?}",
                entry.options
            );
        }
    }

    #[test]
    fn the_command_prompts_base_models_3_shot_unless_told_otherwise() {
        let path = Path::new("/configs/run.toml");
        let default = RunConfig::parse("[sampler]\nkind = \"mock\"\n", path).unwrap();
        assert_eq!(default.looped.shots, 3);
        let zero = RunConfig::parse("[loop]\nshots = 0\n", path).unwrap();
        assert_eq!(zero.looped.shots, 0);
        let own = RunConfig::parse("[loop]\nshots_file = \"mine.toml\"\n", path).unwrap();
        assert_eq!(
            own.looped.shots_file.as_deref(),
            Some(Path::new("/configs/mine.toml"))
        );
    }
}
