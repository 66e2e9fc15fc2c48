//! What a factory tells about itself beyond its name: where it comes from ([`Origin`])
//! and the options it takes ([`OptionDoc`]), for listings such as `next plugins list`.
//!
//! The design decision: **both are plain `'static` data set where the factory is
//! declared**, so a compiled-in factory describes itself in its `const` registration and
//! a plugin's factory in its manifest, and listing never builds anything.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where a factory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Registered by `next-core` itself (the `none` roles, the mocks of feature
    /// `testing`).
    BuiltIn,
    /// Registered by another crate linked into the binary, usually a backend chosen with
    /// a cargo feature.
    Feature,
    /// Loaded at run time from this shared library (see the `plugin` module).
    File(&'static Path),
}

impl Origin {
    /// The origin of a factory registered from the module `module` (its
    /// `module_path!()`, empty when unknown): built in for `next-core`'s own modules, a
    /// feature otherwise.
    pub fn of_module(module: &str) -> Origin {
        if module == "next_core" || module.starts_with("next_core::") {
            Origin::BuiltIn
        } else {
            Origin::Feature
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built in"),
            Origin::Feature => f.write_str("feature"),
            Origin::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// One configuration key a factory takes: its name, its default (as TOML text; empty
/// when the key is required, [`OptionDoc::UNSET`] when it is optional and unset unless
/// given, as TOML has no null) and what it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OptionDoc {
    /// The key, as written in the role's table.
    pub key: &'static str,
    /// The default value as TOML text (`0.2`, `"inline"`), empty for a required key,
    /// [`OptionDoc::UNSET`] for an optional key without a default value.
    pub default: &'static str,
    /// What the key sets, in a few words.
    pub summary: &'static str,
}

impl OptionDoc {
    /// The default text of an optional key that is unset unless given (an `Option` left
    /// `None`): no TOML value stands for it.
    pub const UNSET: &'static str = "(unset)";

    /// Describes the key `key` with its default (TOML text, empty when required).
    pub const fn new(key: &'static str, default: &'static str, summary: &'static str) -> Self {
        Self {
            key,
            default,
            summary,
        }
    }

    /// Describes the optional key `key`, unset unless a configuration gives it.
    pub const fn unset(key: &'static str, summary: &'static str) -> Self {
        Self::new(key, Self::UNSET, summary)
    }

    /// Whether a configuration must set the key.
    pub const fn required(&self) -> bool {
        self.default.is_empty()
    }

    /// Whether the key is optional and has no default value ([`OptionDoc::UNSET`]).
    pub fn is_unset(&self) -> bool {
        self.default == Self::UNSET
    }

    /// The default as TOML text, `None` for a required key or one unset by default.
    pub fn default_value(&self) -> Option<&'static str> {
        (!self.required() && !self.is_unset()).then_some(self.default)
    }
}

impl fmt::Display for OptionDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.required() {
            write!(f, "{} (required)", self.key)
        } else if self.is_unset() {
            write!(f, "{} (optional, unset)", self.key)
        } else {
            write!(f, "{} = {}", self.key, self.default)
        }
    }
}

/// Reads `table` as the options struct `T` and gives it back as JSON, for
/// [`check_option_docs`]: `None` fields are `null` there, so every key shows.
///
/// # Errors
/// The deserializer's or serializer's message.
pub fn options_as_json<T: Serialize + DeserializeOwned>(
    table: &toml::Table,
) -> Result<serde_json::Value, String> {
    let options: T = table.clone().try_into().map_err(|err| format!("{err}"))?;
    serde_json::to_value(&options).map_err(|err| err.to_string())
}

/// Checks that `docs` agree with the options a factory reads, so that its listing cannot
/// drift from its code. `read` turns an options table into the options as a JSON object
/// (usually [`options_as_json`]); `minimal` is the smallest valid table (the required
/// keys only).
///
/// It checks that the documented keys are exactly the keys `read` gives for `minimal`,
/// each once; that every required key is in `minimal`; that every key documented as
/// [`OptionDoc::UNSET`] reads as `null`; and that every other default is a TOML value
/// that, when given, changes nothing and, unless a table (`{}` for a nested table of
/// defaults), is the very value `read` gives.
///
/// # Errors
/// Every disagreement, one a line.
pub fn check_option_docs(
    docs: &[OptionDoc], minimal: &toml::Table,
    read: impl Fn(&toml::Table) -> Result<serde_json::Value, String>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let base = read(minimal).map_err(|err| format!("the minimal options do not read: {err}"))?;
    let serde_json::Value::Object(fields) = &base else {
        return Err(format!("the options read as {base}, not a table"));
    };
    let mut documented = BTreeSet::new();
    for doc in docs {
        if !documented.insert(doc.key) {
            problems.push(format!("`{}` is documented twice", doc.key));
        }
    }
    let actual: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    for key in actual.difference(&documented) {
        problems.push(format!("`{key}` is an option but not documented"));
    }
    for key in documented.difference(&actual) {
        problems.push(format!("`{key}` is documented but not an option"));
    }
    for doc in docs {
        let Some(value) = fields.get(doc.key) else {
            continue;
        };
        if doc.required() {
            if !minimal.contains_key(doc.key) {
                problems.push(format!(
                    "`{}` is documented as required but is not",
                    doc.key
                ));
            }
        } else if doc.is_unset() {
            if !value.is_null() {
                problems.push(format!(
                    "`{}` is documented as unset but is {value}",
                    doc.key
                ));
            }
        } else if let Err(problem) = check_default(doc, value, &base, minimal, &read) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Checks the default of the optional key `doc` against its value `value` in the
/// options `base` that `read` gives for `minimal`.
fn check_default(
    doc: &OptionDoc, value: &serde_json::Value, base: &serde_json::Value, minimal: &toml::Table,
    read: &impl Fn(&toml::Table) -> Result<serde_json::Value, String>,
) -> Result<(), String> {
    let key = doc.key;
    let parsed: toml::Table = toml::from_str(&format!("value = {}", doc.default))
        .map_err(|err| format!("`{key}`'s default `{}` is not TOML: {err}", doc.default))?;
    let declared = parsed
        .get("value")
        .ok_or_else(|| format!("`{key}`'s default `{}` is not a value", doc.default))?;
    if !declared.is_table() {
        let declared_json = serde_json::to_value(declared).map_err(|err| err.to_string())?;
        if &declared_json != value {
            return Err(format!(
                "`{key}` is documented as `{}` but defaults to {value}",
                doc.default
            ));
        }
    }
    let mut given = minimal.clone();
    given.insert(key.to_owned(), declared.clone());
    let with_default =
        read(&given).map_err(|err| format!("`{key} = {}` does not read: {err}", doc.default))?;
    if &with_default != base {
        return Err(format!("`{key} = {}` is not the default", doc.default));
    }
    Ok(())
}
