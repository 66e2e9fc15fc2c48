//! [`Context`]: what builders may need besides their own options.

use std::fmt;
use std::sync::Arc;

use crate::sandbox::Sandbox;

use super::{RegistryError, RoleKind};

/// What builders get besides their options: the parts already built that a role
/// depends on. Today that is the [`Sandbox`] that tracers and verifiers run code in.
///
/// Built with [`Context::new`] and `with_*` methods; cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use next_core::registry::{Context, RegistryError, RoleKind};
///
/// let cx = Context::new();
/// assert!(cx.sandbox().is_none());
/// let err = cx.require_sandbox(RoleKind::Verifier, "tests").err().unwrap();
/// assert!(matches!(err, RegistryError::MissingSandbox { .. }));
/// ```
#[derive(Clone, Default)]
pub struct Context {
    sandbox: Option<Arc<dyn Sandbox>>,
}

impl Context {
    /// An empty context: enough for sandboxes, renderers, samplers and trainers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sandbox that tracers and verifiers will run code in. A sandbox built by
    /// the registry converts with `Arc::from(boxed)`.
    #[must_use]
    pub fn with_sandbox(mut self, sandbox: Arc<dyn Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// The sandbox, if one was given.
    pub fn sandbox(&self) -> Option<&Arc<dyn Sandbox>> {
        self.sandbox.as_ref()
    }

    /// The sandbox, for the builder of the `role` factory `name`, which cannot work
    /// without one.
    ///
    /// # Errors
    /// [`RegistryError::MissingSandbox`], naming `role` and `name`, when the context has
    /// no sandbox.
    pub fn require_sandbox(
        &self, role: RoleKind, name: &str,
    ) -> Result<Arc<dyn Sandbox>, RegistryError> {
        self.sandbox
            .clone()
            .ok_or_else(|| RegistryError::MissingSandbox {
                role,
                name: name.to_owned(),
            })
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("sandbox", &self.sandbox.as_ref().map(|_| "dyn Sandbox"))
            .finish()
    }
}
