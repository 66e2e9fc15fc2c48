//! Hostile and broken programs, each in both modes: every one gets the stated end, no
//! process or file of it survives, and the next job runs normally.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use common::{
    assert_gone, exits_are_their_status, limit, limits, marker, marking, present, run, sandbox,
    stderr, still_works,
};
use next_core::sandbox::{Job, Limits, Sandbox, Termination};
use next_verifiers::process::{resource, Mode};

async fn infinite_loop(mode: Mode) {
    let sandbox = sandbox(mode);
    let done = run(&sandbox, "while True:\n    pass\n", limits(1000)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert!(done.wall_time >= Duration::from_secs(1));
    assert!(
        done.wall_time < Duration::from_secs(4),
        "{:?}",
        done.wall_time
    );
    still_works(&sandbox).await;
}

async fn fork_bomb(mode: Mode) {
    let sandbox = sandbox(mode);
    let name = marker();
    let source = format!(
        "{}import os\nmark()\nwhile True:\n    os.fork()\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(5000)).await;
    assert!(
        done.termination == limit(resource::PROCESSES) || done.termination == Termination::TimedOut,
        "{:?}: {}",
        done.termination,
        stderr(&done)
    );
    assert_gone(&name, Duration::from_secs(3)).await;
    still_works(&sandbox).await;
}

async fn fork_bomb_that_catches(mode: Mode) {
    let sandbox = sandbox(mode);
    let name = marker();
    let source = format!(
        "{}import os, time\nmark()\nn = 0\nwhile True:\n    try:\n        os.fork()\n        n += 1\n    except OSError:\n        time.sleep(0.01)\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(1500)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert_gone(&name, Duration::from_secs(3)).await;
    still_works(&sandbox).await;
}

async fn memory_bomb(mode: Mode) {
    let sandbox = sandbox(mode);
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
    let one_go = run(&sandbox, "x = bytearray(1 << 34)\n", small).await;
    assert_eq!(
        one_go.termination,
        limit(resource::MEMORY),
        "{}",
        stderr(&one_go)
    );
    still_works(&sandbox).await;
}

async fn hundred_megabytes_of_output(mode: Mode) {
    let sandbox = sandbox(mode);
    let source = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nsys.stdout.flush()\nsys.stderr.write('done\\n')\n";
    let done = run(&sandbox, source, limits(20_000)).await;
    let cap = usize::try_from(Limits::default().output_bytes()).unwrap();
    assert!(done.output_truncated);
    assert_eq!(done.stdout.len(), cap);
    assert!(done.stdout.iter().all(|b| *b == b'x'));
    assert_eq!(done.stderr, b"done\n");
    // Cut, not killed: the job ran to its end and says so.
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    still_works(&sandbox).await;
}

async fn exits_early_with_success(mode: Mode) {
    let sandbox = sandbox(mode);
    exits_are_their_status(&sandbox).await;
    still_works(&sandbox).await;
}

async fn deep_recursion(mode: Mode) {
    let sandbox = sandbox(mode);
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
    still_works(&sandbox).await;
}

async fn recursive_repr(mode: Mode) {
    let sandbox = sandbox(mode);
    let source = "class A:\n    def __repr__(self):\n        return repr(self)\nprint(A())\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(
        stderr(&done).contains("RecursionError"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

async fn reading_stdin(mode: Mode) {
    let sandbox = sandbox(mode);
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
    // More than a pipe holds, fed while the job reads.
    let big = vec![b'a'; 1 << 20];
    let job = Job::new("import sys\ndata = sys.stdin.buffer.read()\nprint(len(data))\n")
        .with_stdin(big)
        .with_limits(limits(10_000));
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.stdout, b"1048576\n");
    // A job that never reads its input does not block the sandbox.
    let job = Job::new("print('ignored')\n").with_stdin(vec![b'b'; 1 << 20]);
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    still_works(&sandbox).await;
}

async fn writing_outside_the_work_dir(mode: Mode) {
    let sandbox = sandbox(mode);
    let outside = std::env::temp_dir().join(format!("next-outside-{}", marker()));
    for target in [
        outside.to_string_lossy().into_owned(),
        "/var/tmp/next-outside".to_owned(),
        "/dev/shm/next-outside".to_owned(),
        format!("{}/escape", sandbox.work_root().display()),
    ] {
        let source = format!("open({target:?}, 'w').write('escaped')\n");
        let done = run(&sandbox, &source, limits(5000)).await;
        assert_eq!(
            done.termination,
            Termination::Exited { code: 1 },
            "{target}"
        );
        // Read-only where the path is in the job's root; absent where the fresh root
        // does not hold it (/var, /dev/shm).
        let text = stderr(&done);
        assert!(
            text.contains("Read-only file system")
                || text.contains("Permission denied")
                || text.contains("No such file or directory"),
            "{target}: {text}"
        );
        assert!(
            !std::path::Path::new(&target).exists(),
            "{target} was written"
        );
    }
    still_works(&sandbox).await;
}

async fn connecting_to_localhost(mode: Mode) {
    let sandbox = sandbox(mode);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let source = format!(
        "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('connected')\n"
    );
    let done = run(&sandbox, &source, limits(10_000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(done.stdout.is_empty());
    let text = stderr(&done);
    assert!(
        text.contains("Network is unreachable") || text.contains("Connection refused"),
        "{text}"
    );
    assert_eq!(
        listener.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the job reached the listener"
    );
    still_works(&sandbox).await;
}

async fn threads_left_running(mode: Mode) {
    let sandbox = sandbox(mode);
    let name = marker();
    // A non-daemon thread keeps the interpreter from exiting: the wall limit ends it.
    let source = format!(
        "{}import threading, time\ndef spin():\n    mark()\n    while True:\n        time.sleep(0.05)\nthreading.Thread(target=spin).start()\nprint('main done', flush=True)\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(1500)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert_eq!(done.stdout, b"main done\n");
    assert_gone(&name, Duration::from_secs(3)).await;
    // A daemon thread dies with the interpreter.
    let name = marker();
    let source = format!(
        "{}import threading, time\ndef spin():\n    mark()\n    while True:\n        time.sleep(0.05)\nthreading.Thread(target=spin, daemon=True).start()\ntime.sleep(0.2)\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    assert_gone(&name, Duration::from_secs(3)).await;
    still_works(&sandbox).await;
}

async fn daemon_killed_with_the_job(mode: Mode) {
    let sandbox = sandbox(mode);
    let name = marker();
    // Double fork and setsid: the classic daemon, out of the job's process group and
    // session, then sleeping far longer than the test waits.
    let source = format!(
        "{}import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        mark()\n        time.sleep(60)\n    os._exit(0)\ntime.sleep(0.3)\nprint('parent done')\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(10_000)).await;
    assert_eq!(
        done.termination,
        Termination::Exited { code: 0 },
        "{}",
        stderr(&done)
    );
    assert_eq!(done.stdout, b"parent done\n");
    // The job's init is gone, so is its PID namespace: no waiting needed beyond reaping.
    assert_gone(&name, Duration::from_secs(2)).await;
    still_works(&sandbox).await;
}

async fn segfault(mode: Mode) {
    let sandbox = sandbox(mode);
    let done = run(
        &sandbox,
        "import ctypes\nctypes.string_at(0)\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.termination, Termination::Signaled { signal: 11 });
    still_works(&sandbox).await;
}

async fn cpu_time_and_file_size(mode: Mode) {
    let sandbox = sandbox(mode);
    // Two busy threads burn CPU time twice as fast as wall time: the CPU rlimit (the
    // wall limit rounded up) is hit before the wall limit.
    let source = "import threading\ndef spin():\n    while True:\n        pass\nfor _ in range(3):\n    threading.Thread(target=spin, daemon=True).start()\nspin()\n";
    let done = run(&sandbox, source, limits(2500)).await;
    assert!(
        done.termination == limit(resource::CPU_TIME) || done.termination == Termination::TimedOut,
        "{:?}",
        done.termination
    );
    // One growing file meets the file-size rlimit (half the work directory)...
    let source =
        "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(
        done.termination,
        limit(resource::FILE_SIZE),
        "{}",
        stderr(&done)
    );
    // ... many files fill the work directory's tmpfs.
    let source = "i = 0\nwhile True:\n    with open(f'f{i}', 'wb') as f:\n        f.write(b'x' * (1 << 20))\n    i += 1\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(done.termination, limit(resource::DISK), "{}", stderr(&done));
    still_works(&sandbox).await;
}

async fn scrubbed_environment(mode: Mode) {
    let sandbox = sandbox(mode);
    let source = "import os, sys\nprint(sorted(os.environ))\nprint(os.environ['HOME'] == os.getcwd() == os.environ['TMPDIR'])\nprint(os.getuid(), os.getgid(), os.getpid())\nprint(sorted(os.listdir('/proc'))[0])\nprint(hash('seed'))\nprint(len(os.listdir('/proc/self/fd')))\n";
    let first = run(&sandbox, source, limits(5000)).await;
    let second = run(&sandbox, source, limits(5000)).await;
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED', 'TMPDIR']"
    );
    assert_eq!(lines[1], "True");
    assert_eq!(lines[2], "65534 65534 1");
    // Its own /proc: its PID namespace holds it alone.
    assert_eq!(lines[3], "1");
    // The hash seed is fixed: the same program prints the same.
    assert_eq!(first.stdout, second.stdout);
    // Standard input, output, error, and the descriptor listing /proc/self/fd.
    assert_eq!(lines[5], "4");
    still_works(&sandbox).await;
}

async fn fresh_work_dir_per_job(mode: Mode) {
    let sandbox = sandbox(mode);
    let done = run(&sandbox, "open('left', 'w').write('x')\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    let done = run(
        &sandbox,
        "import os\nprint(sorted(os.listdir('.')))\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.stdout, b"['main.py']\n");
    still_works(&sandbox).await;
}

async fn syntax_error(mode: Mode) {
    let sandbox = sandbox(mode);
    let done = run(&sandbox, "def f(:\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(stderr(&done).contains("SyntaxError"), "{}", stderr(&done));
    let done = run(&sandbox, "raise ValueError('boom')\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    let text = stderr(&done);
    assert!(text.ends_with("ValueError: boom\n"), "{text}");
    assert!(text.contains("main.py\", line 1"), "{text}");
    // Only the job's own frames are shown.
    assert_eq!(text.matches("File ").count(), 1, "{text}");
    still_works(&sandbox).await;
}

async fn cancelled_job_is_killed(mode: Mode) {
    let sandbox = sandbox(mode);
    let name = marker();
    let source = format!("{}import time\nmark()\ntime.sleep(60)\n", marking(&name));
    let job = Job::new(source).with_limits(limits(60_000));
    let cancelled = tokio::time::timeout(Duration::from_millis(1500), async {
        let running = sandbox.run(job);
        tokio::pin!(running);
        // Let it start and name itself, then drop the future.
        tokio::select! {
            _ = &mut running => panic!("the job ended by itself"),
            () = async {
                while !present(&name) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            } => {}
        }
    })
    .await;
    assert!(cancelled.is_ok(), "the job never started");
    assert_gone(&name, Duration::from_secs(2)).await;
    still_works(&sandbox).await;
}

async fn many_at_once(mode: Mode) {
    let sandbox = std::sync::Arc::new(sandbox(mode));
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..12_u32 {
        let sandbox = std::sync::Arc::clone(&sandbox);
        jobs.spawn(async move {
            let source = format!("import time\ntime.sleep(0.05)\nprint({i} * {i})\n");
            let done = run(&sandbox, &source, limits(10_000)).await;
            assert_eq!(done.stdout, format!("{}\n", i * i).into_bytes());
        });
    }
    while let Some(joined) = jobs.join_next().await {
        joined.unwrap();
    }
    still_works(&sandbox).await;
}

macro_rules! in_both_modes {
    ($($case:ident),* $(,)?) => {
        mod cold {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(next_verifiers::process::Mode::Cold).await;
                }
            )*
        }
        mod warm {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(next_verifiers::process::Mode::Warm).await;
                }
            )*
        }
    };
}

in_both_modes!(
    infinite_loop,
    fork_bomb,
    fork_bomb_that_catches,
    memory_bomb,
    hundred_megabytes_of_output,
    exits_early_with_success,
    deep_recursion,
    recursive_repr,
    reading_stdin,
    writing_outside_the_work_dir,
    connecting_to_localhost,
    threads_left_running,
    daemon_killed_with_the_job,
    segfault,
    cpu_time_and_file_size,
    scrubbed_environment,
    fresh_work_dir_per_job,
    syntax_error,
    cancelled_job_is_killed,
    many_at_once,
);
