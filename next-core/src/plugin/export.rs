//! [`export_plugin!`](crate::export_plugin): the exported functions of a plugin, written
//! for its author.
//!
//! The design decision: **a plugin names ordinary [`Factory`](crate::registry::Factory)
//! values**, the very ones a compiled-in backend registers, so one builder function
//! serves both ways of shipping a backend, and the macro's only job is the five
//! `extern "C"` shells over [`guest`](super::guest).

/// Writes the exported functions of a plugin (a crate of type `cdylib`) that offers the
/// listed factories, in order.
///
/// ```ignore
/// use next_core::registry::{Factory, OptionDoc};
///
/// next_core::export_plugin![
///     Factory::verifier("linting", "the tests, then a linter on the fix", build_linting)
///         .with_options(&[OptionDoc::new("max_line", "100", "longest line allowed")]),
/// ];
/// ```
///
/// The builders are ordinary builders of the registry (`fn(&toml::Table, &Context) ->
/// Result<Box<dyn Verifier>, RegistryError>`, ...); they are given an empty
/// [`Context`](crate::registry::Context) (a plugin that runs code brings its own
/// sandbox). Use it once per crate, at module level.
#[macro_export]
macro_rules! export_plugin {
    ($($factory:expr),+ $(,)?) => {
        /// The factories this plugin exports, in the order the host numbers them.
        static NEXT_PLUGIN_FACTORIES: &[$crate::registry::Factory] = &[$($factory),+];

        /// The plugin ABI version this library was built for.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub extern "C" fn next_plugin_abi_version() -> u32 {
            $crate::plugin::abi::ABI_VERSION
        }

        /// Writes the plugin's manifest (JSON) into `out`.
        ///
        /// # Safety
        /// `out` is null or valid for a write.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_manifest(out: *mut $crate::plugin::abi::Buffer) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_manifest(NEXT_PLUGIN_FACTORIES, out) }
        }

        /// Builds factory number `factory` from its JSON options.
        ///
        /// # Safety
        /// As the plugin ABI says: `options` valid for `options_len` bytes, `instance`
        /// and `out` valid for writes.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_build(
            factory: u32,
            options: *const u8,
            options_len: usize,
            instance: *mut *mut ::std::ffi::c_void,
            out: *mut $crate::plugin::abi::Buffer,
        ) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe {
                $crate::plugin::guest::export_build(
                    NEXT_PLUGIN_FACTORIES, factory, options, options_len, instance, out,
                )
            }
        }

        /// One call of a built role.
        ///
        /// # Safety
        /// As the plugin ABI says: a live `instance`, `request` valid for `request_len`
        /// bytes, `out` valid for a write.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_call(
            instance: *const ::std::ffi::c_void,
            request: *const u8,
            request_len: usize,
            out: *mut $crate::plugin::abi::Buffer,
        ) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_call(instance, request, request_len, out) }
        }

        /// Drops a built role.
        ///
        /// # Safety
        /// `instance` came from `next_plugin_build` and is dropped once.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_drop(instance: *mut ::std::ffi::c_void) {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_drop(instance) }
        }

        /// Frees a buffer this library returned.
        ///
        /// # Safety
        /// `buffer` came from this library and is freed once.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_free(buffer: $crate::plugin::abi::Buffer) {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_free(buffer) }
        }
    };
}
