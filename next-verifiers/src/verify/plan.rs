//! Test plans: what the trusted planner made of each test, and their cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::judge::{Check, Expr};

/// Where a test's judgement is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// Split: the candidate job computed only the values of the program's
    /// sub-expressions; the comparison and the expected values stayed with the judge.
    Judged,
    /// Split as [`Provenance::Judged`], but a sub-expression sent to the candidate wraps
    /// the program's call in test code the judge does not evaluate itself (such as
    /// `sorted(f(x), key=...)`); the comparison still stays with the judge.
    Wrapped,
    /// Not split: the whole statement ran in the candidate's process, which reported
    /// whether it raised. Such an outcome is only as trustworthy as that process, and
    /// counts in [`VerifierStats::delegated`](super::VerifierStats).
    Delegated,
    /// The test itself is broken (a syntax error, or its own code raises): every
    /// program gets an error for it, and it is never run.
    Invalid,
}

/// One hole: a sub-expression the candidate job evaluates.
#[derive(Debug, Clone)]
pub(crate) struct HoleSpec {
    pub src: String,
    /// The test's modules the source names: `(name in the source, module)`.
    pub modules: Vec<(String, String)>,
}

/// The plan of one test.
#[derive(Debug, Clone)]
pub(crate) enum TestPlan {
    Judged {
        checks: Vec<Check>,
        holes: Vec<HoleSpec>,
        sources: Vec<String>,
        wrapped: bool,
    },
    Delegated,
    Invalid {
        error: String,
    },
}

impl TestPlan {
    pub(crate) fn provenance(&self) -> Provenance {
        match self {
            TestPlan::Judged { wrapped: false, .. } => Provenance::Judged,
            TestPlan::Judged { wrapped: true, .. } => Provenance::Wrapped,
            TestPlan::Delegated => Provenance::Delegated,
            TestPlan::Invalid { .. } => Provenance::Invalid,
        }
    }

    /// Reads one plan of the planner's answer.
    pub(crate) fn from_json(json: &serde_json::Value) -> Result<Self, String> {
        let mode = json
            .get("mode")
            .and_then(serde_json::Value::as_str)
            .ok_or("a plan without a mode")?;
        match mode {
            "delegated" => Ok(TestPlan::Delegated),
            "invalid" => Ok(TestPlan::Invalid {
                error: json
                    .get("error")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("the test is invalid")
                    .to_owned(),
            }),
            "judged" => {
                let checks = json
                    .get("checks")
                    .and_then(serde_json::Value::as_array)
                    .ok_or("a plan without checks")?
                    .iter()
                    .map(|c| {
                        Ok(Check {
                            expr: Expr::from_json(c.get("expr").ok_or("a check without expr")?)?,
                            msg: c
                                .get("msg")
                                .and_then(serde_json::Value::as_str)
                                .map(str::to_owned),
                            src: c
                                .get("src")
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or("assert ...")
                                .to_owned(),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let holes = json
                    .get("holes")
                    .and_then(serde_json::Value::as_array)
                    .ok_or("a plan without holes")?
                    .iter()
                    .map(|h| {
                        let src = h
                            .get("src")
                            .and_then(serde_json::Value::as_str)
                            .ok_or("a hole without source")?
                            .to_owned();
                        let modules = h
                            .get("modules")
                            .and_then(serde_json::Value::as_array)
                            .map(|m| {
                                m.iter()
                                    .filter_map(|pair| {
                                        let alias = pair.get(0)?.as_str()?;
                                        let name = pair.get(1)?.as_str()?;
                                        Some((alias.to_owned(), name.to_owned()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        Ok(HoleSpec { src, modules })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let mut used = Vec::new();
                for check in &checks {
                    check.expr.holes(&mut used);
                }
                if used.iter().any(|&k| k >= holes.len()) {
                    return Err("a check reads a hole that does not exist".to_owned());
                }
                let sources = holes.iter().map(|h| h.src.clone()).collect();
                Ok(TestPlan::Judged {
                    checks,
                    holes,
                    sources,
                    wrapped: json
                        .get("wrapped")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true),
                })
            }
            other => Err(format!("an unknown plan mode {other:.20}")),
        }
    }
}

/// The plans of one test list.
pub(crate) type Plans = Arc<Vec<TestPlan>>;
type Slot = Arc<tokio::sync::OnceCell<Plans>>;

/// Plans by test text: the tests of a task do not change, so the planner runs once per
/// task however many programs are judged on it. Concurrent requests for the same tests
/// wait for one planner job.
pub(crate) struct PlanCache {
    slots: Mutex<HashMap<Vec<String>, Slot>>,
    capacity: usize,
}

impl PlanCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The slot for these tests (a new empty one if they were never planned).
    pub(crate) fn slot(&self, key: Vec<String>) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(&key) {
            return Arc::clone(slot);
        }
        if slots.len() >= self.capacity {
            // Forget the plans that are done; those being made are kept for their waiters.
            slots.retain(|_, slot| !slot.initialized());
        }
        let slot = Slot::default();
        slots.insert(key, Arc::clone(&slot));
        slot
    }
}
