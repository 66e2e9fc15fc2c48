//! [`forward_role!`]: the forwarding impls of a role trait for `&T`, `Box<T>` and
//! `Arc<T>`, written once.
//!
//! Every role trait is implemented by a reference or a smart pointer to an implementor
//! (or to a `dyn` role), each method, provided ones included, calling the pointee's. A
//! provided method must be forwarded too, or a boxed role would answer with the trait's
//! default instead of its inner role's (a boxed renderer would report the `inline`
//! legend whatever it renders).

/// Implements the role trait `$role` for `&T`, `Box<T>` and `Arc<T>` where
/// `T: $role + ?Sized`, forwarding every listed method to `T`.
///
/// The methods are listed with their signatures, all `async fn` (the trait is an
/// `async_trait`) or all `fn`; list every method of the trait, provided ones included.
///
/// ```text
/// forward_role! {
///     Tracer {
///         async fn trace(&self, program: &Program, tests: &[TestCase]) -> Result<Vec<Trace>, TraceError>;
///     }
/// }
/// ```
macro_rules! forward_role {
    (
        $role:ident {
            $(
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )+
        }
    ) => {
        $crate::forward::forward_role!(@async $role [&T] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
        $crate::forward::forward_role!(@async $role [::std::boxed::Box<T>] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
        $crate::forward::forward_role!(@async $role [::std::sync::Arc<T>] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
    };
    (
        $role:ident {
            $(
                fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )+
        }
    ) => {
        $crate::forward::forward_role!(@sync $role [&T] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
        $crate::forward::forward_role!(@sync $role [::std::boxed::Box<T>] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
        $crate::forward::forward_role!(@sync $role [::std::sync::Arc<T>] { $(fn $method($($arg: $ty),*) -> $ret;)+ });
    };
    (@async $role:ident [$($pointer:tt)+] { $(fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)+ }) => {
        #[::async_trait::async_trait]
        impl<T: $role + ?Sized> $role for $($pointer)+ {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    (**self).$method($($arg),*).await
                }
            )+
        }
    };
    (@sync $role:ident [$($pointer:tt)+] { $(fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)+ }) => {
        impl<T: $role + ?Sized> $role for $($pointer)+ {
            $(
                fn $method(&self $(, $arg: $ty)*) -> $ret {
                    (**self).$method($($arg),*)
                }
            )+
        }
    };
}

pub(crate) use forward_role;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use futures::executor::block_on;

    use crate::render::{NoneRenderer, TraceRenderer};
    use crate::sandbox::{Execution, Job, Sandbox, SandboxError};
    use crate::task::Program;

    /// A renderer that overrides every provided method.
    struct Shouting;

    impl TraceRenderer for Shouting {
        fn name(&self) -> &'static str {
            "shouting"
        }
        fn shows_execution(&self) -> bool {
            false
        }
        fn legend(&self) -> &'static str {
            "READ IT LOUD"
        }
        fn render(
            &self, program: &Program, _tests: &[crate::task::TestCase],
            _traces: &[crate::trace::Trace],
        ) -> String {
            program.source().to_uppercase()
        }
    }

    fn renders_as_shouting(renderer: &impl TraceRenderer) {
        assert_eq!(renderer.name(), "shouting");
        assert!(!renderer.shows_execution());
        assert_eq!(renderer.legend(), "READ IT LOUD");
        assert_eq!(
            renderer.render(&Program::new("x = 1\n"), &[], &[]),
            "X = 1\n"
        );
    }

    #[test]
    fn pointers_to_a_renderer_forward_provided_and_required_methods() {
        renders_as_shouting(&Shouting);
        renders_as_shouting(&&Shouting);
        renders_as_shouting(&Box::new(Shouting));
        renders_as_shouting(&Arc::new(Shouting));
        let boxed: Box<dyn TraceRenderer> = Box::new(Shouting);
        renders_as_shouting(&boxed);
        renders_as_shouting(&&*boxed);
        let shared: Arc<dyn TraceRenderer> = Arc::new(Shouting);
        renders_as_shouting(&shared);
        // Nested pointers forward all the way down.
        renders_as_shouting(&Box::new(Arc::new(&Shouting)));
        // A renderer keeping the defaults keeps them behind a pointer too.
        assert_eq!(Box::new(NoneRenderer).legend(), NoneRenderer.legend());
    }

    /// A sandbox that takes every preloaded module and runs nothing.
    struct Taking;

    #[async_trait]
    impl Sandbox for Taking {
        async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
            Err(SandboxError::Unavailable(job.source))
        }
        async fn preload(&self, name: &str, _source: &str) -> Result<bool, SandboxError> {
            Ok(name == "harness")
        }
    }

    async fn sandboxes_as_taking(sandbox: impl Sandbox) {
        assert!(sandbox.preload("harness", "").await.unwrap());
        assert!(!sandbox.preload("other", "").await.unwrap());
        let err = sandbox.run(Job::new("print(1)")).await.err().unwrap();
        assert!(matches!(err, SandboxError::Unavailable(source) if source == "print(1)"));
    }

    #[test]
    fn pointers_to_a_sandbox_forward_provided_and_required_methods() {
        block_on(async {
            sandboxes_as_taking(&Taking).await;
            sandboxes_as_taking(Box::new(Taking)).await;
            sandboxes_as_taking(Arc::new(Taking)).await;
            let boxed: Box<dyn Sandbox> = Box::new(Taking);
            sandboxes_as_taking(&*boxed).await;
            sandboxes_as_taking(boxed).await;
            let shared: Arc<dyn Sandbox> = Arc::new(Taking);
            sandboxes_as_taking(&shared).await;
            sandboxes_as_taking(shared).await;
        });
    }
}
