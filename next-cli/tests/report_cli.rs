//! `next report` end to end: a real small run and an evaluation with next-core's mock
//! roles (`kind = "mock"`, feature `testing`), their HTML reports, and those reports
//! opened in headless Chromium: the screenshot is not blank, the console stays silent
//! (the page has no script, and its content security policy would log anything it
//! blocked), and every figure of the rendered DOM (`data-metric`, `data-value`) equals
//! the run's `summary.json` and `metrics.json` and the evaluation's JSON.
//!
//! Chromium: `NEXT_TEST_CHROMIUM`, else `chromium` (or `chromium-browser`,
//! `google-chrome`) on PATH (`scripts/chromium-setup.sh` installs it). Without one the
//! browser checks are skipped, saying so, unless `CI` is set: then they fail.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use next_core::run::{PhaseMetrics, Summary};
use tempfile::TempDir;

const CONFIG: &str = r#"
[loop]
iterations = 2
samples_per_task = 4
eval.samples_per_task = 4
eval.ks = [1, 4]
hard_filter.samples_per_task = 4

[sampler]
kind = "mock"
skill = 0.1
growth = 0.05
max = 0.9

[verifier]
kind = "mock"

[trainer]
kind = "mock"
"#;

/// A buggy task of a bug type, its program marked to fail under the mock verifier; its
/// spec holds markup that must come out as text.
fn task(id: &str, offset: usize, kind: &str) -> String {
    serde_json::json!({
        "id": id,
        "spec": format!("Return x plus {offset}. </script><script>alert(1)</script>"),
        "program": format!("def add(x):\n    return x\n# mock-verdict: fail\n# task {id}\n"),
        "tests": [format!("assert add(1) == {}", 1 + offset), format!("assert add(2) == {}", 2 + offset)],
        "entry_point": "add",
        "metadata": {"bug_type": kind},
    })
    .to_string()
        + "\n"
}

fn next(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_next"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "next {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The fixture: tasks and configuration, then `next run` and `next eval`.
fn run_and_eval() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let kinds = ["operator", "value", "off-by-one"];
    let train: String = (0..8)
        .map(|i| task(&format!("train/{i}"), i + 1, kinds[i % 3]))
        .collect();
    let dev: String = (0..6)
        .map(|i| task(&format!("dev/{i}"), i + 1, kinds[i % 3]))
        .collect();
    std::fs::write(dir.path().join("train.jsonl"), train).unwrap();
    std::fs::write(dir.path().join("dev.jsonl"), dev).unwrap();
    std::fs::write(dir.path().join("run.toml"), CONFIG).unwrap();
    let run = next(
        dir.path(),
        &[
            "run",
            "--config",
            "run.toml",
            "--train",
            "train.jsonl",
            "--dev",
            "dev.jsonl",
            "--out",
            "out",
        ],
    );
    let err = String::from_utf8(run.stderr).unwrap();
    assert!(err.lines().any(|l| l == "report: out/report.html"), "{err}");
    let eval = next(
        dir.path(),
        &[
            "eval",
            "--tasks",
            "dev.jsonl",
            "--model",
            "run.toml",
            "--tracer",
            "mock",
            "--verifier",
            "mock",
            "-n",
            "4",
            "-k",
            "1,4",
            "--renderer",
            "inline,none",
            "--out",
            "results.json",
        ],
    );
    let err = String::from_utf8(eval.stderr).unwrap();
    assert!(err.lines().any(|l| l == "report: results.html"), "{err}");
    dir
}

/// Every `(data-metric, data-value)` of a document, values by name.
fn figures(html: &str) -> BTreeMap<String, Vec<f64>> {
    let unescape = |t: &str| {
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for piece in html.split("data-metric=\"").skip(1) {
        let (name, rest) = piece.split_once('"').unwrap();
        let (_, rest) = rest.split_once("data-value=\"").unwrap();
        let (value, _) = rest.split_once('"').unwrap();
        out.entry(unescape(name))
            .or_default()
            .push(value.parse().unwrap());
    }
    out
}

/// Compares figures with the JSON's numbers, counting the comparisons.
struct Check<'a> {
    figures: &'a BTreeMap<String, Vec<f64>>,
    compared: usize,
}

impl Check<'_> {
    fn eq(&mut self, name: &str, expected: f64) {
        let values = self
            .figures
            .get(name)
            .unwrap_or_else(|| panic!("the page has no {name}; it has {:?}", self.figures.keys()));
        for value in values {
            assert!(
                value.to_bits() == expected.to_bits(),
                "{name}: the page says {value}, the JSON {expected}"
            );
        }
        self.compared += 1;
    }

    fn phase(&mut self, name: &str, metrics: &PhaseMetrics) {
        for (key, value) in &metrics.pass_at_k {
            self.eq(&format!("{name}.{key}"), *value);
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn check_run(html: &str, out: &Path) -> usize {
    let figures = figures(html);
    let mut check = Check {
        figures: &figures,
        compared: 0,
    };
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    check.phase("eval-0", &summary.base_eval);
    check.eq("best.value", summary.best.value);
    check.eq("best.iteration", f64::from(summary.best.iteration));
    check.eq("filter.hard_tasks", summary.hard_tasks as f64);
    let filter = summary.filter.as_ref().unwrap();
    check.eq("filter.tasks", filter.tasks as f64);
    for report in &summary.iterations {
        let i = report.iteration;
        check.phase(&format!("eval-{i}"), &report.eval);
        check.phase(&format!("iter-{i}"), &report.train);
        check.eq(
            &format!("iter-{i}.train_examples"),
            report.train.train_examples.unwrap() as f64,
        );
        check.eq(&format!("iter-{i}.tasks"), report.train.tasks as f64);
        check.eq(&format!("iter-{i}.passed"), report.train.passed as f64);
    }
    for i in 0..=summary.iterations.len() {
        let metrics: PhaseMetrics = serde_json::from_slice(
            &std::fs::read(out.join(format!("eval-{i}/metrics.json"))).unwrap(),
        )
        .unwrap();
        check.phase(&format!("eval-{i}"), &metrics);
        check.eq(
            &format!("eval-{i}.tasks_solved"),
            metrics.tasks_solved as f64,
        );
    }
    check.compared
}

fn check_eval(html: &str, results: &serde_json::Value) -> usize {
    let figures = figures(html);
    let mut check = Check {
        figures: &figures,
        compared: 0,
    };
    let scores = |check: &mut Check<'_>, prefix: &str, scores: &serde_json::Value| {
        check.eq(
            &format!("{prefix}.tasks"),
            scores["tasks"].as_f64().unwrap(),
        );
        for score in scores["pass_at"].as_array().unwrap() {
            let k = &score["k"];
            for (end, key) in [("", "estimate"), (".low", "low"), (".high", "high")] {
                check.eq(
                    &format!("{prefix}.pass@{k}{end}"),
                    score["pass"][key].as_f64().unwrap(),
                );
            }
        }
    };
    for condition in results["conditions"].as_array().unwrap() {
        let name = condition["renderer"].as_str().unwrap();
        let report = &condition["report"];
        scores(&mut check, name, &report["all"]);
        for (kind, by) in report["by_bug_type"].as_object().unwrap() {
            scores(&mut check, &format!("{name}.bug.{kind}"), by);
        }
        check.eq(
            &format!("{name}.parsed"),
            report["parsed"].as_f64().unwrap(),
        );
        for task in report["tasks"].as_array().unwrap() {
            let id = task["task"].as_str().unwrap();
            check.eq(
                &format!("{name}.task.{id}.passed"),
                task["counts"]["c"].as_f64().unwrap(),
            );
            check.eq(
                &format!("{name}.task.{id}.n"),
                task["counts"]["n"].as_f64().unwrap(),
            );
        }
    }
    check.compared
}

#[test]
fn reports_hold_the_json_numbers_and_escape_task_text() {
    let dir = run_and_eval();
    let run_html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    let eval_html = std::fs::read_to_string(dir.path().join("results.html")).unwrap();
    for html in [&run_html, &eval_html] {
        assert!(!html.contains("<script"), "a script element");
        assert!(
            html.contains("&lt;/script&gt;&lt;script&gt;"),
            "the task text is shown, escaped"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing to fetch"
        );
    }
    assert!(check_run(&run_html, &dir.path().join("out")) > 20);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    assert!(check_eval(&eval_html, &results) > 40);

    // `next report` writes the same pages again, where asked, and prints the path.
    let again = next(dir.path(), &["report", "out", "-o", "again.html"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), "again.html\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.html")).unwrap(),
        run_html
    );
    let again = next(dir.path(), &["report", "results.json"]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), "results.html\n");

    // Nothing to report: exit 1, naming it.
    let output = Command::new(env!("CARGO_BIN_EXE_next"))
        .current_dir(dir.path())
        .args(["report", "dev.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.contains("reporting dev.jsonl") && err.contains("not the results of `next eval --out`"),
        "{err}"
    );
}

/// Headless Chromium, or `None` (after saying so) when there is none and `CI` is not set.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("NEXT_TEST_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| {
                    ["chromium", "chromium-browser", "google-chrome"].map(|n| dir.join(n))
                })
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no Chromium (set NEXT_TEST_CHROMIUM, or run scripts/chromium-setup.sh)"
        );
        eprintln!("skipped: no Chromium on PATH (scripts/chromium-setup.sh installs it)");
    }
    found
}

/// Runs headless Chromium on `page` with `args`, in a profile of its own.
fn browse(chromium: &Path, page: &Path, args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Pixels that are not near white, and distinct colours, of a PNG screenshot.
fn ink(png: &Path) -> (usize, usize) {
    let mut decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| (p[0], p[1], p[2]));
    let mut colours = HashSet::new();
    let mut inked = 0;
    for (r, g, b) in pixels {
        colours.insert((r, g, b));
        inked += usize::from(r.min(g).min(b) < 230);
    }
    (inked, colours.len())
}

#[test]
fn reports_render_in_chromium_silently_with_the_json_numbers() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = run_and_eval();
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    for (page, name) in [
        (dir.path().join("out/report.html"), "run"),
        (dir.path().join("results.html"), "eval"),
    ] {
        let shot = dir.path().join(format!("{name}.png"));
        browse(
            &chromium,
            &page,
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1200,2000",
            ],
        );
        let (inked, colours) = ink(&shot);
        assert!(
            inked > 20_000,
            "{name}: a blank screenshot ({inked} pixels inked)"
        );
        assert!(
            colours > 50,
            "{name}: only {colours} colours: the plots are missing"
        );

        let dom = browse(
            &chromium,
            &page,
            &["--dump-dom", "--enable-logging=stderr", "--v=0"],
        );
        let log = String::from_utf8_lossy(&dom.stderr);
        // Chromium logs every console message, whatever its level, as `INFO:CONSOLE`:
        // a script error, a blocked fetch or a blocked script would show there.
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(
            console.is_empty(),
            "{name}: console messages:\n{}",
            console.join("\n")
        );
        let dom = String::from_utf8(dom.stdout).unwrap();
        assert!(dom.contains("<svg"), "{name}: no plot in the DOM");
        assert!(
            !dom.contains("<script"),
            "{name}: a script element in the DOM"
        );
        let compared = match name {
            "run" => check_run(&dom, &dir.path().join("out")),
            _ => check_eval(&dom, &results),
        };
        assert!(compared > 20, "{name}: {compared} figures compared");
    }
}
