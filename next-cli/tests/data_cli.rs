//! `next data import` and `next data stats` on the shipped data (`data/` of the
//! project) and on a user's own file with a bad record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::process::Command;

fn next() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_next"));
    command.env_remove("NEXT_DATA");
    command
}

#[test]
fn importing_the_shipped_mbpp_and_counting_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mbpp.jsonl");
    let run = next()
        .args(["data", "import", "mbpp", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("wrote 974 tasks"), "{stdout}");
    let stats = next()
        .args(["data", "stats", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(stats.status.success());
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(json["tasks"], 974);
    assert_eq!(json["splits"]["train"], 374);
    assert_eq!(json["splits"]["validation"], 90);
    assert_eq!(json["tests"], 2922);
}

#[test]
fn a_users_file_with_a_bad_record_names_it_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mine.jsonl");
    std::fs::write(
        &input,
        "{\"task_id\": 700, \"text\": \"t\", \"code\": \"def f(x):\\n  return x\", \"test_list\": [\"assert f(1) == 1\"]}\n{\"task_id\": 701}\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let run = next()
        .args(["data", "import", "mbpp"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("mine.jsonl:2 (mbpp/701): no field `text`"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("wrote 1 tasks"));
    let plus = next()
        .args(["data", "import", "humanevalfix-plus", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(plus.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&plus.stderr).contains("--plus"));
}
