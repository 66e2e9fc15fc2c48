//! The retry policy every hosted backend shares: how many attempts, how long to wait
//! between them, and how a server's `Retry-After` is honoured.
//!
//! A request that fails in a way that may pass later (HTTP 408, 429 or 5xx, a refused or
//! dropped connection, a timeout) is tried again after a delay; any other failure ends it
//! at once. The delay is a pure function of the policy, the number of attempts made so
//! far, the server's `Retry-After` (if any) and a random draw, so that it can be tested
//! without a clock: [`RetryPolicy::next_delay`].
//!
//! The backoff after the `k`-th failed attempt is `base_delay_secs · 2^(k-1)`, capped at
//! `max_delay_secs`; a fraction `jitter` of it is random (the wait is drawn uniformly
//! from `[(1 - jitter) · d, d]`) so that many clients refused at once do not come back at
//! once. When the server says how long to wait, the client waits at least that long (the
//! larger of the two delays); when the server asks for more than
//! `max_retry_after_secs`, the request gives up at once instead of sleeping for it.
//!
//! ```
//! use std::time::Duration;
//! use next_models::retry::{Backoff, RetryPolicy};
//!
//! let policy: RetryPolicy = toml::from_str(
//!     "max_attempts = 3\nbase_delay_secs = 1.0\nmax_delay_secs = 10.0\njitter = 0.0",
//! )?;
//! policy.validate()?;
//! // After the first failure: the base delay; after the second: twice that.
//! assert_eq!(policy.next_delay(1, None, 0.5), Backoff::Wait(Duration::from_secs(1)));
//! assert_eq!(policy.next_delay(2, None, 0.5), Backoff::Wait(Duration::from_secs(2)));
//! // A server's Retry-After longer than the backoff wins.
//! assert_eq!(
//!     policy.next_delay(1, Some(Duration::from_secs(5)), 0.5),
//!     Backoff::Wait(Duration::from_secs(5))
//! );
//! // Three attempts made: no fourth.
//! assert_eq!(policy.next_delay(3, None, 0.5), Backoff::Exhausted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// How a request is retried. Options of the `retry` table of a backend's configuration.
///
/// Invariant (checked by [`RetryPolicy::validate`], which the backends call when they
/// are built): `max_attempts >= 1`; the delays are finite and not negative;
/// `0 <= jitter <= 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Most attempts per request, the first included; 1 never retries. Default 5.
    pub max_attempts: u32,
    /// Backoff after the first failed attempt, in seconds; it doubles after each further
    /// failure. Default 0.5.
    pub base_delay_secs: f64,
    /// Cap on the backoff, in seconds. Default 30.
    pub max_delay_secs: f64,
    /// The random fraction of each backoff, in `[0, 1]`: the wait is drawn uniformly from
    /// `[(1 - jitter) · d, d]`. 0 waits exactly `d`, 1 is "full jitter". Default 0.5.
    pub jitter: f64,
    /// The longest `Retry-After` the client honours, in seconds; a server that asks for
    /// more makes the request give up at once. Default 120.
    pub max_retry_after_secs: f64,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff 0.5 s doubling up to 30 s with half of it random, and a
    /// `Retry-After` of up to 2 minutes honoured.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay_secs: 0.5,
            max_delay_secs: 30.0,
            jitter: 0.5,
            max_retry_after_secs: 120.0,
        }
    }
}

/// What to do after a failed attempt: [`RetryPolicy::next_delay`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Every attempt the policy allows has been made.
    Exhausted,
    /// The server asked to wait this long, more than the policy's
    /// `max_retry_after_secs`: give up now.
    TooLong(Duration),
}

impl RetryPolicy {
    /// A policy that never retries: one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Checks the invariant.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming the option out of range.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.max_attempts == 0 {
            return Err(ModelError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        for (name, value) in [
            ("retry.base_delay_secs", self.base_delay_secs),
            ("retry.max_delay_secs", self.max_delay_secs),
            ("retry.max_retry_after_secs", self.max_retry_after_secs),
        ] {
            if !(value.is_finite() && value >= 0.0 && seconds(value).is_some()) {
                return Err(ModelError::Config(format!(
                    "{name} must be a finite number of seconds >= 0, not {value}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ModelError::Config(format!(
                "retry.jitter must be in [0, 1], not {}",
                self.jitter
            )));
        }
        Ok(())
    }

    /// The delay before the next attempt, after `failed_attempts` attempts (counting the
    /// first) have failed.
    ///
    /// `retry_after` is the wait the server asked for, if it did (see
    /// [`parse_retry_after`]); `unit` is a random draw in `[0, 1)` that picks the jitter
    /// (values outside are clamped), so that the function is pure.
    ///
    /// The answer is [`Backoff::Exhausted`] once `failed_attempts >= max_attempts`,
    /// [`Backoff::TooLong`] when `retry_after` exceeds `max_retry_after_secs`, and
    /// otherwise [`Backoff::Wait`] of the larger of `retry_after` and the jittered
    /// exponential backoff (see the [module documentation](self)).
    pub fn next_delay(
        &self, failed_attempts: u32, retry_after: Option<Duration>, unit: f64,
    ) -> Backoff {
        if failed_attempts >= self.max_attempts {
            return Backoff::Exhausted;
        }
        if let Some(asked) = retry_after {
            if asked > seconds(self.max_retry_after_secs).unwrap_or(Duration::MAX) {
                return Backoff::TooLong(asked);
            }
        }
        let exponent = i32::try_from(failed_attempts.saturating_sub(1)).unwrap_or(i32::MAX);
        let backoff = (self.base_delay_secs * 2f64.powi(exponent)).min(self.max_delay_secs);
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let jittered = backoff * (1.0 - self.jitter.clamp(0.0, 1.0) * unit);
        let backoff = seconds(jittered).unwrap_or(Duration::ZERO);
        Backoff::Wait(retry_after.map_or(backoff, |asked| asked.max(backoff)))
    }
}

/// `secs` as a [`Duration`], when it is a finite, non-negative and representable number
/// of seconds.
pub(crate) fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

/// Reads an HTTP `Retry-After` value: a number of seconds (`120`; a decimal such as
/// `1.5` is accepted too) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`), which is
/// turned into the wait from `now` (zero for a date already past).
///
/// `None` for anything else (a negative or non-finite number, a malformed date).
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use next_models::retry::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
/// assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
///     Some(Duration::from_secs(10))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay_secs: 1.0,
            max_delay_secs: 3.0,
            jitter: 0.5,
            max_retry_after_secs: 60.0,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        // unit = 0: no jitter taken off.
        assert_eq!(p.next_delay(1, None, 0.0), Backoff::Wait(secs(1.0)));
        assert_eq!(p.next_delay(2, None, 0.0), Backoff::Wait(secs(2.0)));
        assert_eq!(p.next_delay(3, None, 0.0), Backoff::Wait(secs(3.0)));
    }

    #[test]
    fn attempts_are_bounded() {
        let p = policy();
        assert_eq!(p.next_delay(4, None, 0.0), Backoff::Exhausted);
        assert_eq!(p.next_delay(u32::MAX, None, 0.0), Backoff::Exhausted);
        assert_eq!(
            RetryPolicy::never().next_delay(1, None, 0.0),
            Backoff::Exhausted
        );
    }

    #[test]
    fn jitter_takes_at_most_its_fraction() {
        let p = policy();
        // unit close to 1 takes off (almost) half; the wait stays in [d/2, d].
        for unit in [0.0, 0.25, 0.5, 0.999_999, 1.0, 7.0, -3.0, f64::NAN] {
            let Backoff::Wait(wait) = p.next_delay(2, None, unit) else {
                panic!("no wait for {unit}");
            };
            assert!(wait >= secs(1.0) && wait <= secs(2.0), "{unit}: {wait:?}");
        }
        assert_eq!(p.next_delay(2, None, 0.5), Backoff::Wait(secs(1.5)));
        let none = RetryPolicy {
            jitter: 0.0,
            ..policy()
        };
        assert_eq!(none.next_delay(2, None, 0.9), Backoff::Wait(secs(2.0)));
        let full = RetryPolicy {
            jitter: 1.0,
            ..policy()
        };
        assert_eq!(full.next_delay(2, None, 1.0), Backoff::Wait(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = policy();
        assert_eq!(
            p.next_delay(1, Some(secs(10.0)), 0.0),
            Backoff::Wait(secs(10.0))
        );
        // A shorter Retry-After than the backoff does not shorten it.
        assert_eq!(
            p.next_delay(3, Some(secs(0.5)), 0.0),
            Backoff::Wait(secs(3.0))
        );
        // Exhaustion wins over the server's wish.
        assert_eq!(p.next_delay(4, Some(secs(1.0)), 0.0), Backoff::Exhausted);
    }

    #[test]
    fn too_long_retry_after_gives_up() {
        let p = policy();
        assert_eq!(
            p.next_delay(1, Some(secs(61.0)), 0.0),
            Backoff::TooLong(secs(61.0))
        );
        assert_eq!(
            p.next_delay(1, Some(secs(60.0)), 0.0),
            Backoff::Wait(secs(60.0))
        );
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy()
        };
        assert_eq!(p.next_delay(5_000, None, 0.0), Backoff::Wait(secs(3.0)));
    }

    #[test]
    fn validation_names_the_option() {
        assert!(RetryPolicy::default().validate().is_ok());
        let cases = [
            (
                RetryPolicy {
                    max_attempts: 0,
                    ..policy()
                },
                "max_attempts",
            ),
            (
                RetryPolicy {
                    base_delay_secs: -1.0,
                    ..policy()
                },
                "base_delay_secs",
            ),
            (
                RetryPolicy {
                    max_delay_secs: f64::INFINITY,
                    ..policy()
                },
                "max_delay_secs",
            ),
            (
                RetryPolicy {
                    jitter: 1.5,
                    ..policy()
                },
                "jitter",
            ),
            (
                RetryPolicy {
                    max_retry_after_secs: f64::NAN,
                    ..policy()
                },
                "max_retry_after_secs",
            ),
        ];
        for (bad, name) in cases {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn options_deny_unknown_keys_and_default_the_rest() {
        let p: RetryPolicy = toml::from_str("max_attempts = 2").unwrap();
        assert_eq!(
            p,
            RetryPolicy {
                max_attempts: 2,
                ..RetryPolicy::default()
            }
        );
        let err = toml::from_str::<RetryPolicy>("max_atempts = 2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_atempts"), "{err}");
    }

    #[test]
    fn retry_after_seconds() {
        let now = UNIX_EPOCH;
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 17 ", now), Some(secs(17.0)));
        assert_eq!(parse_retry_after("1.5", now), Some(secs(1.5)));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("inf", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
    }

    #[test]
    fn retry_after_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(secs(10.0))
        );
        // Obsolete forms that HTTP still requires recipients to accept.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(secs(10.0))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:47 1994", now),
            Some(secs(10.0))
        );
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun, 32 Nov 1994 08:49:47 GMT", now),
            None
        );
        assert_eq!(parse_retry_after("tomorrow", now), None);
    }
}
