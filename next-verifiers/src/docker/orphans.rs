//! Who owns a container, and removing the containers whose owner died.
//!
//! A sandbox removes its containers itself (see the module's "Cleanup"), but a process
//! killed outright (`SIGKILL`, a crash) cannot: its containers would run on, a busy
//! one until its CPU rlimit ends it, a sleeping one for ever. So every container's
//! owner label names its sandbox's process, as `<pid namespace>-<pid>-<serial>`, and
//! every new sandbox removes the containers of processes of its own PID namespace
//! that no longer exist. A label from another PID namespace (a sandbox in another
//! container sharing the engine) is never touched, and a reused pid only delays the
//! removal.

use std::collections::HashMap;
use std::path::Path;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;

use super::spec::{LABEL_OWNER, LABEL_SANDBOX};
use crate::error::Error;

/// The owner label of this process's sandbox number `serial`.
pub(crate) fn owner_label(serial: u64) -> String {
    format!("{}-{}-{serial}", pid_namespace(), std::process::id())
}

/// The inode of this process's PID namespace (0 where `/proc` does not say).
fn pid_namespace() -> u64 {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|link| {
            let text = link.to_string_lossy().into_owned();
            text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
        })
        .unwrap_or(0)
}

/// The PID namespace and pid an owner label names.
fn parse(label: &str) -> Option<(u64, u32)> {
    let mut parts = label.split('-');
    let namespace = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u64>().ok()?;
    Some((namespace, pid))
}

/// Every container, running or not, that carries `label` (`key=value`).
///
/// # Errors
/// [`Error::Engine`] naming `what` when the engine cannot list containers.
pub(crate) async fn list_labelled(
    docker: &Docker, label: String, what: &'static str,
) -> Result<Vec<bollard::models::ContainerSummary>, Error> {
    let filters = HashMap::from([("label", vec![label])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .map_err(|e| Error::engine(what, e))
}

/// Removes the containers whose owner was a process of this PID namespace that is
/// gone; returns their names.
///
/// # Errors
/// [`Error::Engine`] when the engine cannot list containers.
pub(crate) async fn remove_orphans(docker: &Docker) -> Result<Vec<String>, Error> {
    let ours = pid_namespace();
    if ours == 0 {
        return Ok(Vec::new());
    }
    let listed = list_labelled(
        docker,
        format!("{LABEL_SANDBOX}=docker"),
        "listing the containers of earlier sandboxes",
    )
    .await?;
    let mut removed = Vec::new();
    for container in listed {
        let owner = container
            .labels
            .as_ref()
            .and_then(|labels| labels.get(LABEL_OWNER))
            .and_then(|label| parse(label));
        let Some((namespace, pid)) = owner else {
            continue;
        };
        if namespace != ours || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let Some(id) = container.id else {
            continue;
        };
        if super::guard::remove(docker, &id).await.is_ok() {
            removed.push(id);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_this_process_and_parse_back() {
        let label = owner_label(7);
        let (namespace, pid) = parse(&label).unwrap();
        assert_eq!(pid, std::process::id());
        assert_eq!(namespace, pid_namespace());
        assert!(namespace != 0, "no PID namespace in /proc");
        assert_eq!(parse("12-34"), None);
        assert_eq!(parse("x-34-1"), None);
    }
}
