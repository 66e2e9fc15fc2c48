//! Hostile and broken programs in the Docker sandbox, against the real local engine:
//! every one gets the stated end, no process, container or input directory of it
//! survives, and the next job runs normally. (`docker_support` says when these tests
//! skip and when they fail for a missing engine.)
#![cfg(feature = "docker")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;
mod docker_support;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use common::{
    assert_gone, exits_are_their_status, limit, limits, marker, marking, present, run, stderr,
};
use docker_support::{assert_nothing_left, sandbox, sandbox_with, still_works};
use next_core::sandbox::{Job, Limits, Sandbox, SandboxError, Termination};
use next_verifiers::docker::{DockerConfig, DockerSandbox};
use next_verifiers::process::{resource, OnOutputLimit};

/// The default sandbox, or return from the test (`docker_support` decides when that is
/// allowed).
macro_rules! sandbox_or_skip {
    () => {
        match sandbox().await {
            Some(sandbox) => sandbox,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_and_its_container_goes() {
    let sandbox = sandbox_or_skip!();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_meets_the_pids_limit() {
    let sandbox = sandbox_or_skip!();
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
    // One that catches the failure and keeps trying runs into the wall limit.
    let name = marker();
    let source = format!(
        "{}import os, time\nmark()\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(1500)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert_gone(&name, Duration::from_secs(3)).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_meets_the_cgroup_limit() {
    let sandbox = sandbox_or_skip!();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_of_output_are_cut_and_the_verdict_stands() {
    let sandbox = sandbox_or_skip!();
    let source = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)\nsys.stdout.flush()\nsys.stderr.write('done\\n')\n";
    let done = run(&sandbox, source, limits(30_000)).await;
    let cap = usize::try_from(Limits::default().output_bytes()).unwrap();
    assert!(done.output_truncated);
    assert_eq!(done.stdout.len(), cap);
    assert!(done.stdout.iter().all(|b| *b == b'x'));
    assert_eq!(done.stderr, b"done\n");
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_policy_kill_ends_the_job() {
    let config = DockerConfig {
        on_output_limit: OnOutputLimit::Kill,
        ..DockerConfig::default()
    };
    let Some(sandbox) = sandbox_with(config).await else {
        return;
    };
    let source = "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n";
    let done = run(&sandbox, source, limits(20_000)).await;
    assert_eq!(done.termination, limit(resource::OUTPUT));
    assert!(done.output_truncated);
    assert!(
        done.wall_time < Duration::from_secs(10),
        "{:?}",
        done.wall_time
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_before_the_tests_are_plain_exits() {
    let sandbox = sandbox_or_skip!();
    exits_are_their_status(&sandbox).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_and_a_recursive_repr_are_errors() {
    let sandbox = sandbox_or_skip!();
    for source in [
        "def f(n):\n    return f(n + 1)\nf(0)\n",
        "class A:\n    def __repr__(self):\n        return repr(self)\nprint(A())\n",
    ] {
        let done = run(&sandbox, source, limits(10_000)).await;
        assert_eq!(
            done.termination,
            Termination::Exited { code: 1 },
            "{source}"
        );
        assert!(
            stderr(&done).contains("RecursionError"),
            "{}",
            stderr(&done)
        );
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_is_the_jobs_input_then_end_of_file() {
    let sandbox = sandbox_or_skip!();
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
    let job = Job::new("import sys\nfirst = sys.stdin.buffer.readline().decode().strip()\nrest = sys.stdin.buffer.read()\nprint(first, len(rest))\n")
        .with_stdin([b"hi\n".as_slice(), &vec![b'a'; 1 << 20]].concat())
        .with_limits(limits(10_000));
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.stdout, b"hi 1048576\n", "{}", stderr(&done));
    let job = Job::new("print('ignored')\n").with_stdin(vec![b'b'; 1 << 20]);
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_outside_the_work_dir_is_denied() {
    let sandbox = sandbox_or_skip!();
    let (python, _) = sandbox.interpreter();
    let prefix = std::path::Path::new(python)
        .parent()
        .unwrap()
        .display()
        .to_string();
    for target in [
        "/tmp/next-outside".to_owned(),
        "/var/tmp/next-outside".to_owned(),
        "/dev/shm/next-outside".to_owned(),
        "/etc/passwd".to_owned(),
        "/next-outside".to_owned(),
        "/job/main.py".to_owned(),
        format!("{prefix}/next-outside"),
    ] {
        let source = format!("open({target:?}, 'w').write('escaped')\n");
        let done = run(&sandbox, &source, limits(5000)).await;
        assert_eq!(
            done.termination,
            Termination::Exited { code: 1 },
            "{target}"
        );
        let text = stderr(&done);
        assert!(
            text.contains("Read-only file system") || text.contains("Permission denied"),
            "{target}: {text}"
        );
    }
    // Nor can it run what it writes where it may write.
    let source = "import os, shutil, subprocess, sys\nshutil.copy(sys.executable, 'x')\nos.chmod('x', 0o755)\nsubprocess.run(['./x', '-c', 'pass'], check=True)\n";
    let done = run(&sandbox, source, limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert!(
        stderr(&done).contains("Permission denied"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_to_the_hosts_loopback_is_refused() {
    let sandbox = sandbox_or_skip!();
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
    // And nothing beyond it: there is no route out.
    let done = run(
        &sandbox,
        "import socket\nsocket.create_connection(('10.0.0.1', 80), timeout=2)\n",
        limits(10_000),
    )
    .await;
    assert!(
        stderr(&done).contains("Network is unreachable"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_left_running_are_killed() {
    let sandbox = sandbox_or_skip!();
    let name = marker();
    let source = format!(
        "{}import threading, time\ndef spin():\n    mark()\n    while True:\n        time.sleep(0.05)\nthreading.Thread(target=spin).start()\nprint('main done', flush=True)\n",
        marking(&name)
    );
    let done = run(&sandbox, &source, limits(1500)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    assert_eq!(done.stdout, b"main done\n");
    assert_gone(&name, Duration::from_secs(3)).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setsid_daemon_dies_with_the_job() {
    let sandbox = sandbox_or_skip!();
    let name = marker();
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
    assert_gone(&name, Duration::from_secs(2)).await;
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segfault_is_reported_with_its_signal() {
    let sandbox = sandbox_or_skip!();
    let done = run(
        &sandbox,
        "import ctypes\nctypes.string_at(0)\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.termination, Termination::Signaled { signal: 11 });
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_size_and_work_dir_limits() {
    let sandbox = sandbox_or_skip!();
    let source =
        "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * (1 << 20))\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(
        done.termination,
        limit(resource::FILE_SIZE),
        "{}",
        stderr(&done)
    );
    let source = "i = 0\nwhile True:\n    with open(f'f{i}', 'wb') as f:\n        f.write(b'x' * (1 << 20))\n    i += 1\n";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(done.termination, limit(resource::DISK), "{}", stderr(&done));
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cpu_quota_bounds_cpu_time() {
    let config = DockerConfig {
        cpus: 0.5,
        ..DockerConfig::default()
    };
    let Some(sandbox) = sandbox_with(config).await else {
        return;
    };
    // Two busy threads for 2 s of wall time would use up to 4 s of CPU on two idle
    // cores; the quota allows 1 s (plus a period's slack).
    let source = "import threading, time
end = time.monotonic() + 2
def spin():
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(time.process_time())
";
    let done = run(&sandbox, source, limits(10_000)).await;
    assert_eq!(
        done.termination,
        Termination::Exited { code: 0 },
        "{}",
        stderr(&done)
    );
    let used: f64 = String::from_utf8_lossy(&done.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(
        used < 1.4,
        "{used} s of CPU in 2 s under a quota of half a CPU"
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_sees_a_scrubbed_unprivileged_world() {
    let sandbox = sandbox_or_skip!();
    let source = "import os\nprint(sorted(os.environ))\nprint(os.environ['HOME'] == os.getcwd() == os.environ['TMPDIR'] == '/work')\nprint(os.getuid(), os.getgid(), os.getpid())\nprint(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\nprint(len(os.listdir('/proc/self/fd')))\nprint(hash('seed'))\n";
    let first = run(&sandbox, source, limits(5000)).await;
    let second = run(&sandbox, source, limits(5000)).await;
    let text = String::from_utf8_lossy(&first.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED', 'TMPDIR']",
        "{}",
        stderr(&first)
    );
    assert_eq!(lines[1], "True");
    assert_eq!(lines[2], "65534 65534 1");
    assert_eq!(lines[3], "0000000000000000", "capabilities left");
    assert_eq!(lines[4], "4");
    assert_eq!(first.stdout, second.stdout);
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traceback_shows_only_the_jobs_frames() {
    let sandbox = sandbox_or_skip!();
    let done = run(&sandbox, "raise ValueError('boom')\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    let text = stderr(&done);
    assert!(text.ends_with("ValueError: boom\n"), "{text}");
    assert!(text.contains("main.py\", line 1"), "{text}");
    assert_eq!(text.matches("File ").count(), 1, "{text}");
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_job_loses_its_container() {
    let sandbox = sandbox_or_skip!();
    let name = marker();
    let source = format!("{}import time\nmark()\ntime.sleep(60)\n", marking(&name));
    let job = Job::new(source).with_limits(limits(60_000));
    let cancelled = tokio::time::timeout(Duration::from_secs(10), async {
        let running = sandbox.run(job);
        tokio::pin!(running);
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
    assert_gone(&name, Duration::from_secs(5)).await;
    let start = std::time::Instant::now();
    while !sandbox.containers().await.unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the container survived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_at_once_and_apart() {
    let sandbox = std::sync::Arc::new(sandbox_or_skip!());
    let mut jobs = tokio::task::JoinSet::new();
    for i in 0..6_u32 {
        let sandbox = std::sync::Arc::clone(&sandbox);
        jobs.spawn(async move {
            let source = format!("import os\nopen('mine', 'w').write('{i}')\nprint(sorted(os.listdir('.')), {i} * {i})\n");
            let done = run(&sandbox, &source, limits(20_000)).await;
            assert_eq!(
                String::from_utf8_lossy(&done.stdout),
                format!("['main.py', 'mine'] {}\n", i * i)
            );
        });
    }
    while let Some(joined) = jobs.join_next().await {
        joined.unwrap();
    }
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_engine_or_image_names_the_command_that_provides_it() {
    let no_engine = DockerConfig {
        socket: "/nonexistent/docker.sock".into(),
        ..DockerConfig::default()
    };
    let err = DockerSandbox::connect(no_engine).await.unwrap_err();
    let err = SandboxError::from(err);
    assert!(
        matches!(&err, SandboxError::Unavailable(m) if m.contains("docker-setup.sh")),
        "{err}"
    );
    // The image check needs an engine.
    let Some(sandbox) = sandbox().await else {
        return;
    };
    assert_nothing_left(&sandbox).await;
    let no_image = DockerConfig {
        image: "next-python-absent:never".into(),
        ..DockerConfig::default()
    };
    let err = SandboxError::from(DockerSandbox::connect(no_image).await.unwrap_err());
    assert!(
        matches!(&err, SandboxError::Unavailable(m) if m.contains("next docker image --tag next-python-absent:never")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_containers_of_a_dead_caller_are_removed_by_the_next_sandbox() {
    let Some(first) = sandbox().await else {
        return;
    };
    let (python, _) = first.interpreter();
    let python = python.to_owned();
    drop(first);
    // A pid that is free now: a child that has exited and been reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let namespace = link
        .to_string_lossy()
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_owned();
    let owner = format!("org.next-rs.owner={namespace}-{dead}-0");
    // What a caller killed mid-job leaves: a running container with its labels.
    let made = std::process::Command::new("docker")
        .args([
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            "org.next-rs.sandbox=docker",
            "--label",
            &owner,
        ])
        .arg(next_verifiers::docker::DEFAULT_IMAGE)
        .args([python.as_str(), "-c", "import time; time.sleep(600)"])
        .output()
        .expect("the docker command (docker.io) runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let listed = || {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={owner}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(!listed().is_empty());
    let second = sandbox().await.unwrap();
    assert_eq!(listed(), "", "the orphan survived a new sandbox");
    still_works(&second).await;
}

#[test]
fn the_docker_factory_checks_its_options() {
    use next_core::registry::{self, Context};
    let typo: toml::Table = toml::from_str("imgae = \"x\"").unwrap();
    let err = registry::sandbox("docker", &typo, &Context::new())
        .err()
        .unwrap();
    assert!(err.to_string().contains("imgae"), "{err}");
    let root: toml::Table = toml::from_str("user = \"0:0\"").unwrap();
    let err = registry::sandbox("docker", &root, &Context::new())
        .err()
        .unwrap();
    assert!(next_core::error::chain(&err).contains("non-root"), "{err}");
}
