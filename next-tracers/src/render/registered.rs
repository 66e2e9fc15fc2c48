//! The factories of the renderers: `inline`, `scratchpad` and `blocks` (`none` is
//! `next-core`'s).

use next_core::error::InvalidInput;
use next_core::registry::{self, Context, RegistryError, RoleKind};
use next_core::render::TraceRenderer;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::blocks::BlocksRenderer;
use super::budget::{Budget, Budgeted, Shrink};
use super::inline::InlineRenderer;
use super::scratchpad::ScratchpadRenderer;

/// The options every renderer factory takes besides its own.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct BudgetOptions {
    budget_chars: Option<usize>,
    budget_tokens: Option<usize>,
}

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
);

next_core::register_factory!(
    renderer,
    "scratchpad",
    "the full state after every executed line, listed under the program, per test",
    build_scratchpad,
);

next_core::register_factory!(
    renderer,
    "blocks",
    "the failing run as basic blocks with the state before and after each (LDB)",
    build_blocks,
);
