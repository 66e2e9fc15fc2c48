//! `next plugins list` (and `next roles`): every role factory this binary has, compiled
//! in or loaded with `--plugin`, with its origin and the configuration keys it takes;
//! and the loading of `--plugin PATH`, which every command accepts.
//!
//! The design decision: **plugins are loaded before any command runs**, into the same
//! registry the commands build their roles from, so a plugin's factories are named in
//! configuration files and on the command line exactly as compiled-in ones.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use next_core::plugin;
use next_core::registry;

use crate::error::CliError;

/// `next plugins ...`.
#[derive(Args)]
pub struct PluginsArgs {
    #[command(subcommand)]
    command: PluginsCommand,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Every role factory: its role, name, origin (built in, feature, or a plugin's
    /// file), summary, and the configuration keys it takes with their defaults; with
    /// `--plugin PATH`, a plugin's too.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `next plugins`.
pub fn run(args: &PluginsArgs) {
    match args.command {
        PluginsCommand::List { json } => list(json),
    }
}

/// Loads the plugins named with `--plugin`, in order.
///
/// # Errors
/// [`CliError::Plugin`] for the first that cannot be loaded.
pub fn load(paths: &[PathBuf]) -> Result<(), CliError> {
    for path in paths {
        plugin::load(path)?;
    }
    Ok(())
}

/// Prints the registry: a table (a line per factory, then a line per option), or JSON
/// lines.
pub fn list(json: bool) {
    for entry in registry::list() {
        if json {
            let options: Vec<serde_json::Value> = entry
                .options
                .iter()
                .map(|doc| {
                    serde_json::json!({
                        "key": doc.key,
                        "default": doc.default_value(),
                        "required": doc.required(),
                        "summary": doc.summary,
                    })
                })
                .collect();
            let line = serde_json::json!({
                "role": entry.role.to_string(),
                "name": entry.name,
                "origin": origin_json(entry.origin),
                "summary": entry.summary,
                "options": options,
            });
            crate::outln!("{line}");
        } else {
            crate::outln!(
                "{:<9} {:<12} {:<9} {}",
                entry.role.to_string(),
                entry.name,
                origin_word(entry.origin),
                entry.summary
            );
            if let registry::Origin::File(path) = entry.origin {
                crate::outln!("{:<9}   from {}", "", path.display());
            }
            for doc in entry.options {
                crate::outln!("{:<9}   {doc}  {}", "", doc.summary);
            }
        }
    }
}

fn origin_word(origin: registry::Origin) -> &'static str {
    match origin {
        registry::Origin::BuiltIn => "built-in",
        registry::Origin::Feature => "feature",
        registry::Origin::File(_) => "plugin",
    }
}

fn origin_json(origin: registry::Origin) -> serde_json::Value {
    match origin {
        registry::Origin::File(path) => serde_json::json!({ "file": path }),
        other => serde_json::Value::from(origin_word(other)),
    }
}
