//! What judging one program may cost, whatever the program does: results it forges are
//! read in time linear in their size, and all its jobs together end within its budget
//! (`max_program_ms`). The times asserted here are generous upper bounds, not
//! benchmarks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod verify_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::sandbox::Sandbox;
use next_core::task::Program;
use next_core::verify::{TestOutcome, Verifier};
use next_verifiers::verify::{TestIsolation, TestVerifier, TestVerifierConfig};
use verify_support::{assert_failed, tests};

fn make(config: TestVerifierConfig) -> TestVerifier<Arc<dyn Sandbox>> {
    TestVerifier::with_config(verify_support::sandbox().0, config)
}

/// Writes, from inside the first test, a well-formed run of records to its own
/// descriptors (the channel among them) whose first value is an `int` of sixteen million
/// digits, then ends the process before the harness writes.
const HUGE_INT: &str = r#"
import os, sys
def _nonce():
    frame = sys._getframe()
    while frame is not None:
        n = frame.f_locals.get('nonce')
        if isinstance(n, str):
            return n
        frame = frame.f_back
    return 'x'
def add(a, b):
    nonce = _nonce()
    digits = '7' * 16_000_000
    lines = [nonce + ' {"k":"test","i":0,"r":[{"v":{"int":"%s"}}]}' % digits]
    lines += [nonce + ' {"k":"test","i":%d,"r":[{"v":%d}]}' % (i, v) for i, v in ((1, 42), (2, 5))]
    lines.append(nonce + ' {"k":"end"}')
    data = ('\n'.join(lines) + '\n').encode()
    for fd in os.listdir('/proc/self/fd'):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(int(fd), view):]
        except (OSError, ValueError):
            pass
    os._exit(0)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_int_of_sixteen_million_digits_is_refused_quickly() {
    let verifier = make(TestVerifierConfig {
        test_timeout_ms: 20_000,
        isolation: TestIsolation::None,
        ..TestVerifierConfig::default()
    });
    let start = Instant::now();
    let v = verifier
        .verify(
            &Program::new(HUGE_INT),
            &tests(&[
                "assert add(1, 2) == 3",
                "assert add(20, 22) == 42",
                "assert add(2, 3) == 5",
            ]),
        )
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(!v.passed(), "{v:?}");
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.contains("digits")),
        "{:?}",
        v.outcomes[0]
    );
    // It took 272 s when the digits were converted; now reading them is linear.
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// Every test ignores or blocks SIGALRM, the harness's per-test deadline, and then
/// waits forever: in sleep, or in a loop.
const DEFEATS_THE_ALARM: &str = "import signal, time\n\
def ignore():\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(1000)\n\
def block():\n    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n    while True:\n        pass\n";

const ALARM_TESTS: &[&str] = &[
    "assert ignore() == 1",
    "assert block() == 1",
    "assert ignore() == 1",
];

fn alarm_config(max_program_ms: u64) -> TestVerifierConfig {
    TestVerifierConfig {
        test_timeout_ms: 300,
        load_timeout_ms: 1_000,
        max_program_ms,
        isolation: TestIsolation::None,
        ..TestVerifierConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_defeats_the_alarm_costs_at_most_its_budget() {
    // The default budget: twice the first job's limit (1 s to load, 0.4 s a test: 2.2 s).
    let verifier = make(alarm_config(0));
    let start = Instant::now();
    let v = verifier
        .verify(&Program::new(DEFEATS_THE_ALARM), &tests(ALARM_TESTS))
        .await
        .unwrap();
    let took = start.elapsed();
    assert_failed(&v, "ignoring SIGALRM");
    assert!(
        v.outcomes.iter().all(|o| *o == TestOutcome::Timeout),
        "{v:?}"
    );
    assert!(took < Duration::from_millis(3 * 4_400), "{took:?}");

    // A budget shorter than one job: the first job is cut at it, and the later tests
    // time out without a job.
    let verifier = make(alarm_config(1_500));
    let start = Instant::now();
    let v = verifier
        .verify(&Program::new(DEFEATS_THE_ALARM), &tests(ALARM_TESTS))
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(
        v.outcomes.iter().all(|o| *o == TestOutcome::Timeout),
        "{v:?}"
    );
    assert_eq!(verifier.stats().candidate_jobs, 1);
    assert!(took < Duration::from_millis(3 * 1_500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_ignored_or_blocked_while_loading_is_restored_for_each_test() {
    let program = "import signal\n\
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n\
signal.signal(signal.SIGALRM, signal.SIG_IGN)\n\
def spin():\n    while True:\n        pass\n\
def one():\n    return 1\n";
    let verifier = make(alarm_config(0));
    let v = verifier
        .verify(
            &Program::new(program),
            &tests(&[
                "assert spin() == 1",
                "assert one() == 1",
                "assert spin() == 1",
            ]),
        )
        .await
        .unwrap();
    assert_eq!(v.outcomes[0], TestOutcome::Timeout, "{v:?}");
    assert!(v.outcomes[1].is_pass(), "{v:?}");
    assert_eq!(v.outcomes[2], TestOutcome::Timeout, "{v:?}");
    // Each deadline was the harness's own: one job, never cut by its limit.
    assert_eq!(verifier.stats().candidate_jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_nested_past_the_readers_depth_is_too_big_not_a_tampered_channel() {
    // Forty-five nested dicts are 135 brackets deep on the wire, past what the reader
    // parses: the harness reports the value as too big, and the other tests keep theirs.
    let program =
        "def deep():\n    d = 1\n    for _ in range(45):\n        d = {1: d}\n    return d\n\
def one():\n    return 1\n";
    let v = make(TestVerifierConfig {
        isolation: TestIsolation::None,
        ..TestVerifierConfig::default()
    })
    .verify(
        &Program::new(program),
        &tests(&["assert deep() == 1", "assert one() == 1"]),
    )
    .await
    .unwrap();
    assert!(
        matches!(&v.outcomes[0], TestOutcome::ResourceLimit { .. }),
        "{v:?}"
    );
    assert!(v.outcomes[1].is_pass(), "{v:?}");
}
