//! NExT models: rationale samplers and trainers.
//!
//! This crate is where the [`RationaleSampler`](next_core::sample::RationaleSampler) and
//! [`Trainer`](next_core::train::Trainer) backends are built (issue 5): an
//! OpenAI-compatible chat client, a Gemini client and a local candle model, each behind
//! its own cargo feature and each formatting prompts and parsing answers through
//! `next_core::prompt`. It exports nothing yet; a mock model whose skill grows with its
//! training data is in `next_core::testing`.
#![deny(missing_docs)]
