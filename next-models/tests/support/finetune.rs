//! A fake of OpenAI's Files and Fine-tuning API on the tests' loopback server: it stores
//! uploads (parsing their multipart body), creates jobs that walk through a scripted
//! list of statuses, one per look, with events, lists jobs by metadata and events newest
//! first with `after` and `limit`, checks the API key, and answers scripted faults in
//! place of chosen requests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::support::{Reply, Request, Server};

/// The kinds of request the fake tells apart, for faults and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/files`.
    Upload,
    /// `POST /v1/fine_tuning/jobs`.
    Create,
    /// `GET /v1/fine_tuning/jobs?...`.
    List,
    /// `GET /v1/fine_tuning/jobs/{id}`.
    Get,
    /// `GET /v1/fine_tuning/jobs/{id}/events?...`.
    Events,
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its `name`.
    pub name: String,
    /// Its `filename`, for a file.
    pub filename: Option<String>,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The id the fake gave it.
    pub id: String,
    /// The parts of the upload.
    pub parts: Vec<Part>,
}

impl Upload {
    /// The part named `name`.
    pub fn part(&self, name: &str) -> &Part {
        self.parts.iter().find(|p| p.name == name).unwrap()
    }
}

/// A job of the fake.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's id.
    pub id: String,
    /// The creation request.
    pub request: Value,
    /// How many times it was looked at.
    pub looks: usize,
    /// Its events, oldest first: (id, message).
    pub events: Vec<(String, String)>,
    /// When it was created (a counter).
    pub created_at: i64,
    /// The status of its last look.
    pub status: &'static str,
}

/// How the fake's jobs go.
#[derive(Debug, Clone)]
pub struct Script {
    /// The status shown at each look (the last one stays).
    pub statuses: Vec<&'static str>,
    /// The `error.message` of a failed job.
    pub error: Option<&'static str>,
    /// The `fine_tuned_model` of a job that succeeded (`None`: none is named).
    pub model: Option<&'static str>,
}

impl Script {
    /// `validating_files` -> `queued` -> `running` -> `running` -> `succeeded`.
    pub fn success() -> Self {
        Self {
            statuses: vec![
                "validating_files",
                "queued",
                "running",
                "running",
                "succeeded",
            ],
            error: None,
            model: Some("ft:base-model:next:iter:abc123"),
        }
    }

    /// Ends `failed` with `message`.
    pub fn failure(message: &'static str) -> Self {
        Self {
            statuses: vec!["validating_files", "failed"],
            error: Some(message),
            model: None,
        }
    }
}

#[derive(Default)]
struct State {
    uploads: Vec<Upload>,
    jobs: Vec<Job>,
    counts: HashMap<Route, usize>,
    faults: HashMap<(Route, usize), Reply>,
    /// Creations that create the job but answer this instead (a lost answer).
    lost: HashMap<usize, Reply>,
}

/// The fake, on its loopback server.
pub struct FineTuning {
    /// The server.
    pub server: Server,
    state: Arc<Mutex<State>>,
}

impl FineTuning {
    /// Starts the fake. Requests must carry `Authorization: Bearer {key}`; jobs follow
    /// `script`.
    pub async fn start(key: &str, script: Script) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let bearer = format!("Bearer {key}");
        let server = {
            let state = Arc::clone(&state);
            Server::start(move |_, request| {
                let mut state = state.lock().unwrap();
                answer(&mut state, &script, &bearer, request)
            })
            .await
        };
        Self { server, state }
    }

    /// `{server}/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.base_url())
    }

    /// Answers the `nth` (from 0) request of `route` with `reply` instead.
    pub fn fault(&self, route: Route, nth: usize, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert((route, nth), reply);
    }

    /// The `nth` (from 0) creation creates its job but answers `reply`.
    pub fn lose_create_answer(&self, nth: usize, reply: Reply) {
        self.state.lock().unwrap().lost.insert(nth, reply);
    }

    /// How many requests of `route` were read (faults included).
    pub fn count(&self, route: Route) -> usize {
        self.state
            .lock()
            .unwrap()
            .counts
            .get(&route)
            .copied()
            .unwrap_or(0)
    }

    /// The files stored.
    pub fn uploads(&self) -> Vec<Upload> {
        self.state.lock().unwrap().uploads.clone()
    }

    /// The jobs created.
    pub fn jobs(&self) -> Vec<Job> {
        self.state.lock().unwrap().jobs.clone()
    }
}

fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

fn answer(state: &mut State, script: &Script, bearer: &str, request: &Request) -> Reply {
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path.to_owned(), parse_query(query)),
        None => (request.target.clone(), HashMap::new()),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "files"]) => Route::Upload,
        ("POST", ["v1", "fine_tuning", "jobs"]) => Route::Create,
        ("GET", ["v1", "fine_tuning", "jobs"]) => Route::List,
        ("GET", ["v1", "fine_tuning", "jobs", _]) => Route::Get,
        ("GET", ["v1", "fine_tuning", "jobs", _, "events"]) => Route::Events,
        _ => return error(404, &format!("no route {} {path}", request.method)),
    };
    let nth = {
        let count = state.counts.entry(route).or_insert(0);
        *count += 1;
        *count - 1
    };
    if let Some(reply) = state.faults.remove(&(route, nth)) {
        return reply;
    }
    if request.header("authorization") != Some(bearer) {
        return error(401, "Incorrect API key provided.");
    }
    match route {
        Route::Upload => upload(state, request),
        Route::Create => create(state, request, nth),
        Route::List => list(state, &query),
        Route::Get => get(state, script, segments[3]),
        Route::Events => events(state, segments[3], &query),
    }
}

fn upload(state: &mut State, request: &Request) -> Reply {
    let Some(boundary) = request
        .header("content-type")
        .and_then(|t| t.strip_prefix("multipart/form-data; boundary="))
        .map(str::to_owned)
    else {
        return error(400, "expected a multipart/form-data body");
    };
    let parts = parse_multipart(&request.body, &boundary);
    let purpose = parts.iter().find(|p| p.name == "purpose");
    let file = parts.iter().find(|p| p.name == "file");
    match (purpose, file) {
        (Some(purpose), Some(file))
            if purpose.content == b"fine-tune" && file.filename.is_some() => {}
        _ => return error(400, "expected the fields purpose=fine-tune and file"),
    }
    let id = format!("file-{}", state.uploads.len() + 1);
    let bytes = parts
        .iter()
        .find(|p| p.name == "file")
        .unwrap()
        .content
        .len();
    state.uploads.push(Upload {
        id: id.clone(),
        parts,
    });
    Reply::json(
        200,
        &json!({"id": id, "object": "file", "bytes": bytes, "created_at": 1_700_000_000,
                "filename": "train.jsonl", "purpose": "fine-tune"}),
    )
}

fn create(state: &mut State, request: &Request, nth: usize) -> Reply {
    let body = request.json();
    let file = body["training_file"].as_str().unwrap_or_default();
    if !state.uploads.iter().any(|u| u.id == file) {
        return error(400, &format!("training_file {file} does not exist"));
    }
    if body["model"].as_str().is_none() {
        return error(400, "model is required");
    }
    let id = format!("ftjob-{}", state.jobs.len() + 1);
    let created_at = 1_700_000_000 + i64::try_from(state.jobs.len()).unwrap();
    let job = Job {
        id: id.clone(),
        request: body,
        looks: 0,
        events: vec![(format!("{id}-ev-0"), "Created fine-tuning job".into())],
        created_at,
        status: "validating_files",
    };
    state.jobs.push(job.clone());
    if let Some(reply) = state.lost.remove(&nth) {
        return reply;
    }
    Reply::json(200, &job_json(&job, "validating_files", None, None))
}

fn job_json(job: &Job, status: &str, model: Option<&str>, error: Option<&str>) -> Value {
    json!({
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.request["model"],
        "created_at": job.created_at,
        "finished_at": null,
        "fine_tuned_model": model,
        "organization_id": "org-test",
        "result_files": [],
        "status": status,
        "validation_file": null,
        "training_file": job.request["training_file"],
        "seed": job.request.get("seed").cloned().unwrap_or(json!(42)),
        "metadata": job.request["metadata"],
        "error": error.map(|message| json!({"code": "invalid_training_file", "message": message, "param": "training_file"})),
    })
}

fn list(state: &State, query: &HashMap<String, String>) -> Reply {
    let filters: Vec<(&str, &str)> = query
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?, v.as_str())))
        .collect();
    let data: Vec<Value> = state
        .jobs
        .iter()
        .rev()
        .filter(|job| {
            filters
                .iter()
                .all(|(k, v)| job.request["metadata"][*k].as_str() == Some(*v))
        })
        .map(|job| job_json(job, job.status, None, None))
        .collect();
    Reply::json(
        200,
        &json!({"object": "list", "data": data, "has_more": false}),
    )
}

fn get(state: &mut State, script: &Script, id: &str) -> Reply {
    let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
        return error(404, &format!("no job {id}"));
    };
    let status = script.statuses[job.looks.min(script.statuses.len() - 1)];
    job.looks += 1;
    job.status = status;
    let event = match status {
        "validating_files" => "Validating training file",
        "queued" => "Job queued",
        "running" => "Step 1/2: training loss=0.5",
        "succeeded" => "The job has successfully completed",
        "failed" => "The job failed",
        _ => "The job was cancelled",
    };
    // One event per look, except a repeated running look: a second step.
    let message = if status == "running" && job.events.iter().any(|(_, m)| m.starts_with("Step 1/"))
    {
        "Step 2/2: training loss=0.25"
    } else {
        event
    };
    if !job.events.iter().any(|(_, m)| m == message) {
        let n = job.events.len();
        job.events.push((format!("{id}-ev-{n}"), message.into()));
    }
    let model = (status == "succeeded").then_some(script.model).flatten();
    let error = (status == "failed").then_some(script.error).flatten();
    Reply::json(200, &job_json(job, status, model, error))
}

/// Events newest first; `after` is the last event of the previous page.
fn events(state: &State, id: &str, query: &HashMap<String, String>) -> Reply {
    let Some(job) = state.jobs.iter().find(|job| job.id == id) else {
        return error(404, &format!("no job {id}"));
    };
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let newest_first: Vec<(usize, &(String, String))> =
        job.events.iter().enumerate().rev().collect();
    let start = match query.get("after") {
        Some(after) => newest_first
            .iter()
            .position(|(_, (eid, _))| eid == after)
            .map_or(newest_first.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = newest_first[start..]
        .iter()
        .take(limit)
        .map(|(i, (eid, message))| {
            json!({"object": "fine_tuning.job.event", "id": eid,
                   "created_at": 1_700_000_000 + i64::try_from(*i).unwrap(),
                   "level": "info", "message": message, "data": {}, "type": "message"})
        })
        .collect();
    let has_more = start + page.len() < newest_first.len();
    Reply::json(
        200,
        &json!({"object": "list", "data": page, "has_more": has_more}),
    )
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

/// Decodes `%XX` escapes and `+`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The parts of a `multipart/form-data` body.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let positions: Vec<usize> = (0..text.len().saturating_sub(delimiter.len() - 1))
        .filter(|&i| text[i..].starts_with(delimiter.as_bytes()))
        .collect();
    for pair in positions.windows(2) {
        let chunk = &text[pair[0] + delimiter.len()..pair[1]];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap();
        let chunk = chunk.strip_suffix(b"\r\n").unwrap();
        let head_end = chunk.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&chunk[..head_end]).into_owned();
        let content = chunk[head_end + 4..].to_vec();
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap()
            .to_owned();
        let field = |key: &str| {
            disposition
                .split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        parts.push(Part {
            name: field("name").unwrap(),
            filename: field("filename"),
            content,
        });
    }
    let last = *positions.last().unwrap();
    assert!(
        text[last..].starts_with(format!("{delimiter}--").as_bytes()),
        "the body must end with the closing delimiter"
    );
    parts
}
