//! The JSON Lines files of repair tasks the commands read and write: one task a line.

use std::path::Path;

use next_core::task::RepairTask;

use crate::error::CliError;

/// Reads a JSON Lines file of repair tasks: one task a line, blank lines skipped, the
/// last line with or without its newline.
///
/// # Errors
/// [`CliError::Io`] when the file cannot be read, [`CliError::Tasks`] naming the file
/// and line of a line that is not a valid task, [`CliError::Config`] when the file holds
/// no task at all.
pub fn read_tasks(path: &Path) -> Result<Vec<RepairTask>, CliError> {
    let tasks = next_core::task::read_tasks(path)?;
    if tasks.is_empty() {
        return Err(CliError::Config {
            path: path.to_owned(),
            message: "holds no tasks (expected one JSON repair task a line)".into(),
        });
    }
    Ok(tasks)
}

/// Writes `tasks` to `path`, one JSON task a line.
pub(crate) fn write_tasks(path: &Path, tasks: &[RepairTask]) -> Result<(), CliError> {
    let mut text = String::new();
    for task in tasks {
        text.push_str(&serde_json::to_string(task).map_err(CliError::Json)?);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| CliError::Io {
        action: "writing",
        path: path.to_owned(),
        source,
    })
}
