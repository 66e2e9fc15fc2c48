//! NExT verifiers: the sandboxes that run untrusted code and the verifier that judges a
//! fix by its tests.
//!
//! Every line of model output and every dataset program is untrusted; this crate is
//! where the [`Sandbox`](next_core::sandbox::Sandbox) backends (a process with rlimits
//! and namespaces, WASM through wasmtime, Docker) and the
//! [`Verifier`](next_core::verify::Verifier) over them are built (issue 4). It exports
//! nothing yet: the roles' contracts are in `next-core`, and mock sandboxes and
//! verifiers for tests are in `next_core::testing`.
#![deny(missing_docs)]
