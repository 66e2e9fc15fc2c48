//! The container a job runs in: the engine's create request, every limit and lock of
//! the [module](super) table set here and nowhere else.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};
use next_core::sandbox::Limits;

use super::config::DockerConfig;
use super::image::ImagePython;

/// Where the job's read-only inputs (`main.py`, `stdin`) are mounted.
pub(crate) const JOB_DIR: &str = "/job";
/// The job's tmpfs work directory and current directory.
pub(crate) const WORK_DIR: &str = "/work";
/// The label every container of this crate carries (value: `docker`).
pub(crate) const LABEL_SANDBOX: &str = "org.next-rs.sandbox";
/// The label naming the [`DockerSandbox`](super::DockerSandbox) that owns a container.
pub(crate) const LABEL_OWNER: &str = "org.next-rs.owner";

/// The environment a job sees, and nothing else (the engine's own `HOSTNAME` and
/// `PATH` are dropped by the boot code's `execve`).
const ENVIRONMENT: &[(&str, &str)] = &[
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("LANG", "C.UTF-8"),
    ("PYTHONHASHSEED", "0"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("HOME", WORK_DIR),
    ("TMPDIR", WORK_DIR),
];

/// Runs first in the container (as the job's user, in `/work`): makes the job's input
/// its standard input, copies its source into the work directory, and replaces itself
/// with the job's interpreter, so that the job is the container's init with exactly
/// three descriptors and the environment above. `{ARGV}` and `{ENV}` are JSON.
const BOOT: &str = "import os\n\
fd = os.open('/job/stdin', os.O_RDONLY)\n\
os.dup2(fd, 0)\n\
os.close(fd)\n\
with open('/job/main.py', 'rb') as s, open('main.py', 'wb') as d:\n    d.write(s.read())\n\
argv = {ARGV}\n\
os.execve(argv[0], argv, {ENV})\n";

/// The tasks added to the pids limit for runc's `init`, a Go program that runs in the
/// container's cgroup until it starts the job: its threads count there, and a limit
/// they exhaust aborts it (exit 2, a Go stack trace on the job's stderr) before the
/// job runs. Seen with a planner job's limit of 4 under load.
const RUNC_INIT_TASKS: i64 = 8;

/// The create request for one job, whose inputs are in the host directory `job_dir`.
pub(crate) fn container(
    config: &DockerConfig, python: &ImagePython, limits: &Limits, job_dir: &Path, owner: &str,
) -> ContainerCreateBody {
    let exe = python.executable.clone();
    let mut argv = vec![exe.clone(), "-s".into(), "-S".into(), "-B".into()];
    if python.version >= (3, 11) {
        argv.push("-P".into());
    }
    argv.push("main.py".into());
    let env: HashMap<&str, &str> = ENVIRONMENT.iter().copied().collect();
    let boot = BOOT
        .replace("{ARGV}", &json(&argv))
        .replace("{ENV}", &json(&env));
    let memory = i64::try_from(limits.memory_bytes()).unwrap_or(i64::MAX);
    let file_size = i64::try_from(config.workdir_bytes / 2).unwrap_or(i64::MAX);
    // A backstop, never reached before the wall limit under a quota of one CPU: it ends
    // a busy job whose caller died without removing its container.
    let wall = limits.wall_time();
    let cpu_seconds = i64::try_from(wall.as_secs() + u64::from(wall.subsec_nanos() > 0))
        .unwrap_or(i64::MAX / 2)
        + 1;
    let ulimit = |name: &str, value: i64| ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(value),
        hard: Some(value),
    };
    let host = HostConfig {
        // Memory: the cgroup limit, with no swap on top of it.
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(config.nano_cpus()),
        pids_limit: Some(i64::from(limits.processes()) + RUNC_INIT_TASKS),
        ulimits: Some(vec![
            ResourcesUlimits {
                name: Some("cpu".to_owned()),
                soft: Some(cpu_seconds),
                hard: Some(cpu_seconds + 1),
            },
            ulimit("core", 0),
            ulimit("fsize", file_size),
            ulimit("nofile", 1024),
        ]),
        network_mode: Some("none".to_owned()),
        ipc_mode: Some("none".to_owned()),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([
            (
                WORK_DIR.to_owned(),
                format!(
                    "rw,noexec,nosuid,nodev,size={},mode=1777",
                    config.workdir_bytes
                ),
            ),
            (
                "/dev/shm".to_owned(),
                "ro,noexec,nosuid,nodev,size=4k".to_owned(),
            ),
        ])),
        binds: Some(vec![format!("{}:{JOB_DIR}:ro", job_dir.display())]),
        cap_drop: Some(vec!["ALL".to_owned()]),
        security_opt: Some(vec!["no-new-privileges".to_owned()]),
        privileged: Some(false),
        // Output comes over the attach stream; nothing is written to the engine's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".to_owned()),
            config: None,
        }),
        ..HostConfig::default()
    };
    ContainerCreateBody {
        image: Some(python.image.clone()),
        user: Some(config.user.clone()),
        working_dir: Some(WORK_DIR.to_owned()),
        hostname: Some("sandbox".to_owned()),
        entrypoint: Some(Vec::new()),
        cmd: Some(vec![exe, "-I".into(), "-S".into(), "-c".into(), boot]),
        env: Some(Vec::new()),
        network_disabled: Some(true),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(false),
        tty: Some(false),
        labels: Some(HashMap::from([
            (LABEL_SANDBOX.to_owned(), "docker".to_owned()),
            (LABEL_OWNER.to_owned(), owner.to_owned()),
        ])),
        host_config: Some(host),
        ..ContainerCreateBody::default()
    }
}

fn json(value: &impl serde::Serialize) -> String {
    // Strings and maps of strings always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "None".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lock_is_in_the_request() {
        let python = ImagePython {
            image: "next-python:latest".into(),
            executable: "/usr/bin/python3.11".into(),
            version: (3, 11),
        };
        let limits = Limits::new(std::time::Duration::from_secs(2), 256 << 20, 4096, 8).unwrap();
        let body = container(
            &DockerConfig::default(),
            &python,
            &limits,
            Path::new("/tmp/j"),
            "me",
        );
        let host = body.host_config.unwrap();
        assert_eq!(host.memory, Some(256 << 20));
        assert_eq!(host.memory_swap, host.memory);
        assert_eq!(host.pids_limit, Some(8 + RUNC_INIT_TASKS));
        let cpu = host.ulimits.as_ref().unwrap()[0].clone();
        assert_eq!(
            (cpu.name.as_deref(), cpu.soft, cpu.hard),
            (Some("cpu"), Some(3), Some(4))
        );
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(host.binds, Some(vec!["/tmp/j:/job:ro".to_owned()]));
        assert!(host.tmpfs.unwrap()["/work"].contains("size=67108864"));
        assert_eq!(body.user.as_deref(), Some("65534:65534"));
        let cmd = body.cmd.unwrap();
        let boot = &cmd[4];
        assert!(boot.contains(r#"["/usr/bin/python3.11","-s","-S","-B","-P","main.py"]"#));
        assert!(boot.contains(r#""PYTHONHASHSEED":"0""#), "{boot}");
    }
}
