//! What the benchmarks share: where the workspace and the model are, numbers from the
//! environment, and candle's thread count.

use std::path::{Path, PathBuf};

use next_models::artifact::SMOLLM2;

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The number in the environment variable `name`, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The threads candle's kernels use: `CANDLE_NUM_THREADS`, `RAYON_NUM_THREADS`, or the
/// cores.
pub fn candle_threads() -> usize {
    ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"]
        .iter()
        .find_map(|var| {
            std::env::var(var)
                .ok()?
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
        })
        .unwrap_or_else(candle_core::utils::get_num_threads)
}

/// The model: `NEXT_CANDLE_MODEL`, or the default model in `.cache/` or the cache, as
/// the tests find it.
pub fn model_path() -> PathBuf {
    std::env::var_os("NEXT_CANDLE_MODEL").map_or_else(
        || {
            SMOLLM2
                .locate_in(&workspace().join(".cache"))
                .or_else(|_| SMOLLM2.locate())
                .expect("the model: run next-models/scripts/llama-server-setup.sh")
        },
        PathBuf::from,
    )
}
