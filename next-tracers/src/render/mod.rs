//! The trace renderers: a program and its traces into the text the model reads.
//!
//! Every renderer is a [`TraceRenderer`](next_core::render::TraceRenderer): pure,
//! synchronous and deterministic, and it never panics, whatever the traces hold (events
//! at lines the program does not have, empty traces, fewer traces than tests, frames out
//! of order). Each reads the traces as the event contract of [`next_core::trace`] says
//! tracers write them, and each is registered under a stable name with its options:
//!
//! | name | renderer | what it is for |
//! |---|---|---|
//! | `inline` | [`InlineRenderer`] | NExT's format (`trace-format.md`, normative, byte-exact): numbered states as trailing comments of the code, one block per test, failing tests first |
//! | `none` | [`NoneRenderer`](next_core::render::NoneRenderer) (`next-core`) | the program alone: the paper's baseline without traces |
//! | `scratchpad` | [`ScratchpadRenderer`] | ablation: the full state after every executed line, as a list under the program |
//! | `blocks` | [`BlocksRenderer`] | ablation: the failing run as basic blocks with the states before and after each, as in LDB |
//!
//! Options (TOML, beside `kind`; every key optional, an unknown key an error):
//! `inline` takes [`InlineOptions`], `scratchpad` [`ScratchpadOptions`], `blocks`
//! [`BlocksOptions`], and all three also take `budget_chars` and `budget_tokens`: given
//! either, the factory wraps the renderer in [`Budgeted`], which renders again with
//! successively smaller options ([`Shrink`]) until the text fits the [`Budget`] (a
//! token counts as four characters; with both keys the tighter budget holds).
//!
//! The worked example of `trace-format.md`, had its test expected 5:
//!
//! ```
//! use next_core::registry::{self, Context};
//! use next_core::task::{Program, TestCase};
//! use next_core::trace::{Binding, Event, EventKind, Location, Trace, TraceStatus};
//! use next_tracers as _; // links the crate, and so its factories
//!
//! let program = Program::new(
//!     "def sum_odd(nums):\n    s = 0\n    for n in nums:\n        if n % 2 == 1:\n            s += n\n    return s\n",
//! );
//! let tests = [TestCase::new("assert sum_odd([1, 2, 3, 4]) == 5")?];
//!
//! // The events a tracer records, as `next_core::trace` says.
//! let at = |line, kind| Event { frame: 1, location: Location::Program(line), kind };
//! let line = |number, changes: &[(&str, &str)]| {
//!     let changes = changes.iter().map(|(name, value)| Binding::new(*name, *value)).collect();
//!     at(number, EventKind::Line { changes })
//! };
//! let mut events = vec![
//!     at(1, EventKind::Call { function: "sum_odd".into(), args: vec![Binding::new("nums", "[1, 2, 3, 4]")] }),
//!     line(2, &[("s", "0")]),
//! ];
//! let mut s = 0;
//! for n in 1..=4 {
//!     events.push(line(3, &[("n", &n.to_string())]));
//!     events.push(line(4, &[]));
//!     if n % 2 == 1 {
//!         s += n;
//!         events.push(line(5, &[("s", &s.to_string())]));
//!     }
//! }
//! events.push(line(3, &[]));
//! events.push(line(6, &[]));
//! events.push(at(6, EventKind::Return { value: "4".into() }));
//! events.push(Event {
//!     frame: 0,
//!     location: Location::Test(1),
//!     kind: EventKind::Exception { value: "AssertionError()".into() },
//! });
//! let trace = Trace {
//!     test: 0,
//!     status: TraceStatus::Failed,
//!     events,
//!     truncated: false,
//!     incomplete: false,
//!     stdout: String::new(),
//!     stderr: String::new(),
//! };
//!
//! let renderer = registry::renderer("inline", &toml::Table::new(), &Context::new())?;
//! assert_eq!(
//!     renderer.render(&program, &tests, &[trace.clone()]),
//!     "\
//! def sum_odd(nums):  # (0) nums=[1, 2, 3, 4];
//!     s = 0  # (1) s=0;
//!     for n in nums:  # (2) n=1; (4) n=2; ...; (7) n=4;
//!         if n % 2 == 1:
//!             s += n  # (3) s=1; (6) s=4;
//!     return s  # (8) __return__=4;
//!
//! assert sum_odd([1, 2, 3, 4]) == 5  # (9) __exception__=AssertionError();
//! "
//! );
//!
//! // That is 292 characters. Held to 290, the loop header keeps fewer states.
//! let budget: toml::Table = toml::from_str("budget_chars = 290")?;
//! let short = registry::renderer("inline", &budget, &Context::new())?.render(&program, &tests, &[trace]);
//! assert!(short.chars().count() <= 290);
//! assert!(short.contains("    for n in nums:  # (2) n=1; ...; (7) n=4;\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocks;
mod budget;
mod inline;
mod registered;
mod scratchpad;
mod select;
mod source;
mod steps;
mod value;

pub use blocks::{BlocksOptions, BlocksRenderer};
pub use budget::{Budget, Budgeted, Shrink};
pub use inline::{InlineOptions, InlineRenderer};
pub use scratchpad::{ScratchpadOptions, ScratchpadRenderer};
pub use select::select_traces;
pub use value::cut_value;
