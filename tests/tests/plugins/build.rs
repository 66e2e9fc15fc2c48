//! Builds the plugin libraries the tests load, once per test binary, with the cargo and
//! the target directory of the build that made the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory of the test's profile (`target/debug`), where the plugins were built.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // The test runs from target/<profile>/deps/.
        let exe = std::env::current_exe().expect("the test's path");
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps");
        let target = profile.parent().expect("a target directory");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", target)
            .args(["build", "--quiet", "-p", "next-plugin-linting"])
            .args(["-p", "next-test-plugins", "--lib", "--examples"]);
        if profile.file_name().is_some_and(|name| name == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the plugins failed: {status}");
        profile.to_owned()
    })
}

/// The library of the workspace package whose library is `name` (`next_test_plugins`).
pub fn library(name: &str) -> PathBuf {
    built().join(file_name(name))
}

/// The library of the example `name` of `next-test-plugins` (a broken plugin).
pub fn broken(name: &str) -> PathBuf {
    built().join("examples").join(file_name(name))
}

fn file_name(name: &str) -> String {
    format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}
