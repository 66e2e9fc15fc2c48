//! The option docs that several sandboxes declare alike: the same key, meaning and
//! default (`next plugins list` shows them; each factory's `tests/option_docs.rs` check
//! compares them with its configuration's defaults).

use next_core::registry::OptionDoc;

/// Where the work directories go.
pub(crate) const TEMP_DIR: OptionDoc = OptionDoc::unset(
    "temp_dir",
    "where work directories go (unset: the system's)",
);

/// How much the work directory may hold.
pub(crate) const WORKDIR_BYTES: OptionDoc = OptionDoc::new(
    "workdir_bytes",
    "67108864",
    "bytes the job's work directory may hold",
);

/// What happens past the output limit.
pub(crate) const ON_OUTPUT_LIMIT: OptionDoc = OptionDoc::new(
    "on_output_limit",
    "\"drain\"",
    "drain or kill past the output limit",
);
