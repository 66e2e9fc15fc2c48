//! What of the host's file tree a job of the process sandbox sees, in both modes: a
//! program walks `/` and reports every path it can open for reading. With the fresh
//! root (the default where the kernel allows it), that is only what the interpreter
//! needs (its installation, the system's library directories, the loader's cache,
//! `/dev/null` and its kin), its own work directory and its own `/proc`: none of the
//! checkout, the data, the host's `/tmp`, `/etc/passwd` or `/home`, and no way back to
//! the host's root through `/proc/1/root` or `..`. No process of it outlives it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{assert_gone, limits, marker, marking, sandbox, stderr, still_works};
use next_core::sandbox::{Job, Sandbox, Termination};
use next_verifiers::process::{IsolationConfig, Mode, ProcessConfig, ProcessSandbox};
use serde::Deserialize;

/// Walks `/` (not into `/proc`, nor into the trees bound in whole, whose top is
/// reported: they are the system's and the interpreter's files), tries to open every
/// file it meets, and prints one JSON object: the top-level entries, every path it
/// could open or list, what it found of the host's paths it was given, and whether the
/// standard library's usual modules work.
const WALK: &str = r#"
import json, os, sys
host_paths = json.loads(sys.stdin.read())
prefixes = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)))})
whole = {'/usr', '/lib', '/lib64', '/lib32', '/libx32', '/bin', '/sbin', '/proc'} | set(prefixes)
readable, seen = [], 0
for top, dirs, files in os.walk('/', followlinks=False):
    readable.append(top)
    kept = []
    for d in dirs:
        path = os.path.join(top, d)
        if path in whole or any(path.startswith(p + '/') for p in prefixes):
            readable.append(path)
        else:
            kept.append(d)
    dirs[:] = kept
    for name in files:
        path = os.path.join(top, name)
        seen += 1
        if seen > 20000:
            break
        try:
            with open(path, 'rb') as f:
                f.read(1)
            readable.append(path)
        except OSError:
            pass
found = {}
for path in host_paths:
    try:
        found[path] = os.path.exists(path) or os.path.lexists(path)
    except OSError:
        found[path] = False
# The root's parent is the root; /proc/1/root (the job itself, init of its namespace)
# and /proc/self/root lead to this root, not the host's.
root = os.stat('/')
escapes = []
for path in ['/..', '/../..', '/proc/1/root', '/proc/self/root', '/proc/1/root/..']:
    try:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) != (root.st_dev, root.st_ino):
            escapes.append(path)
    except OSError:
        pass
for path in ['/proc/1/root', '/proc/self/root']:
    try:
        if sorted(os.listdir(path)) != sorted(os.listdir('/')):
            escapes.append(path + ' lists')
    except OSError:
        pass
modules = {}
import subprocess
checks = {
    'encodings': 'import encodings.idna; "é".encode("utf-8")',
    'locale': 'import locale; locale.setlocale(locale.LC_ALL, "")',
    'tempfile': 'import tempfile\nwith tempfile.NamedTemporaryFile() as f: f.write(b"x")',
    'multiprocessing': 'import multiprocessing; multiprocessing.cpu_count()',
    'subprocess': 'assert subprocess.run([sys.executable, "-c", "print(6*7)"], capture_output=True).stdout == b"42\\n"',
    'ssl': 'import ssl; ssl.create_default_context()',
    'hashlib': 'import hashlib; hashlib.sha256(b"x").hexdigest(); hashlib.md5(b"x")',
    'urandom': 'assert len(os.urandom(8)) == 8; open("/dev/urandom", "rb").read(8); open("/dev/null", "w").write("x")',
    'ctypes': 'import ctypes; ctypes.CDLL(None)',
}
for name, code in checks.items():
    try:
        exec(code, {'sys': sys, 'os': os, 'subprocess': subprocess})
        modules[name] = 'ok'
    except BaseException as err:
        modules[name] = '%s: %s' % (type(err).__name__, err)
print(json.dumps({
    'top': sorted(os.listdir('/')),
    'readable': readable,
    'prefixes': prefixes,
    'found': found,
    'escapes': escapes,
    'modules': modules,
    'cwd': os.getcwd(),
}))
"#;

#[derive(Debug, Deserialize)]
struct Report {
    top: Vec<String>,
    readable: Vec<String>,
    prefixes: Vec<String>,
    found: std::collections::BTreeMap<String, bool>,
    escapes: Vec<String>,
    modules: std::collections::BTreeMap<String, String>,
    cwd: String,
}

/// What of the host's file tree the jobs of a sandbox in `mode` see.
async fn walk_the_root(mode: Mode) {
    let sandbox = sandbox(mode);
    let isolation = sandbox.isolation();
    if !isolation.fresh_root {
        // Nothing to check where the kernel refused it (the report says why).
        println!("no fresh root here:\n{isolation}");
        return;
    }
    let (report, name) = walk(&sandbox).await;
    // The standard library works in it.
    for (module, outcome) in &report.modules {
        assert_eq!(outcome, "ok", "{module}");
    }
    // No way back to the host's root.
    assert!(report.escapes.is_empty(), "{:?}", report.escapes);
    only_what_is_admitted(&report);
    // None of the host's paths is there at all (but those on the way to the
    // interpreter, such as /root/.pyenv).
    let on_the_way = on_the_way(&report);
    let seen: Vec<&String> = report
        .found
        .iter()
        .filter(|(path, &found)| found && !on_the_way.contains(path.as_str()))
        .map(|(path, _)| path)
        .collect();
    assert!(seen.is_empty(), "host paths visible: {seen:?}");
    assert!(
        !report.readable.iter().any(|p| p.contains(&name)),
        "the host's /tmp file was seen"
    );
    still_works(&sandbox).await;
}

/// Runs the walk in `sandbox`, given the host's paths to look for (a file made in the
/// host's /tmp for it, the checkout, the data, /etc/passwd, /home, what /root holds):
/// its report, and the marker of its process, which is gone when it returns.
async fn walk(sandbox: &ProcessSandbox) -> (Report, String) {
    // A file of the host's /tmp, made for this test: it must not be seen.
    let name = marker();
    let host_tmp = std::env::temp_dir().join(format!("next-host-file-{name}"));
    std::fs::write(&host_tmp, "host").unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checkout = manifest.parent().unwrap_or(manifest);
    let data = checkout.join("../shared/data");
    let mut host_paths: Vec<PathBuf> = vec![
        host_tmp.clone(),
        manifest.join("Cargo.toml"),
        checkout.to_path_buf(),
        "/etc/passwd".into(),
        "/etc/shadow".into(),
        "/etc/hostname".into(),
        "/home".into(),
        "/work".into(),
        "/var".into(),
        "/opt".into(),
        "/run".into(),
        "/sys".into(),
        "/dev/shm".into(),
    ];
    if data.exists() {
        host_paths.push(data.canonicalize().unwrap());
    }
    // What the job's own user could have listed in /root, beyond the interpreter.
    if let Ok(entries) = std::fs::read_dir("/root") {
        host_paths.extend(entries.flatten().map(|e| e.path()));
    }
    let stdin = serde_json::to_vec(&host_paths).unwrap();
    let source = format!("{}mark()\n{WALK}", marking(&name));
    let job = Job::new(source)
        .with_stdin(stdin)
        .with_limits(limits(60_000));
    let done = sandbox.run(job).await.unwrap();
    assert_eq!(
        done.termination,
        Termination::Exited { code: 0 },
        "{}",
        stderr(&done)
    );
    assert_gone(&name, Duration::from_secs(2)).await;
    std::fs::remove_file(&host_tmp).unwrap();
    let report: Report = serde_json::from_slice(&done.stdout).unwrap();
    (report, name)
}

/// The top-level entries and the readable paths of `report` are only what the fresh
/// root admits.
fn only_what_is_admitted(report: &Report) {
    // The top level: the system's directories, what leads to the interpreter, the
    // loader's cache, the devices, /tmp (with the work directory's path), /proc.
    let mut admitted: BTreeSet<String> = [
        "usr", "lib", "lib64", "lib32", "libx32", "bin", "sbin", "dev", "etc", "proc", "tmp",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    admitted.insert(first_component(&report.cwd));
    for prefix in &report.prefixes {
        admitted.insert(first_component(prefix));
    }
    let top: BTreeSet<String> = report.top.iter().cloned().collect();
    assert!(
        top.is_subset(&admitted),
        "unexpected at the top: {:?}",
        top.difference(&admitted).collect::<Vec<_>>()
    );
    assert!(top.contains("usr") && top.contains("proc"), "{top:?}");

    // Every path it could open is the system's, the interpreter's, a device of the
    // list, the loader's cache, its own work directory, or a directory on the way to
    // one of these.
    let on_the_way = on_the_way(report);
    let own = |path: &str| path == report.cwd || path.starts_with(&format!("{}/", report.cwd));
    let system = |path: &str| {
        [
            "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/proc",
        ]
        .iter()
        .any(|d| path == *d || path.starts_with(&format!("{d}/")))
            || report
                .prefixes
                .iter()
                .any(|p| path == p || path.starts_with(&format!("{p}/")))
    };
    let listed = [
        "/",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",
        "/dev/fd",
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        "/etc",
        "/etc/ld.so.cache",
        "/tmp",
    ];
    let strays: Vec<&String> = report
        .readable
        .iter()
        .filter(|path| {
            !(listed.contains(&path.as_str())
                || on_the_way.contains(path.as_str())
                || own(path)
                || system(path))
        })
        .collect();
    assert!(
        strays.is_empty(),
        "readable outside the sandbox's own files: {strays:?}"
    );
}

/// The directories on the way to the interpreter's and to the work directory.
fn on_the_way(report: &Report) -> BTreeSet<String> {
    report
        .prefixes
        .iter()
        .chain(std::iter::once(&report.cwd))
        .flat_map(|p| ancestors(p))
        .collect()
}

/// The first component of an absolute path.
fn first_component(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// `path` and every directory above it.
fn ancestors(path: &str) -> Vec<String> {
    Path::new(path)
        .ancestors()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Without the fresh root (turned off, as where the kernel refuses it), jobs still run,
/// on the host's tree read-only, and the report says the isolation is not complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_fresh_root_the_report_says_so() {
    for mode in [Mode::Cold, Mode::Warm] {
        let sandbox = common::sandbox_with(ProcessConfig {
            mode,
            isolation: IsolationConfig {
                fresh_root: false,
                ..IsolationConfig::default()
            },
            ..ProcessConfig::default()
        });
        let isolation = sandbox.isolation();
        assert!(!isolation.fresh_root, "{isolation}");
        assert!(!isolation.is_complete(), "{isolation}");
        if isolation.mount_namespace {
            // The checkout is in sight again (it is world-readable here).
            let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
            let source = format!("import os\nprint(os.path.exists({manifest:?}))\n");
            let done = common::run(&sandbox, &source, limits(10_000)).await;
            assert_eq!(done.stdout, b"True\n", "{}", stderr(&done));
        }
        still_works(&sandbox).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_walk_the_root() {
    walk_the_root(Mode::Cold).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_walk_the_root() {
    walk_the_root(Mode::Warm).await;
}
