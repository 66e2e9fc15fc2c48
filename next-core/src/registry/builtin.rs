//! The factories `next-core` registers itself: the `none` renderer and the `none` tracer,
//! for runs without execution traces.

use crate::render::{NoneRenderer, TraceRenderer};
use crate::trace::{NoneTracer, Tracer};

use super::{no_options, Context, RegistryError, RoleKind};

fn build_none_renderer(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    no_options(RoleKind::TraceRenderer, "none", options)?;
    Ok(Box::new(NoneRenderer))
}

fn build_none_tracer(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn Tracer>, RegistryError> {
    no_options(RoleKind::Tracer, "none", options)?;
    Ok(Box::new(NoneTracer))
}

crate::register_factory!(
    renderer,
    "none",
    "the buggy program alone, without execution (the paper's no-trace baseline)",
    build_none_renderer,
);

crate::register_factory!(
    tracer,
    "none",
    "records nothing: one empty trace per test, for runs without traces",
    build_none_tracer,
);
