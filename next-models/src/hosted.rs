//! [`hosted_config!`]: the configuration struct of a hosted backend.
//!
//! Every hosted client has the same HTTP options, with the same defaults: the API's
//! `base_url`, the `model`, the variable `api_key_env` that holds the key, a
//! `timeout_secs` per request, a `retry` policy and extra `headers`; a sampler also has a
//! concurrency bound (`max_concurrency`) and a cap on the samples of one request. The
//! macro declares them, their `Debug` (which hides the values of `headers`) and their
//! option docs once, around each backend's own options.
//!
//! A struct of its own, `#[serde(flatten)]`ed into each configuration, would not do:
//! serde's `flatten` does not work with `deny_unknown_fields`, which every configuration
//! keeps (a misspelled option is an error that names it and the options there are).

/// Declares the configuration struct of a hosted backend, with the options every hosted
/// client has around the backend's own:
///
/// ```text
/// hosted_config! {
///     /// The struct's documentation.
///     pub struct SamplerConfig: sampler(max_samples_per_request = 128, "n") {
///         /// base_url's documentation (its default is the literal).
///         base_url = "https://api.example.com/v1",
///         /// model's documentation.
///         model,
///         /// api_key_env's documentation (its default is the literal).
///         api_key_env = "EXAMPLE_API_KEY",
///         /// The backend's own options, as fields.
///         #[serde(default)]
///         pub own: Vec<String>,
///     }
///     options = [OptionDoc::new("own", "[]", "what it sets")],
/// }
/// ```
///
/// A sampler (`: sampler(cap = default, "wire name")`) has the fields `base_url`, `model`,
/// `api_key_env`, `timeout_secs`, `max_concurrency`, the cap on the samples of one request
/// (the field named, sent as the wire name), its own options, `retry` and `headers`; a
/// trainer (no `: sampler(...)`) has `base_url`, `model`, `api_key_env`, its own options,
/// `timeout_secs`, `retry` and `headers`. `options` are the option docs of the own
/// options, in field order.
///
/// The struct gets `new(model)` (every other option at its default), a `Debug` that shows
/// every option but the values of `headers`, and `OPTIONS`, the option docs of its
/// factory in field order; a sampler's also `settings(provider)` (what
/// [`Api::new`](crate::http::Api::new) takes, without a key) and `checked_base_url()`.
macro_rules! hosted_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(: sampler($cap:ident = $cap_default:literal, $wire:literal))? {
            $(#[$base_meta:meta])* base_url = $base_url:literal,
            $(#[$model_meta:meta])* model,
            $(#[$key_meta:meta])* api_key_env = $key_env:literal,
            $($(#[$own_meta:meta])* pub $own:ident: $own_ty:ty,)*
        }
        options = [$($own_doc:expr),* $(,)?] $(,)?
    ) => {
        hosted_config!(@place [$($cap $cap_default $wire)?]
            [$(#[$meta])*] $name
            [$(#[$base_meta])*] $base_url [$(#[$model_meta])*] [$(#[$key_meta])*] $key_env
            [$($(#[$own_meta])* pub $own: $own_ty,)*] [$($own)*] [$($own_doc),*]
        );
    };
    // A trainer's own options come before the timeout.
    (@place [] $head:tt $name:ident $base_meta:tt $base_url:literal $model_meta:tt $key_meta:tt
        $key_env:literal $own:tt $own_name:tt $own_doc:tt
    ) => {
        hosted_config!(@emit $head $name $base_meta $base_url $model_meta $key_meta $key_env
            before $own $own_name $own_doc
            sampler []
            after [] [] []
        );
    };
    // A sampler's come after its concurrency bound and its cap on the samples of one
    // request, and it can make its client's settings.
    (@place [$cap:ident $cap_default:literal $wire:literal]
        $head:tt $name:ident $base_meta:tt $base_url:literal $model_meta:tt $key_meta:tt
        $key_env:literal $own:tt $own_name:tt $own_doc:tt
    ) => {
        hosted_config!(@emit $head $name $base_meta $base_url $model_meta $key_meta $key_env
            before [] [] []
            sampler [$cap $cap_default $wire]
            after $own $own_name $own_doc
        );

        impl $name {
            /// What [`Api::new`](crate::http::Api::new) takes, without a key: the
            /// timeout, the concurrency bound, the retry policy and the headers.
            pub(crate) fn settings(&self, provider: &'static str) -> crate::http::Settings<'_> {
                crate::http::Settings::new(provider, self.timeout_secs, self.max_concurrency, &self.retry, &self.headers)
            }

            /// `base_url` without its trailing slashes, once the cap on the samples of
            /// one request and the URL are checked.
            ///
            /// # Errors
            /// [`ModelError::Config`](crate::error::ModelError::Config) for a cap of 0 or
            /// a base URL that is not `http` or `https`.
            pub(crate) fn checked_base_url(&self) -> Result<&str, crate::error::ModelError> {
                if self.$cap == 0 {
                    return Err(crate::error::ModelError::Config(
                        concat!(stringify!($cap), " must be at least 1").into(),
                    ));
                }
                crate::http::check_base_url(&self.base_url)
            }
        }
    };
    (@emit
        [$($meta:tt)*] $name:ident
        [$($base_meta:tt)*] $base_url:literal [$($model_meta:tt)*] [$($key_meta:tt)*] $key_env:literal
        before [$($before:tt)*] [$($before_name:ident)*] [$($before_doc:expr),*]
        sampler [$($cap:ident $cap_default:literal $wire:literal)?]
        after [$($after:tt)*] [$($after_name:ident)*] [$($after_doc:expr),*]
    ) => {
        $($meta)*
        #[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($base_meta)*
            #[serde(default = "default_base_url")]
            pub base_url: String,
            $($model_meta)*
            pub model: String,
            $($key_meta)*
            #[serde(default = "default_api_key_env")]
            pub api_key_env: String,
            $($before)*
            /// The timeout of one request, from connecting to the last byte of the answer
            /// (an upload included), in seconds. A request past it is retried by the
            /// retry policy. Default 120.
            #[serde(default = "crate::http::default_timeout_secs")]
            pub timeout_secs: f64,
            $(
                /// Most requests in flight at once, over every call of the sampler (the
                /// loop samples many tasks at once). Default 8.
                #[serde(default = "crate::http::default_count::<8>")]
                pub max_concurrency: usize,
                #[doc = concat!(
                    "Most samples asked for in one request (`", $wire, "`); more samples ",
                    "take several requests. Default ", stringify!($cap_default),
                    ", the API's limit."
                )]
                #[serde(default = "default_samples_per_request")]
                pub $cap: usize,
            )?
            $($after)*
            /// How failed requests are retried (every request the client sends).
            #[serde(default)]
            pub retry: crate::retry::RetryPolicy,
            /// Extra headers sent with every request. Their values are never shown.
            #[serde(default)]
            pub headers: std::collections::BTreeMap<String, String>,
        }

        impl std::fmt::Debug for $name {
            /// Shows every option but the values of `headers`, which may be secrets.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("base_url", &self.base_url)
                    .field("model", &self.model)
                    .field("api_key_env", &self.api_key_env)
                    $(.field(stringify!($before_name), &self.$before_name))*
                    .field("timeout_secs", &self.timeout_secs)
                    $(
                        .field("max_concurrency", &self.max_concurrency)
                        .field(stringify!($cap), &self.$cap)
                    )?
                    $(.field(stringify!($after_name), &self.$after_name))*
                    .field("retry", &self.retry)
                    .field("headers", &crate::http::Redacted(&self.headers))
                    .finish()
            }
        }

        impl $name {
            /// The default configuration for `model`.
            pub fn new(model: impl Into<String>) -> Self {
                crate::http::config_for(model.into())
            }

            /// The option docs of its factory, in field order.
            pub(crate) const OPTIONS: &'static [next_core::registry::OptionDoc] = {
                use next_core::registry::OptionDoc;
                &[
                    OptionDoc::new("base_url", concat!("\"", $base_url, "\""), "the API's base URL"),
                    OptionDoc::new("model", "", "the base model"),
                    OptionDoc::new("api_key_env", concat!("\"", $key_env, "\""), "the variable holding the API key"),
                    $($before_doc,)*
                    OptionDoc::new("timeout_secs", "120.0", "the most seconds of one request"),
                    $(
                        OptionDoc::new("max_concurrency", "8", "requests at once"),
                        OptionDoc::new(stringify!($cap), stringify!($cap_default), "samples asked for in one request"),
                    )?
                    $($after_doc,)*
                    OptionDoc::new("retry", "{}", "the retry policy (a table)"),
                    OptionDoc::new("headers", "{}", "extra HTTP headers (a table)"),
                ]
            };
        }

        /// The default `base_url`.
        fn default_base_url() -> String {
            $base_url.into()
        }

        /// The default `api_key_env`.
        fn default_api_key_env() -> String {
            $key_env.into()
        }

        $(
            /// The default cap on the samples of one request.
            const fn default_samples_per_request() -> usize {
                $cap_default
            }
        )?
    };
}
