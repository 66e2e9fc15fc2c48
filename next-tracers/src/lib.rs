//! NExT tracers: record what a Python program does on its tests, and write it into the
//! code as the model reads it.
//!
//! This crate is where the [`Tracer`](next_core::trace::Tracer) and
//! [`TraceRenderer`](next_core::render::TraceRenderer) implementations of the project
//! live: the Python execution tracer, which runs inside any
//! [`Sandbox`](next_core::sandbox::Sandbox), and the renderers of
//! `../shared/spec/trace-format.md` (`inline`, `scratchpad`, `blocks`). They are being
//! built (issue 3); until then the crate offers the trivial pair that `next-core`
//! defines, re-exported here so that code written against this crate keeps compiling:
//! [`NoneRenderer`] (the program alone) and [`NoTracer`] (no trace).
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

pub use next_core::render::NoneRenderer;
pub use next_core::trace::NoTracer;
