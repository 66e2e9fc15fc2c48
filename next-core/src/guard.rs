//! Calling roles safely and deterministically: panics become recorded failures, and
//! every sampler call gets a seed of its own.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;

use crate::error::chain;

/// Awaits a role's call; an error or a panic becomes its one-line message.
pub(crate) async fn guarded<T, E>(call: impl Future<Output = Result<T, E>>) -> Result<T, String>
where
    E: std::error::Error + 'static,
{
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(chain(&error)),
        Err(payload) => Err(panic_message(payload.as_ref())),
    }
}

/// Runs a synchronous role call; a panic becomes its message.
pub(crate) fn guarded_sync<T>(call: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(call)).map_err(|p| panic_message(p.as_ref()))
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_owned());
    format!("panicked: {text}")
}

/// A seed for one sampler call, from the run's seed, the phase and the task: stable
/// across runs, platforms and Rust versions (FNV-1a, then the splitmix64 finaliser).
pub(crate) fn derive_seed(seed: u64, phase: &str, task: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator that no text holds, so ("ab", "c") and ("a", "bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(&seed.to_le_bytes());
    eat(phase.as_bytes());
    eat(task.as_bytes());
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_separate_their_parts() {
        assert_eq!(derive_seed(7, "iter-1", "t"), derive_seed(7, "iter-1", "t"));
        assert_ne!(derive_seed(7, "iter-1", "t"), derive_seed(8, "iter-1", "t"));
        assert_ne!(derive_seed(7, "ab", "c"), derive_seed(7, "a", "bc"));
    }

    #[test]
    fn panics_and_errors_become_messages() {
        fn explode(input: &str) -> u32 {
            assert!(input.is_empty(), "bad input");
            0
        }
        let err = futures::executor::block_on(guarded(async {
            Err::<(), _>(std::io::Error::other("boom"))
        }));
        assert_eq!(err.unwrap_err(), "boom");
        let panicked =
            futures::executor::block_on(guarded(async { Ok::<u32, std::io::Error>(explode("x")) }));
        assert_eq!(panicked.unwrap_err(), "panicked: bad input");
        assert_eq!(
            guarded_sync(|| panic!("{}", 3)).unwrap_err(),
            "panicked: 3".to_owned()
        );
    }
}
