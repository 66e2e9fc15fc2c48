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
