//! NExT tracers: record what a Python program does on its tests, and write it into the
//! code as the model reads it.
//!
//! The [`render`] module holds the [`TraceRenderer`](next_core::render::TraceRenderer)s
//! of `../shared/spec/trace-format.md`: [`InlineRenderer`] (`inline`, the NExT format,
//! byte-exact), [`ScratchpadRenderer`] (`scratchpad`) and [`BlocksRenderer`] (`blocks`),
//! with a character or token budget ([`render::Budgeted`]); the `none` renderer
//! ([`NoneRenderer`]) is `next-core`'s. Each is registered under its name, so a
//! configuration file picks it with `[renderer] kind = "inline"`.
//!
//! The [`python`] module holds [`PythonTracer`], the [`Tracer`](next_core::trace::Tracer)
//! that runs a program on its tests inside any [`Sandbox`](next_core::sandbox::Sandbox)
//! (CPython 3.8 to 3.13, `sys.monitoring` or `sys.settrace`) and records the events those
//! renderers read; it is registered as the tracer factory `python`.
//!
//! The design decision: renderers are pure functions of the program, the tests and
//! the recorded [`Trace`](next_core::trace::Trace)s, which hold values already rendered
//! by the tracer. Rendering never runs code, so the same traces give the same text, byte
//! for byte, on any machine.
//!
//! ```
//! use next_core::render::TraceRenderer;
//! use next_core::task::Program;
//! use next_tracers::NoneRenderer;
//!
//! let text = NoneRenderer.render(&Program::new("x = 1\n\n"), &[], &[]);
//! assert_eq!(text, "x = 1\n");
//! ```
#![deny(missing_docs)]

pub mod python;
pub mod render;

pub use next_core::render::NoneRenderer;
/// The old name of [`NoneTracer`] (deprecated).
#[allow(deprecated)]
pub use next_core::trace::NoTracer;
pub use next_core::trace::NoneTracer;
pub use python::{PythonTracer, TracerOptions};
pub use render::{BlocksRenderer, InlineRenderer, ScratchpadRenderer};
