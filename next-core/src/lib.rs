//! NExT core: the words, the roles and the loop of Naturalized Execution Tuning.
//!
//! NExT (Ni et al., ICML 2024) teaches a language model to reason about code execution:
//! a buggy Python program is run on its tests, its runtime states are written into the
//! code as inline comments, and the model, shown that trace, writes a rationale and a
//! fix. A self-training loop samples many rationales and fixes, keeps those whose fix
//! passes the tests, fine-tunes the model on them and repeats.
//!
//! This crate owns the types every part shares ([`task`], [`trace`], [`sample`],
//! [`verify`], [`train`]), the six roles as object-safe traits, all async but the
//! renderer's ([`sandbox::Sandbox`], [`trace::Tracer`], [`render::TraceRenderer`],
//! [`sample::RationaleSampler`], [`verify::Verifier`], [`train::Trainer`]; the loop
//! drives the last five, and the tracer and the verifier run code in the sandbox), the
//! one place where prompts are built and answers parsed ([`prompt`]), the metrics
//! ([`metrics`]), self-contained HTML reports of runs and evaluations ([`html`]), the
//! [`registry`] that builds roles by name, the [`plugin`] ABI that adds roles from shared
//! libraries at run time, and the loop ([`self_training`]).
//!
//! A program embedding the library needs one import, the [`prelude`]:
//! `use next_core::prelude::*;` brings the roles, the types they exchange, the loop,
//! its observer, the registry and the trivial roles.
//!
//! The design decision that shapes it: **backends never talk to each other, only to
//! these traits**. Each arrow of a repair task (trace, render, prompt, sample, verify,
//! train) is one trait call, so a hosted model can be swapped for a local one, or a
//! process sandbox for Docker, without touching anything else, and mocks of each role
//! (feature `testing`) can drive the loop in property tests.
//!
//! ```
//! use next_core::prompt::{format_answer, parse_answer};
//! use next_core::sample::Answer;
//! use next_core::task::Program;
//!
//! let fix = Program::new("def add(a, b):\n    return a + b\n");
//! let answer = format_answer("The program subtracts instead of adding.", &fix);
//! match parse_answer(&answer) {
//!     Answer::Fix { rationale, program } => {
//!         assert_eq!(rationale, "The program subtracts instead of adding.");
//!         assert_eq!(program, fix);
//!     }
//!     Answer::Unparseable { reason } => panic!("{reason:?}"),
//! }
//! ```
#![deny(missing_docs)]

pub mod artifact;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod factory;
mod forward;
mod guard;
pub mod html;
pub mod jsonl;
pub mod metrics;
pub mod observe;
pub mod plugin;
pub mod prelude;
pub mod prompt;
pub mod python;
pub mod registry;
pub mod render;
pub mod repair;
pub mod run;
pub mod sample;
pub mod sandbox;
pub mod self_training;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod train;
pub mod verify;

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
