//! Finding out what the kernel allows: a probe job runs with everything wanted; when
//! it fails, the step it failed at names the part to leave out, and it runs again.

use std::io::Read;
use std::os::fd::OwnedFd;

use next_core::sandbox::Job;

use super::child::RawStatus;
use super::cold::Cold;
use super::collect::pipes;
use super::interpreter::Interpreter;
use super::jail::{IdMaps, Jail, Launch, SpawnError, Stage};
use super::plan::{cstring, path_cstring, Ids, Plan, Wanted};
use super::spawn::spawn;
use super::workdir::Base;
use crate::error::Error;

/// Why a probe job failed.
enum Failure {
    /// A set-up step.
    Setup(SpawnError),
    /// The interpreter ran but did not print `ok`.
    Job(String),
    /// The sandbox itself.
    Other(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Other(err)
    }
}

/// What the probing found: the plan that works, and what was left out and why.
pub(crate) struct Probed {
    /// The plan.
    pub plan: Plan,
    /// The cold jobs' settings under it.
    pub cold: Cold,
    /// What was refused, in words.
    pub refused: Vec<String>,
}

/// Probes until a plan works; `make_cold` turns a plan into cold settings.
///
/// # Errors
/// [`Error`] when even the plan without any namespace fails (no working interpreter,
/// an unreachable work directory).
pub(crate) fn probe(
    mut wanted: Wanted, ids: Ids, interpreter: &Interpreter, base: &Base,
    make_cold: &dyn Fn(&Plan) -> Result<Cold, Error>,
) -> Result<Probed, Error> {
    let mut refused = Vec::new();
    loop {
        let plan = Plan {
            wanted,
            ids,
            roots: interpreter.roots.clone(),
        };
        let cold = make_cold(&plan)?;
        let failure = match run(&cold, base) {
            Ok(()) => {
                return Ok(Probed {
                    plan,
                    cold,
                    refused,
                })
            }
            Err(failure) => failure,
        };
        let before = wanted;
        match failure {
            Failure::Setup(err) => match err.stage {
                Stage::Clone => {
                    for (part, without) in refused_namespaces(wanted, ids, interpreter, base) {
                        refused.push(format!("{part}: the kernel refused it ({})", err.error));
                        wanted = without;
                    }
                }
                Stage::IdMaps | Stage::Sync | Stage::Groups | Stage::SetGid | Stage::SetUid
                    if wanted.user =>
                {
                    refused.push(refusal("user namespace", &err));
                    wanted = without_user(wanted, ids);
                }
                stage if stage.builds_root() && wanted.root => {
                    refused.push(refusal("fresh root", &err));
                    wanted.root = false;
                }
                Stage::MountPrivate
                | Stage::ExposeClone
                | Stage::ExposeCover
                | Stage::ExposeDirs
                | Stage::ExposeMove
                | Stage::ReadOnly
                | Stage::Workdir
                    if wanted.mount =>
                {
                    refused.push(refusal("mount namespace", &err));
                    wanted.mount = false;
                    wanted.root = false;
                    wanted.proc = false;
                }
                Stage::Proc if wanted.proc => {
                    refused.push(refusal("private /proc", &err));
                    wanted.proc = false;
                }
                Stage::Exec | Stage::Chdir
                    if err.error.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    let what = if err.stage == Stage::Exec {
                        format!("the interpreter {}", interpreter.executable.display())
                    } else {
                        format!("the work directory under {}", base.path().display())
                    };
                    return Err(Error::Interpreter(format!(
                        "{what} is out of reach of uid {} (a directory above it is closed to \
                         others); with the mount namespace the sandbox exposes the \
                         interpreter's own directories, without it choose an interpreter \
                         and a `temp_dir` that others may enter",
                        ids.job.0
                    )));
                }
                _ => return Err(err.into()),
            },
            Failure::Job(why) if wanted.root => {
                refused.push(format!(
                    "fresh root: the interpreter does not run in it ({why})"
                ));
                wanted.root = false;
            }
            Failure::Job(why) if wanted.mount => {
                refused.push(format!(
                    "mount namespace: the interpreter does not run in it ({why})"
                ));
                wanted.mount = false;
                wanted.proc = false;
            }
            Failure::Job(why) => {
                return Err(Error::Interpreter(format!(
                    "the interpreter does not run in the sandbox: {why}"
                )))
            }
            Failure::Other(err) => return Err(err),
        }
        if wanted == before {
            // Nothing left to leave out for this failure.
            return Err(Error::IsolationRefused(refused.join("; ")));
        }
    }
}

fn refusal(part: &str, err: &SpawnError) -> String {
    format!("{part}: failed to {} ({})", err.stage.describe(), err.error)
}

/// Without a user namespace; an unprivileged caller then has no namespace at all.
fn without_user(mut wanted: Wanted, ids: Ids) -> Wanted {
    wanted.user = false;
    if !ids.root {
        wanted = Wanted::NONE;
    }
    wanted
}

/// A namespace: its name, how to switch it in a [`Wanted`], and whether it is on.
type Part = (&'static str, fn(&mut Wanted, bool), fn(&Wanted) -> bool);

/// Which namespaces the kernel refuses, tried one by one (each with the user
/// namespace, where that one works): the part's name and what is wanted without it.
fn refused_namespaces(
    wanted: Wanted, ids: Ids, interpreter: &Interpreter, base: &Base,
) -> Vec<(&'static str, Wanted)> {
    let mut current = wanted;
    let mut refused = Vec::new();
    let none = Wanted::NONE;
    if wanted.user && !clone_works(Wanted { user: true, ..none }, ids, interpreter, base) {
        current = without_user(current, ids);
        refused.push(("user namespace", current));
    }
    let with_user = Wanted {
        user: current.user,
        ..none
    };
    let parts: [Part; 4] = [
        ("network namespace", |w, on| w.network = on, |w| w.network),
        (
            "pid namespace",
            |w, on| {
                w.pid = on;
                w.proc &= on;
            },
            |w| w.pid,
        ),
        (
            "mount namespace",
            |w, on| {
                w.mount = on;
                w.root &= on;
                w.proc &= on;
            },
            |w| w.mount,
        ),
        ("ipc namespace", |w, on| w.ipc = on, |w| w.ipc),
    ];
    for (part, set, get) in parts {
        if !get(&current) {
            continue;
        }
        let mut alone = with_user;
        set(&mut alone, true);
        if !clone_works(alone, ids, interpreter, base) {
            set(&mut current, false);
            refused.push((part, current));
        }
    }
    refused
}

/// Whether a bare child in these namespaces starts and runs the interpreter.
fn clone_works(wanted: Wanted, ids: Ids, interpreter: &Interpreter, base: &Base) -> bool {
    let attempt = || -> Result<bool, Error> {
        let (ours, theirs) = pipes()?;
        let id_maps = wanted.user.then(|| IdMaps {
            uid_map: format!("{0} {0} 1", ids.caller.0),
            gid_map: format!("{0} {0} 1", ids.caller.1),
            deny_setgroups: !ids.root,
        });
        let jail = Jail {
            namespaces: wanted.clone_flags(),
            id_maps,
            identity: None,
            ids_before_mounts: true,
            mounts: None,
        };
        let launch = Launch {
            argv: vec![
                path_cstring(&interpreter.executable)?,
                cstring("-S")?,
                cstring("-c")?,
                cstring("")?,
            ],
            env: Vec::new(),
            workdir: path_cstring(base.path())?,
            workdir_tmpfs: None,
            source: None,
            rlimits: Vec::new(),
            stdio: [theirs.stdin, theirs.stdout, theirs.stderr],
            extra: None,
        };
        drop(ours);
        let Ok(child) = spawn(&jail, launch) else {
            return Ok(false);
        };
        Ok(child
            .wait_blocking()
            .is_ok_and(|s| s == RawStatus::Exited(0)))
    };
    attempt().unwrap_or(false)
}

/// Runs the probe job `print('ok')` under `cold`, blocking.
fn run(cold: &Cold, base: &Base) -> Result<(), Failure> {
    let workdir = base.fresh("probe", cold.dir_owner)?;
    let (ours, theirs) = pipes()?;
    let job = Job::new("print('ok')");
    let launch = cold.launch(workdir.path(), &job, theirs)?;
    let child = spawn(&cold.jail, launch).map_err(Failure::Setup)?;
    let (stdin, stdout, stderr) = ours.into_parts();
    drop(stdin);
    let status = child
        .wait_blocking()
        .map_err(|e| Failure::Other(Error::io("waiting for the probe job", e)))?;
    let stdout = read_all(stdout);
    let stderr = read_all(stderr);
    if status == RawStatus::Exited(0) && stdout == b"ok\n" {
        Ok(())
    } else {
        Err(Failure::Job(format!(
            "{status:?}: {}",
            String::from_utf8_lossy(&stderr).trim()
        )))
    }
}

/// What is left in a pipe whose writers are gone (at most 64 KiB).
fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = std::fs::File::from(fd)
        .take(64 * 1024)
        .read_to_end(&mut bytes);
    bytes
}
