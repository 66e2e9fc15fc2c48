//! The host's entry point: [`load`] opens a plugin (see [`Library`]) and adds its
//! factories to the registry, once per file; [`loaded`] lists what was loaded.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use crate::factory::{dynamic, Builder, Factory, OptionDoc, PluginBuilder, RoleKind};

use super::factory::PluginFactory;
use super::library::{open, Library};
use super::wire::Manifest;
use super::PluginError;

/// A loaded plugin: its file and the factories it added to the registry.
#[derive(Debug, Clone)]
pub struct Plugin {
    path: &'static Path,
    factories: Vec<&'static Factory>,
}

impl Plugin {
    /// The plugin's file (canonical path).
    pub fn path(&self) -> &'static Path {
        self.path
    }

    /// Its factories, in the order of its manifest.
    pub fn factories(&self) -> &[&'static Factory] {
        &self.factories
    }
}

/// The plugins loaded so far, by canonical path.
static PLUGINS: Mutex<Vec<Plugin>> = Mutex::new(Vec::new());

/// Opens the plugin at `path`, checks it, and adds its factories to the
/// [`registry`](crate::registry), where they build roles like compiled-in ones (their
/// [`Origin`](crate::registry::Origin) is the file). Loading a file already loaded
/// returns it again without adding anything. The library is never unloaded.
///
/// # Errors
/// [`PluginError`], naming the file: missing, not a shared library, not a plugin, of
/// another ABI version, lacking a symbol, built against another `next-core`, with a
/// malformed or invalid manifest, or panicking while giving it.
pub fn load(path: impl AsRef<Path>) -> Result<Plugin, PluginError> {
    let given = path.as_ref();
    let path = std::fs::canonicalize(given).map_err(|source| PluginError::Missing {
        path: given.to_owned(),
        source,
    })?;
    let mut plugins = PLUGINS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(plugin) = plugins.iter().find(|plugin| plugin.path == path) {
        return Ok(plugin.clone());
    }
    let (library, manifest) = open(path)?;
    let factories = register(library, &manifest)?;
    let plugin = Plugin {
        path: library.path,
        factories,
    };
    plugins.push(plugin.clone());
    Ok(plugin)
}

/// Checks the manifest's factories and adds them to the registry.
fn register(
    library: &'static Library, manifest: &Manifest,
) -> Result<Vec<&'static Factory>, PluginError> {
    let mut checked = Vec::new();
    for (index, info) in manifest.factories.iter().enumerate() {
        let invalid = |message: String| PluginError::Manifest {
            path: library.path.to_owned(),
            message,
        };
        let role = RoleKind::from_name(&info.role).ok_or_else(|| {
            invalid(format!(
                "factory `{}` has no role `{}`",
                info.name, info.role
            ))
        })?;
        if info.name.is_empty() {
            return Err(invalid(format!("factory number {index} has no name")));
        }
        let index = u32::try_from(index).map_err(|_| invalid("too many factories".into()))?;
        checked.push((role, index, info));
    }
    Ok(checked
        .into_iter()
        .map(|(role, index, info)| {
            let name: &'static str = Box::leak(info.name.clone().into_boxed_str());
            let summary: &'static str = Box::leak(info.summary.clone().into_boxed_str());
            let options: Vec<OptionDoc> = info
                .options
                .iter()
                .map(|doc| {
                    OptionDoc::new(
                        Box::leak(doc.key.clone().into_boxed_str()),
                        Box::leak(doc.default.clone().into_boxed_str()),
                        Box::leak(doc.summary.clone().into_boxed_str()),
                    )
                })
                .collect();
            let build: &'static PluginFactory = Box::leak(Box::new(PluginFactory {
                library,
                index,
                role,
                name,
            }));
            let builder = Builder::Plugin(PluginBuilder::new(role, build));
            dynamic::add(
                Factory::new(name, summary, builder)
                    .with_options(Box::leak(options.into_boxed_slice()))
                    .loaded_from(library.path),
            )
        })
        .collect())
}

/// Every plugin loaded so far, in load order.
pub fn loaded() -> Vec<Plugin> {
    PLUGINS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
