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

/// `next data mutate` on three MBPP training tasks: every kept mutant is a new program of
/// its source task, named by its operator, and fails its tests in the sandbox (checked
/// again here with `next verify`); a program that does not parse gives no mutant.
#[test]
fn mutating_reference_solutions_keeps_failing_mutants() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("mbpp.jsonl");
    assert!(next()
        .args(["data", "import", "mbpp", "-o"])
        .arg(&all)
        .status()
        .unwrap()
        .success());
    let mut picked: Vec<serde_json::Value> = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|t: &serde_json::Value| t["metadata"]["split"] == "train")
        .take(3)
        .collect();
    let mut broken = picked[0].clone();
    broken["id"] = "mbpp/broken".into();
    broken["program"] = "def f(:\n".into();
    picked.push(broken);
    let input = dir.path().join("few.jsonl");
    let lines: Vec<String> = picked.iter().map(ToString::to_string).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("r.jsonl");
    let run = next()
        .args(["data", "mutate"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("of 4 programs"), "{stdout}");
    let tasks: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(tasks.len() >= 6, "{} mutants", tasks.len());
    let mut programs = std::collections::HashSet::new();
    for task in &tasks {
        let source = task["metadata"]["source_task"].as_str().unwrap();
        assert_ne!(source, "mbpp/broken");
        let original = picked.iter().find(|t| t["id"] == source).unwrap();
        assert_ne!(task["program"], original["program"]);
        assert!(task["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{source}/m")));
        assert_eq!(task["metadata"]["bug_type"], task["metadata"]["operator"]);
        assert!(programs.insert(task["program"].as_str().unwrap().to_owned()));
    }
    // The first mutant fails its tests when judged again.
    let program = dir.path().join("m.py");
    std::fs::write(&program, tasks[0]["program"].as_str().unwrap()).unwrap();
    let tests = dir.path().join("t.json");
    std::fs::write(&tests, tasks[0]["tests"].to_string()).unwrap();
    let verdict = next()
        .args(["verify", "--tests-file"])
        .arg(&tests)
        .arg(&program)
        .output()
        .unwrap();
    assert_eq!(verdict.status.code(), Some(1), "{verdict:?}");
}
