//! The factories of the renderers: `inline`, `scratchpad` and `blocks` (`none` is
//! `next-core`'s).

use next_core::error::InvalidInput;
use next_core::registry::{self, Context, OptionDoc, RegistryError, RoleKind};
use next_core::render::TraceRenderer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::blocks::BlocksRenderer;
use super::budget::{Budget, Budgeted, Shrink};
use super::inline::InlineRenderer;
use super::scratchpad::ScratchpadRenderer;

/// The options every renderer factory takes besides its own.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct BudgetOptions {
    budget_chars: Option<usize>,
    budget_tokens: Option<usize>,
}

/// The documentation of [`BudgetOptions::budget_chars`], as each renderer lists it.
const BUDGET_CHARS: OptionDoc =
    OptionDoc::unset("budget_chars", "most characters shown (shrinks to fit)");

/// The documentation of [`BudgetOptions::budget_tokens`], as each renderer lists it.
const BUDGET_TOKENS: OptionDoc = OptionDoc::unset(
    "budget_tokens",
    "most estimated tokens shown (shrinks to fit)",
);

/// The keys of [`BudgetOptions`].
const BUDGET_KEYS: [&str; 2] = ["budget_chars", "budget_tokens"];

/// Builds the renderer `name` from `table`: its own options through `make`, held to a
/// [`Budget`] when `budget_chars` or `budget_tokens` is given (the tighter of the two
/// when both are).
fn build<O, R>(
    name: &str, table: &toml::Table, make: fn(O) -> Result<R, InvalidInput>,
) -> Result<Box<dyn TraceRenderer>, RegistryError>
where
    O: DeserializeOwned,
    R: TraceRenderer + Shrink + 'static,
{
    let mut own = table.clone();
    let mut budget_table = toml::Table::new();
    for key in BUDGET_KEYS {
        if let Some(value) = own.remove(key) {
            budget_table.insert(key.to_owned(), value);
        }
    }
    let budget: BudgetOptions = registry::options(RoleKind::TraceRenderer, name, &budget_table)?;
    let options: O = registry::options(RoleKind::TraceRenderer, name, &own)?;
    let bad =
        |err: InvalidInput| RegistryError::options(RoleKind::TraceRenderer, name, err.message());
    let renderer = make(options).map_err(bad)?;
    let budgets = [
        budget
            .budget_chars
            .map(|chars| ("budget_chars", chars, Budget::chars(chars))),
        budget
            .budget_tokens
            .map(|tokens| ("budget_tokens", tokens, Budget::tokens(tokens))),
    ];
    let mut tightest: Option<Budget> = None;
    for (key, value, budget) in budgets.into_iter().flatten() {
        if value == 0 {
            return Err(bad(InvalidInput::new(format!(
                "`{key}` must be at least 1, not 0"
            ))));
        }
        tightest = Some(tightest.map_or(budget, |other| other.min(budget)));
    }
    Ok(match tightest {
        Some(budget) => Box::new(Budgeted::new(renderer, budget)),
        None => Box::new(renderer),
    })
}

fn build_inline(
    table: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    build("inline", table, InlineRenderer::new)
}

fn build_scratchpad(
    table: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    build("scratchpad", table, ScratchpadRenderer::new)
}

fn build_blocks(
    table: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    build("blocks", table, BlocksRenderer::new)
}

next_core::register_factory!(
    renderer,
    "inline",
    "NExT's format: states as numbered trailing comments of the code lines, per test",
    build_inline,
    options = &[
        OptionDoc::new(
            "max_states_per_line",
            "3",
            "states shown per line (at least 2)"
        ),
        OptionDoc::new("max_value_chars", "60", "longest value shown (at least 5)"),
        OptionDoc::new("max_traces", "3", "tests whose runs are shown"),
        BUDGET_CHARS,
        BUDGET_TOKENS,
    ],
);

next_core::register_factory!(
    renderer,
    "scratchpad",
    "the full state after every executed line, listed under the program, per test",
    build_scratchpad,
    options = &[
        OptionDoc::new("max_steps", "100", "executed lines shown per test"),
        OptionDoc::new("max_value_chars", "60", "longest value shown (at least 5)"),
        OptionDoc::new("max_traces", "3", "tests whose runs are shown"),
        BUDGET_CHARS,
        BUDGET_TOKENS,
    ],
);

next_core::register_factory!(
    renderer,
    "blocks",
    "the failing run as basic blocks with the state before and after each (LDB)",
    build_blocks,
    options = &[
        OptionDoc::new("max_blocks", "20", "basic blocks shown"),
        OptionDoc::new("max_value_chars", "60", "longest value shown (at least 5)"),
        BUDGET_CHARS,
        BUDGET_TOKENS,
    ],
);

#[cfg(test)]
mod tests {
    use next_core::registry::{check_option_docs, options_as_json};
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::python::TracerOptions;
    use crate::render::{BlocksOptions, InlineOptions, ScratchpadOptions};

    /// A renderer's options as JSON: its own and the budget's, apart as `build` reads them.
    fn renderer_options<O: Serialize + DeserializeOwned>(
        table: &toml::Table,
    ) -> Result<serde_json::Value, String> {
        let mut own = table.clone();
        let mut budget = toml::Table::new();
        for key in BUDGET_KEYS {
            if let Some(value) = own.remove(key) {
                budget.insert(key.to_owned(), value);
            }
        }
        let mut all = options_as_json::<O>(&own)?;
        let serde_json::Value::Object(budget) = options_as_json::<BudgetOptions>(&budget)? else {
            return Err("the budget is not a table".to_owned());
        };
        all.as_object_mut()
            .ok_or("the options are not a table")?
            .extend(budget);
        Ok(all)
    }

    #[test]
    fn every_factory_documents_exactly_its_options_and_their_defaults() {
        type Read = fn(&toml::Table) -> Result<serde_json::Value, String>;
        let none = toml::Table::new();
        let checks: [(RoleKind, &str, Read); 4] = [
            (RoleKind::Tracer, "python", options_as_json::<TracerOptions>),
            (
                RoleKind::TraceRenderer,
                "inline",
                renderer_options::<InlineOptions>,
            ),
            (
                RoleKind::TraceRenderer,
                "scratchpad",
                renderer_options::<ScratchpadOptions>,
            ),
            (
                RoleKind::TraceRenderer,
                "blocks",
                renderer_options::<BlocksOptions>,
            ),
        ];
        for (role, name, read) in checks {
            let factory = registry::find(role, name).unwrap();
            if let Err(problems) = check_option_docs(factory.options(), &none, read) {
                panic!("{role} `{name}`:\n{problems}");
            }
        }
    }
}
