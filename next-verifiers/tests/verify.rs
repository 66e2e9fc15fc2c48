//! The test verifier against real Python: correct programs pass, wrong ones fail, and
//! programs that misbehave or try to forge their verdict get the outcome they earned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod verify_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use next_core::sandbox::Sandbox;
use next_core::task::Program;
use next_core::verify::{TestOutcome, Verdict, Verifier};
use next_verifiers::verify::{Provenance, TestIsolation, TestVerifier, TestVerifierConfig};
use verify_support::forging::{self, CORRECT, TESTS};
use verify_support::{assert_failed, recursion, tests};

fn verifier() -> TestVerifier<Arc<dyn Sandbox>> {
    verifier_with(TestIsolation::Test)
}

fn verifier_with(isolation: TestIsolation) -> TestVerifier<Arc<dyn Sandbox>> {
    let (sandbox, _) = verify_support::sandbox();
    TestVerifier::with_config(
        sandbox,
        TestVerifierConfig {
            test_timeout_ms: 2_000,
            max_job_ms: 30_000,
            memory_mb: 512,
            isolation,
            ..TestVerifierConfig::default()
        },
    )
}

fn isolating() -> bool {
    verify_support::sandbox().1
}

async fn verdict(program: &str, lines: &[&str]) -> Verdict {
    verifier()
        .verify(&Program::new(program), &tests(lines))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_program_passes_and_a_wrong_one_fails_with_values() {
    let v = verdict(CORRECT, TESTS).await;
    assert!(v.passed(), "{v:?}");
    let wrong = "def add(a, b):\n    return a - b\n\ndef half(x):\n    return x / 3\n";
    let v = verdict(wrong, TESTS).await;
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got -1".into()
        }
    );
    assert!(
        v.outcomes[2].message().contains("0.3333333333333333"),
        "{:?}",
        v.outcomes[2]
    );
    let raising = "def add(a, b):\n    return a + 'x'\n\ndef half(x):\n    return x / 2\n";
    let v = verdict(raising, TESTS).await;
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.starts_with("TypeError")),
        "{v:?}"
    );
    assert!(v.outcomes[2].is_pass());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_per_program_and_one_plan_per_test_list() {
    let verifier = verifier();
    let t = tests(TESTS);
    for _ in 0..3 {
        verifier.verify(&Program::new(CORRECT), &t).await.unwrap();
    }
    let stats = verifier.stats();
    assert_eq!(stats.candidate_jobs, 3);
    assert_eq!(stats.planner_jobs, 1);
    assert_eq!(stats.delegated, 0);
    assert_eq!(
        verifier.provenance(&t).await.unwrap(),
        vec![Provenance::Judged; 3]
    );
}

/// A sandbox that declines to preload (the trait's default), or that claims to preload
/// and does not, over the same process sandbox.
struct Preloading {
    inner: Arc<dyn Sandbox>,
    claims: bool,
}

#[async_trait::async_trait]
impl Sandbox for Preloading {
    async fn run(
        &self, job: next_core::sandbox::Job,
    ) -> Result<next_core::sandbox::Execution, next_core::sandbox::SandboxError> {
        self.inner.run(job).await
    }

    async fn preload(
        &self, _name: &str, _source: &str,
    ) -> Result<bool, next_core::sandbox::SandboxError> {
        Ok(self.claims)
    }
}

/// Verdicts are the same whether the sandbox preloads the harness (the warm process
/// sandbox does), declines it (jobs carry it), or claims it and did not (a job says so
/// and is sent again with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_do_not_depend_on_a_preloaded_harness() {
    let wrong = "def add(a, b):\n    return a - b\n\ndef half(x):\n    return x / 3\n";
    let expected = [verdict(CORRECT, TESTS).await, verdict(wrong, TESTS).await];
    for claims in [false, true] {
        let (inner, _) = verify_support::sandbox();
        let verifier = TestVerifier::new(Preloading { inner, claims });
        for _ in 0..2 {
            for (program, want) in [CORRECT, wrong].iter().zip(&expected) {
                let got = verifier
                    .verify(&Program::new(*program), &tests(TESTS))
                    .await;
                assert_eq!(&got.unwrap(), want, "claims to preload: {claims}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrolled_loop_names_the_failing_check() {
    let v = verdict(
        "def f(x):\n    return x if x != 3 else -1\n",
        &["for x in range(5):\n    assert f(x) == x"],
    )
    .await;
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got -1 (check 4 of 5, `f(3)`)".into()
        }
    );
}

#[test]
fn the_tests_factory_builds_with_a_sandbox_and_checks_its_options() {
    use next_core::registry::{self, Context, RegistryError};
    let none = registry::verifier("tests", &toml::Table::new(), &Context::new());
    assert!(matches!(none, Err(RegistryError::MissingSandbox { .. })));
    let cx = Context::new().with_sandbox(Arc::new(verify_support::HarnessSandbox::new()));
    let options: toml::Table =
        toml::from_str("test_timeout_ms = 1000\nisolation = \"program\"").unwrap();
    assert!(registry::verifier("tests", &options, &cx).is_ok());
    let typo: toml::Table = toml::from_str("test_timeout = 1000").unwrap();
    let err = registry::verifier("tests", &typo, &cx).err().unwrap();
    assert!(err.to_string().contains("test_timeout"), "{err}");
}

// ---- forging ------------------------------------------------------------------------

/// What the Rust judge does not compute as CPython does is judged by CPython in the
/// trusted judge job: a set's iteration order, printf-style formatting, a method of a
/// returned value, a standard-library call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_beyond_the_rust_judge_are_judged_in_cpython() {
    let tests = [
        "assert list(set(f(1))) == [1, 2]",
        "assert '%s!' % g(1) == 'a!'",
        "assert g(2).upper() == 'A'",
        "assert math.gcd(h(3), 12) == 6",
    ];
    let program = "def f(x):\n    return [2, 1]\n\ndef g(x):\n    return 'a'\n\n\
                   def h(x):\n    return 18\n";
    let v = verdict(program, &tests).await;
    assert!(v.passed(), "{v:?}");
    let wrong = "def f(x):\n    return [2, 3]\n\ndef g(x):\n    return 'b'\n\n\
                 def h(x):\n    return 7\n";
    let v = verdict(wrong, &tests).await;
    assert_eq!(v.passes(), 0, "{v:?}");
    assert_eq!(
        v.outcomes[2],
        TestOutcome::Fail {
            message: "`assert g(2).upper() == 'A'` is false, where `g(2)` = 'b'".into()
        }
    );
}

/// Attacks on the judgement itself (a builtin, a standard-library name or a method of
/// a returned value made the program's; an expected value sent into its process) fail,
/// and the honest programs of the same tests pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_judgement_fail() {
    verify_support::attacks::check_all(&verifier()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_a_pass_does_not_pass() {
    let program = forging::PRINTS_PASS;
    assert_failed(&verdict(program, TESTS).await, "printing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exiting_before_the_tests_does_not_pass() {
    for program in forging::EXITS_EARLY {
        assert_failed(&verdict(program, TESTS).await, program);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patching_builtins_and_assertion_error_does_not_pass() {
    let program = forging::PATCHES_BUILTINS;
    let v = verdict(program, TESTS).await;
    assert_failed(&v, "patching builtins");
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got -1".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rigged_equality_is_not_data() {
    let program = forging::RIGGED_EQUALITY;
    let v = verdict(program, forging::RIGGED_TESTS).await;
    assert_failed(&v, "rigged __eq__");
    for outcome in &v.outcomes {
        assert!(
            outcome.message().contains("non-data value of type"),
            "{outcome:?}"
        );
    }
    assert!(v.outcomes[0].message().contains("type Always"), "{v:?}");
    assert!(v.outcomes[1].message().contains("type I"), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_the_stack_and_the_heap_finds_no_expected_value_and_sets_no_verdict() {
    // The program looks for the expected value everywhere it can reach and would return
    // it; it also sets every verdict-like variable it finds in the harness's frames.
    let program = forging::STACK_WALK;
    let v = verdict(program, forging::STACK_WALK_TESTS).await;
    assert_failed(&v, "stack walk");
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 987654321, got -1".into()
        },
        "the expected value reached the program's process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_the_harness_from_inside_claims_values_never_passes() {
    // Finds the harness's globals up the stack and replaces its functions: every value
    // it reports becomes 1, every statement "ran", and the verdict stays a failure.
    let program = forging::HARNESS_REWRITE;
    let v = verdict(program, TESTS).await;
    assert_failed(&v, "rewritten harness");
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got 1".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_forged_records_to_the_channel_fails_the_verdict() {
    // Finds the harness's nonce on the stack and its private descriptor in
    // /proc/self/fd, writes a complete run of "passing" records, and exits before the
    // harness writes anything.
    let program = forging::forged_records(isolating());
    assert_failed(&verdict(&program, TESTS).await, "forged records at load");
    let in_tests = program.replace("os._exit(0)\n", "");
    assert_failed(
        &verdict(&in_tests, TESTS).await,
        "forged records in the tests",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monkeypatching_json_and_pickle_does_not_pass() {
    let program = forging::JSON_PICKLE;
    let v = verdict(program, TESTS).await;
    assert_failed(&v, "json/pickle");
    assert_eq!(
        v.outcomes[0],
        TestOutcome::Fail {
            message: "expected 3, got 0".into()
        }
    );
}

// ---- misbehaviour ---------------------------------------------------------------------

async fn single(program: &str, test: &str) -> TestOutcome {
    let v = verdict(program, &[test]).await;
    v.outcomes.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_times_out_and_the_other_tests_still_run() {
    let start = Instant::now();
    let v = verdict(
        "def add(a, b):\n    while a == 1:\n        pass\n    return a + b\ndef half(x):\n    return x / 2\n",
        TESTS,
    )
    .await;
    assert_eq!(v.outcomes[0], TestOutcome::Timeout);
    assert!(v.outcomes[1].is_pass() && v.outcomes[2].is_pass(), "{v:?}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_resource_limit() {
    let outcome = single(
        "def f():\n    x = []\n    while True:\n        x.append(bytearray(50 << 20))\n",
        "assert f() == 1",
    )
    .await;
    assert!(
        matches!(outcome, TestOutcome::ResourceLimit { .. }),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabytes_of_output_is_cut_and_the_verdict_is_still_right() {
    let program = "import sys\n\
chunk = 'x' * (1 << 20)\n\
for _ in range(50):\n    sys.stdout.write(chunk)\n\
def add(a, b):\n    for _ in range(50):\n        print(chunk)\n    return a + b\n\
def half(x):\n    return x / 2\n";
    let start = Instant::now();
    let report = verifier()
        .verify_report(&Program::new(program), &tests(TESTS))
        .await
        .unwrap();
    assert!(report.verdict.passed(), "{:?}", report.verdict);
    let execution = report.execution.unwrap();
    assert!(execution.output_truncated);
    assert!(
        execution.stderr.len() <= (17 << 20),
        "{}",
        execution.stderr.len()
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    let wrong = program.replace("return a + b", "return a * b");
    assert!(!verdict(&wrong, TESTS).await.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_is_an_error() {
    let outcome = single("def f(n):\n    return f(n + 1)\n", "assert f(0) == 1").await;
    assert!(
        matches!(&outcome, TestOutcome::Error { message } if message.starts_with("RecursionError")),
        "{outcome:?}"
    );
}

/// The program recurses exactly as deep as in a plain script (`python program.py`), at
/// its module level and in its tests, in every isolation mode, from a warm sandbox
/// (below the fork server's frames, the harness preloaded or carried by the job) and a
/// cold one; the limit it reads and sets is its own. A plain job of either sandbox
/// prints what the plain script prints. The tracer keeps the same (its
/// `tracer_fidelity` tests), so a trace and a verdict see the same recursion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_is_as_deep_as_in_a_plain_script() {
    use next_core::sandbox::Job;
    use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};

    let plain = std::process::Command::new(verify_support::python())
        .args(["-I", "-c", &recursion::script()])
        .output()
        .unwrap();
    assert!(plain.status.success(), "{plain:?}");
    let printed = String::from_utf8(plain.stdout).unwrap();
    let checks = recursion::checks(&printed);
    let checks: Vec<&str> = checks.iter().map(String::as_str).collect();
    let process = |mode| {
        ProcessSandbox::new(ProcessConfig {
            interpreter: Some(verify_support::python()),
            mode,
            ..ProcessConfig::default()
        })
        .ok()
        .map(|sandbox| Arc::new(sandbox) as Arc<dyn Sandbox>)
    };
    let mut sandboxes = vec![("warm or the test harness", verify_support::sandbox().0)];
    for (name, mode) in [("warm", Mode::Warm), ("cold", Mode::Cold)] {
        let Some(sandbox) = process(mode) else {
            continue;
        };
        let job = sandbox.run(Job::new(recursion::script())).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&job.stdout),
            printed,
            "a plain {name} job"
        );
        sandboxes.push((name, Arc::clone(&sandbox)));
        // Declined: every job carries the harness, which loads below the server's frames.
        let carried: Arc<dyn Sandbox> = Arc::new(Preloading {
            inner: sandbox,
            claims: false,
        });
        sandboxes.push((name, carried));
    }
    for isolation in [
        TestIsolation::Test,
        TestIsolation::Program,
        TestIsolation::None,
    ] {
        for (name, sandbox) in &sandboxes {
            let config = TestVerifierConfig {
                isolation,
                ..TestVerifierConfig::default()
            };
            let v = TestVerifier::with_config(Arc::clone(sandbox), config)
                .verify(&Program::new(recursion::PROGRAM), &tests(&checks))
                .await
                .unwrap();
            assert!(v.passed(), "{name}, {isolation:?}: {v:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_stdin_gets_end_of_file() {
    let outcome = single("def f():\n    return input()\n", "assert f() == 'x'").await;
    assert!(
        matches!(&outcome, TestOutcome::Error { message } if message.starts_with("EOFError")),
        "{outcome:?}"
    );
    let outcome = single(
        "import sys\ndef f():\n    return sys.stdin.read()\n",
        "assert f() == ''",
    )
    .await;
    assert!(outcome.is_pass(), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recursive_repr_is_an_error() {
    let program =
        "class R:\n    def __repr__(self):\n        return repr(self)\n    __str__ = __repr__\n\
def f():\n    return R()\n\
def g():\n    raise ValueError(R())\n";
    let outcome = single(program, "assert f() == 1").await;
    assert!(matches!(outcome, TestOutcome::Error { .. }), "{outcome:?}");
    let outcome = single(program, "assert g() == 1").await;
    assert!(
        matches!(&outcome, TestOutcome::Error { message } if message.starts_with("ValueError")),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_left_running_are_killed() {
    let program = "import threading, time\n\
def spin():\n    while True:\n        time.sleep(0.01)\n\
threading.Thread(target=spin).start()\n\
def add(a, b):\n    threading.Thread(target=spin).start()\n    return a + b\n\
def half(x):\n    return x / 2\n";
    let start = Instant::now();
    let v = verdict(program, TESTS).await;
    assert!(v.passed(), "{v:?}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segfault_is_a_crash_with_its_signal() {
    let program =
        "import ctypes\ndef f():\n    return ctypes.string_at(0)\ndef g():\n    return 1\n";
    let v = verdict(program, &["assert f() == b''", "assert g() == 1"]).await;
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.contains("signal 11 (SIGSEGV)")),
        "{v:?}"
    );
    assert!(
        v.outcomes[1].is_pass(),
        "one test's crash does not reach the next: {v:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_loading_fails_every_test() {
    let v = verdict("import ctypes\nctypes.string_at(0)\n", TESTS).await;
    assert_failed(&v, "crash at load");
    assert!(v.outcomes[0].message().contains("SIGSEGV"), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tests_state_does_not_reach_the_next() {
    let program = "calls = []\ndef f():\n    calls.append(1)\n    return len(calls)\n";
    let v = verdict(program, &["assert f() == 1", "assert f() == 1"]).await;
    assert!(v.passed(), "{v:?}");
}

// ---- isolation (needs a sandbox that isolates) -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_hits_the_process_limit() {
    if !isolating() {
        eprintln!("skipped: the test sandbox has no process limit");
        return;
    }
    let outcome = single(
        "import os\ndef f():\n    while True:\n        os.fork()\n",
        "assert f() == 1",
    )
    .await;
    assert!(
        matches!(&outcome, TestOutcome::ResourceLimit { message } if message.starts_with("processes")),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_outside_the_work_directory_and_the_network_are_denied() {
    if !isolating() {
        eprintln!("skipped: the test sandbox does not isolate");
        return;
    }
    // A listener on this machine's loopback: reachable from here, not from the job.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let program = format!(
        "import socket, os\n\
def write():\n    with open('/tmp/next-verifier-escape', 'w') as f:\n        f.write('x')\n    return True\n\
def here():\n    with open('inside.txt', 'w') as f:\n        f.write('x')\n    return True\n\
def net():\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    return True\n"
    );
    let program = program.as_str();
    let v = verdict(
        program,
        &[
            "assert write() == True",
            "assert here() == True",
            "assert net() == True",
        ],
    )
    .await;
    assert!(!v.outcomes[0].is_pass(), "{v:?}");
    assert!(v.outcomes[1].is_pass(), "{v:?}");
    assert!(!v.outcomes[2].is_pass(), "{v:?}");
    assert!(!std::path::Path::new("/tmp/next-verifier-escape").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_forked_daemon_dies_with_the_job() {
    if !isolating() {
        eprintln!("skipped: the test sandbox cannot kill a setsid daemon");
        return;
    }
    let marker = format!("/tmp/next-daemon-{}", std::process::id());
    let program = format!(
        "import os, time\n\
def f():\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n            time.sleep(1.5)\n            open({marker:?}, 'w').write('alive')\n            os._exit(0)\n        os._exit(0)\n    return 1\n"
    );
    let outcome = single(&program, "assert f() == 1").await;
    assert!(outcome.is_pass(), "{outcome:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the daemon outlived the job"
    );
}

// ---- the other isolation modes ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_per_program_survives_crashes_and_timeouts() {
    let program = "import ctypes\n\
def ok():\n    return 1\n\
def crash():\n    return ctypes.string_at(0)\n\
def hang():\n    while True:\n        pass\n\
def leave():\n    import os\n    os._exit(0)\n";
    let lines = [
        "assert ok() == 1",
        "assert crash() == 1",
        "assert ok() == 1",
        "assert hang() == 1",
        "assert ok() == 1",
        "assert leave() == 1",
        "assert ok() == 2",
    ];
    let v = verifier_with(TestIsolation::Program)
        .verify(&Program::new(program), &tests(&lines))
        .await
        .unwrap();
    assert!(
        v.outcomes[0].is_pass() && v.outcomes[2].is_pass() && v.outcomes[4].is_pass(),
        "{v:?}"
    );
    assert!(v.outcomes[1].message().contains("SIGSEGV"), "{v:?}");
    assert_eq!(v.outcomes[3], TestOutcome::Timeout);
    assert!(
        matches!(&v.outcomes[5], TestOutcome::Error { message } if message.contains("exit status 0")),
        "{v:?}"
    );
    assert_eq!(
        v.outcomes[6],
        TestOutcome::Fail {
            message: "expected 2, got 1".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forging_fails_in_every_isolation_mode() {
    for isolation in [
        TestIsolation::Test,
        TestIsolation::Program,
        TestIsolation::None,
    ] {
        let verifier = verifier_with(isolation);
        for program in forging::FORGERS {
            let v = verifier
                .verify(&Program::new(*program), &tests(TESTS))
                .await
                .unwrap();
            assert_failed(&v, &format!("{isolation:?}: {program}"));
        }
        let v = verifier
            .verify(&Program::new(CORRECT), &tests(TESTS))
            .await
            .unwrap();
        assert!(v.passed(), "{isolation:?}: {v:?}");
        let hang =
            "def add(a, b):\n    while True:\n        pass\ndef half(x):\n    return x / 2\n";
        let v = verifier
            .verify(&Program::new(hang), &tests(TESTS))
            .await
            .unwrap();
        assert_eq!(v.outcomes[0], TestOutcome::Timeout, "{isolation:?}");
        assert!(v.outcomes[2].is_pass(), "{isolation:?}: {v:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_limit_backs_up_a_deadline_the_program_defeats() {
    // Without a fork per test, the deadline is a timer the program can swallow; the
    // job's wall-time limit then ends it: that test times out, and the tests after it
    // run in a new job.
    let (sandbox, _) = verify_support::sandbox();
    let verifier = TestVerifier::with_config(
        sandbox,
        TestVerifierConfig {
            test_timeout_ms: 500,
            max_job_ms: 3_000,
            isolation: TestIsolation::None,
            ..TestVerifierConfig::default()
        },
    );
    let program = "def ok():\n    return 1\n\
def stubborn():\n    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n";
    let start = Instant::now();
    let v = verifier
        .verify(
            &Program::new(program),
            &tests(&[
                "assert ok() == 1",
                "assert stubborn() == 1",
                "assert ok() == 1",
            ]),
        )
        .await
        .unwrap();
    assert!(v.outcomes[0].is_pass(), "{v:?}");
    assert_eq!(v.outcomes[1], TestOutcome::Timeout);
    assert!(v.outcomes[2].is_pass(), "{v:?}");
    assert_eq!(verifier.stats().candidate_jobs, 2);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_a_test_that_ends_the_process_does_not_take_the_later_ones() {
    let (sandbox, _) = verify_support::sandbox();
    let verifier = TestVerifier::with_config(
        sandbox,
        TestVerifierConfig {
            isolation: TestIsolation::None,
            ..TestVerifierConfig::default()
        },
    );
    let program = "import os, ctypes\n\ndef ok():\n    return 1\n\n\
def leave():\n    os._exit(0)\n\ndef crash():\n    ctypes.string_at(0)\n";
    let v = verifier
        .verify(
            &Program::new(program),
            &tests(&[
                "assert leave() == 1",
                "assert ok() == 1",
                "assert crash() == 1",
                "assert ok() == 2",
                "assert ok() == 1",
            ]),
        )
        .await
        .unwrap();
    assert!(
        matches!(&v.outcomes[0], TestOutcome::Error { message } if message.contains("during this test")),
        "{v:?}"
    );
    assert!(v.outcomes[1].is_pass(), "{v:?}");
    assert!(
        v.outcomes[2].message().contains("signal 11"),
        "{:?}",
        v.outcomes[2]
    );
    assert!(matches!(v.outcomes[3], TestOutcome::Fail { .. }), "{v:?}");
    assert!(v.outcomes[4].is_pass(), "{v:?}");
    assert_eq!(verifier.stats().candidate_jobs, 3);
}
