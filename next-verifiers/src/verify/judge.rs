//! The judge: evaluates a test's judgement over the values the candidate job returned.
//!
//! A judgement is a small expression tree (written by the trusted planner, read here from
//! JSON): constants, holes (the values of the candidate's sub-expressions), comparisons,
//! boolean and arithmetic operators, and a few builtins (`abs`, `len`, `set`, `sorted`,
//! `math.isclose`, ...). It runs in this process, on [`Value`]s: plain data that cannot
//! carry code, so nothing the program did can change how a comparison comes out.

use std::fmt::Write as _;

use next_core::verify::TestOutcome;
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{FromPrimitive, Signed, ToPrimitive, Zero};

use super::value::{compare, contains, dedup_values, py_eq, to_f64, CmpOp, Num, PyErr, Value};

/// How long a repr in a message may be.
pub(crate) const REPR_LIMIT: usize = 200;
/// The most items a sequence built by `*` may have.
const MAX_REPEAT: usize = 1 << 24;
/// Deepest judgement tree read from a plan.
const MAX_EXPR_DEPTH: usize = 200;

/// A comparison operator of a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Rich(CmpOp),
    In,
    NotIn,
    Is,
    IsNot,
}

impl CompareOp {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "==" => CompareOp::Rich(CmpOp::Eq),
            "!=" => CompareOp::Rich(CmpOp::Ne),
            "<" => CompareOp::Rich(CmpOp::Lt),
            "<=" => CompareOp::Rich(CmpOp::Le),
            ">" => CompareOp::Rich(CmpOp::Gt),
            ">=" => CompareOp::Rich(CmpOp::Ge),
            "in" => CompareOp::In,
            "not in" => CompareOp::NotIn,
            "is" => CompareOp::Is,
            "is not" => CompareOp::IsNot,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            CompareOp::Rich(op) => op.symbol(),
            CompareOp::In => "in",
            CompareOp::NotIn => "not in",
            CompareOp::Is => "is",
            CompareOp::IsNot => "is not",
        }
    }

    fn apply(self, a: &Value, b: &Value) -> Result<bool, PyErr> {
        match self {
            CompareOp::Rich(op) => compare(op, a, b),
            CompareOp::In => contains(b, a),
            CompareOp::NotIn => contains(b, a).map(|x| !x),
            CompareOp::Is => Ok(same_singleton(a, b)),
            CompareOp::IsNot => Ok(!same_singleton(a, b)),
        }
    }
}

fn same_singleton(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Pos,
    Invert,
}

/// What a literal container display builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Build {
    List,
    Tuple,
    Set,
}

/// A judgement expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(Value),
    Hole(usize),
    Raise(String),
    Compare {
        left: Box<Expr>,
        ops: Vec<CompareOp>,
        rights: Vec<Expr>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    IfExp(Box<Expr>, Box<Expr>, Box<Expr>),
    Build(Build, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, [Option<Box<Expr>>; 3]),
    Call(String, Vec<Expr>, Vec<(String, Expr)>),
    IsInstance(Box<Expr>, Vec<String>),
}

impl Expr {
    /// Reads a judgement from the planner's JSON.
    pub(crate) fn from_json(json: &serde_json::Value) -> Result<Self, String> {
        parse(json, 0)
    }

    /// Every hole the expression reads, in order of first appearance.
    pub(crate) fn holes(&self, out: &mut Vec<usize>) {
        let mut visit = |e: &Expr| e.holes(out);
        match self {
            Expr::Hole(k) => {
                if !out.contains(k) {
                    out.push(*k);
                }
            }
            Expr::Const(_) | Expr::Raise(_) => {}
            Expr::Compare { left, rights, .. } => {
                visit(left);
                rights.iter().for_each(visit);
            }
            Expr::And(items) | Expr::Or(items) | Expr::Build(_, items) => {
                items.iter().for_each(visit);
            }
            Expr::Unary(_, e) | Expr::IsInstance(e, _) => visit(e),
            Expr::Binary(_, a, b) | Expr::Index(a, b) => {
                visit(a);
                visit(b);
            }
            Expr::IfExp(a, b, c) => {
                visit(a);
                visit(b);
                visit(c);
            }
            Expr::Slice(v, parts) => {
                visit(v);
                parts.iter().flatten().for_each(|e| visit(e));
            }
            Expr::Call(_, args, kw) => {
                args.iter().for_each(&mut visit);
                for (_, e) in kw {
                    visit(e);
                }
            }
        }
    }
}

#[allow(clippy::too_many_lines)] // one arm per node kind
fn parse(json: &serde_json::Value, depth: usize) -> Result<Expr, String> {
    if depth > MAX_EXPR_DEPTH {
        return Err("judgement nested too deeply".to_owned());
    }
    let sub = |j: &serde_json::Value| parse(j, depth + 1);
    let field = |name: &str| json.get(name).ok_or_else(|| format!("no `{name}` field"));
    let list = |j: &serde_json::Value| -> Result<Vec<Expr>, String> {
        j.as_array()
            .ok_or("expected a list of expressions")?
            .iter()
            .map(sub)
            .collect()
    };
    let boxed = |name: &str| -> Result<Box<Expr>, String> { Ok(Box::new(sub(field(name)?)?)) };
    let optional = |name: &str| -> Result<Option<Box<Expr>>, String> {
        match json.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(j) => Ok(Some(Box::new(sub(j)?))),
        }
    };
    let text = |name: &str| -> Result<String, String> {
        Ok(field(name)?
            .as_str()
            .ok_or_else(|| format!("`{name}` is not a string"))?
            .to_owned())
    };
    if let Some(c) = json.get("c") {
        return Ok(Expr::Const(Value::from_wire(c)?));
    }
    if let Some(h) = json.get("h") {
        let k = h.as_u64().ok_or("a hole index that is not a number")?;
        return Ok(Expr::Hole(usize::try_from(k).map_err(|e| e.to_string())?));
    }
    if json.get("raise").is_some() {
        return Ok(Expr::Raise(text("raise")?));
    }
    if let Some(left) = json.get("cmp") {
        let ops = field("ops")?
            .as_array()
            .ok_or("`ops` is not a list")?
            .iter()
            .map(|op| {
                op.as_str()
                    .and_then(CompareOp::parse)
                    .ok_or_else(|| format!("an unknown comparison {op}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rights = list(field("r")?)?;
        if ops.len() != rights.len() || ops.is_empty() {
            return Err("a comparison with mismatched operands".to_owned());
        }
        return Ok(Expr::Compare {
            left: Box::new(sub(left)?),
            ops,
            rights,
        });
    }
    if let Some(items) = json.get("and") {
        return Ok(Expr::And(list(items)?));
    }
    if let Some(items) = json.get("or") {
        return Ok(Expr::Or(list(items)?));
    }
    if json.get("un").is_some() {
        let op = match text("un")?.as_str() {
            "not" => UnOp::Not,
            "-" => UnOp::Neg,
            "+" => UnOp::Pos,
            "~" => UnOp::Invert,
            other => return Err(format!("an unknown unary operator {other}")),
        };
        return Ok(Expr::Unary(op, boxed("v")?));
    }
    if json.get("bin").is_some() {
        let op = match text("bin")?.as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "//" => BinOp::FloorDiv,
            "%" => BinOp::Mod,
            "**" => BinOp::Pow,
            other => return Err(format!("an unknown operator {other}")),
        };
        return Ok(Expr::Binary(op, boxed("l")?, boxed("r")?));
    }
    if json.get("ifx").is_some() {
        return Ok(Expr::IfExp(boxed("ifx")?, boxed("then")?, boxed("else")?));
    }
    if json.get("build").is_some() {
        let kind = match text("build")?.as_str() {
            "list" => Build::List,
            "tuple" => Build::Tuple,
            "set" => Build::Set,
            other => return Err(format!("an unknown display {other}")),
        };
        return Ok(Expr::Build(kind, list(field("items")?)?));
    }
    if json.get("idx").is_some() {
        return Ok(Expr::Index(boxed("idx")?, boxed("i")?));
    }
    if json.get("slice").is_some() {
        return Ok(Expr::Slice(
            boxed("slice")?,
            [optional("lo")?, optional("hi")?, optional("step")?],
        ));
    }
    if json.get("isinstance").is_some() {
        let types = field("types")?
            .as_array()
            .ok_or("`types` is not a list")?
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or("a type that is not a name")
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Expr::IsInstance(boxed("isinstance")?, types));
    }
    if json.get("call").is_some() {
        let name = text("call")?;
        let args = list(field("args")?)?;
        let mut kw = Vec::new();
        if let Some(map) = json.get("kw").and_then(serde_json::Value::as_object) {
            for (k, v) in map {
                kw.push((k.clone(), sub(v)?));
            }
        }
        return Ok(Expr::Call(name, args, kw));
    }
    Err("an unknown judgement node".to_owned())
}

/// What the candidate job reported for one hole.
#[derive(Debug, Clone)]
pub(crate) enum HoleResult {
    /// Its value.
    Value(Value),
    /// It raised: `TypeName: message`, and the type name.
    Raised { message: String, kind: String },
    /// It evaluated to something that is not plain data.
    NonData(String),
    /// Its value was over the size limits.
    TooBig,
}

/// Why evaluation stopped: a Python exception in the judgement, or an outcome decided by
/// a hole (it raised, or gave no plain value).
#[derive(Debug)]
pub(crate) enum Halt {
    Py(PyErr),
    Outcome(TestOutcome),
}

impl From<PyErr> for Halt {
    fn from(e: PyErr) -> Self {
        Halt::Py(e)
    }
}

/// The holes of one test: their source and what the candidate reported.
pub(crate) struct Holes<'a> {
    pub sources: &'a [String],
    pub results: &'a [HoleResult],
}

impl Holes<'_> {
    fn get(&self, k: usize) -> Result<Value, Halt> {
        let src = self.sources.get(k).map_or("?", String::as_str);
        match self.results.get(k) {
            Some(HoleResult::Value(v)) => Ok(v.clone()),
            Some(HoleResult::Raised { message, kind }) => Err(Halt::Outcome(raised(message, kind))),
            Some(HoleResult::NonData(type_name)) => Err(Halt::Outcome(TestOutcome::Error {
                message: format!(
                    "TypeError: `{}` returned a non-data value of type {type_name} (only None, \
                     bool, int, float, str, bytes and lists, tuples, dicts and sets of them \
                     can be judged)",
                    short(src)
                ),
            })),
            Some(HoleResult::TooBig) => Err(Halt::Outcome(TestOutcome::ResourceLimit {
                message: format!(
                    "output: the value of `{}` is too large to judge",
                    short(src)
                ),
            })),
            None => Err(Halt::Outcome(TestOutcome::Error {
                message: format!("no result for `{}`", short(src)),
            })),
        }
    }
}

/// The outcome for a candidate-side exception.
pub(crate) fn raised(message: &str, kind: &str) -> TestOutcome {
    match kind {
        "MemoryError" => TestOutcome::ResourceLimit {
            message: format!("memory: {message}"),
        },
        "BlockingIOError" if message.contains("Errno 11") => TestOutcome::ResourceLimit {
            message: format!("processes: {message}"),
        },
        _ => TestOutcome::Error {
            message: message.to_owned(),
        },
    }
}

pub(crate) fn short(src: &str) -> String {
    if src.chars().count() <= 120 {
        src.to_owned()
    } else {
        let cut: String = src.chars().take(117).collect();
        format!("{cut}...")
    }
}

/// One assert of a test.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub expr: Expr,
    pub msg: Option<String>,
}

/// Judges one test: every check must hold; the first that does not decides the outcome.
///
/// A test of several checks (a loop the planner unrolled) names, in a failure message,
/// the check and the program's call it failed on.
pub(crate) fn judge(checks: &[Check], holes: &Holes<'_>) -> TestOutcome {
    for (k, check) in checks.iter().enumerate() {
        match judge_check(check, holes) {
            TestOutcome::Pass => {}
            TestOutcome::Fail { mut message } if checks.len() > 1 => {
                let mut used = Vec::new();
                check.expr.holes(&mut used);
                let call = used
                    .first()
                    .and_then(|&h| holes.sources.get(h))
                    .map(|src| format!(", `{}`", short(src)))
                    .unwrap_or_default();
                let _ = write!(message, " (check {} of {}{call})", k + 1, checks.len());
                return TestOutcome::Fail { message };
            }
            other => return other,
        }
    }
    TestOutcome::Pass
}

fn judge_check(check: &Check, holes: &Holes<'_>) -> TestOutcome {
    let result = match &check.expr {
        Expr::Compare { left, ops, rights } if ops.len() == 1 => {
            judge_compare(left, ops[0], &rights[0], holes)
        }
        expr => eval(expr, holes).map(|v| {
            if v.truthy() {
                None
            } else {
                let negated = matches!(expr, Expr::Unary(UnOp::Not, _));
                let mut message = if let (true, Expr::Unary(_, inner)) = (negated, expr) {
                    match eval(inner, holes) {
                        Ok(w) => format!("expected a false value, got {}", w.repr(REPR_LIMIT)),
                        Err(_) => "expected a false value".to_owned(),
                    }
                } else {
                    format!("expected a true value, got {}", v.repr(REPR_LIMIT))
                };
                if !matches!(expr, Expr::Hole(_))
                    && !matches!(expr, Expr::Unary(UnOp::Not, inner) if matches!(**inner, Expr::Hole(_)))
                {
                    message.push_str(&where_clause(expr, holes));
                }
                Some(message)
            }
        }),
    };
    match result {
        Ok(None) => TestOutcome::Pass,
        Ok(Some(message)) => TestOutcome::Fail {
            message: match &check.msg {
                Some(msg) if !msg.is_empty() => format!("{message} ({})", short(msg)),
                _ => message,
            },
        },
        Err(Halt::Outcome(outcome)) => outcome,
        Err(Halt::Py(e)) => TestOutcome::Error {
            message: e.to_string(),
        },
    }
}

fn judge_compare(
    left: &Expr,
    op: CompareOp,
    right: &Expr,
    holes: &Holes<'_>,
) -> Result<Option<String>, Halt> {
    let l = eval(left, holes)?;
    let r = eval(right, holes)?;
    if op.apply(&l, &r)? {
        return Ok(None);
    }
    let has_hole = |e: &Expr| {
        let mut found = Vec::new();
        e.holes(&mut found);
        !found.is_empty()
    };
    let (lh, rh) = (has_hole(left), has_hole(right));
    let mut message = match op {
        CompareOp::Rich(CmpOp::Eq) | CompareOp::Is if lh != rh => {
            let (got, expected) = if lh { (&l, &r) } else { (&r, &l) };
            format!(
                "expected {}, got {}",
                expected.repr(REPR_LIMIT),
                got.repr(REPR_LIMIT)
            )
        }
        _ => format!(
            "{} {} {} is false",
            l.repr(REPR_LIMIT),
            op.symbol(),
            r.repr(REPR_LIMIT)
        ),
    };
    let direct = matches!(left, Expr::Hole(_) | Expr::Const(_))
        && matches!(right, Expr::Hole(_) | Expr::Const(_));
    if !direct {
        message.push_str(&where_clause(
            &Expr::Compare {
                left: Box::new(left.clone()),
                ops: vec![op],
                rights: vec![right.clone()],
            },
            holes,
        ));
    }
    Ok(Some(message))
}

/// `, where f(1) = 2` for the first holes an expression reads.
fn where_clause(expr: &Expr, holes: &Holes<'_>) -> String {
    let mut used = Vec::new();
    expr.holes(&mut used);
    let mut parts = Vec::new();
    for k in used.into_iter().take(2) {
        if let (Some(src), Some(HoleResult::Value(v))) =
            (holes.sources.get(k), holes.results.get(k))
        {
            parts.push(format!("`{}` = {}", short(src), v.repr(REPR_LIMIT)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", where {}", parts.join(" and "))
    }
}

/// Evaluates an expression to a value.
#[allow(clippy::too_many_lines)] // one arm per node kind
pub(crate) fn eval(expr: &Expr, holes: &Holes<'_>) -> Result<Value, Halt> {
    match expr {
        Expr::Const(v) => Ok(v.clone()),
        Expr::Hole(k) => holes.get(*k),
        Expr::Raise(message) => {
            let (kind, text) = message.split_once(": ").unwrap_or((message.as_str(), ""));
            Err(Halt::Outcome(TestOutcome::Error {
                message: if text.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}: {text}")
                },
            }))
        }
        Expr::Compare { left, ops, rights } => {
            let mut current = eval(left, holes)?;
            for (op, right) in ops.iter().zip(rights) {
                let next = eval(right, holes)?;
                if !op.apply(&current, &next)? {
                    return Ok(Value::Bool(false));
                }
                current = next;
            }
            Ok(Value::Bool(true))
        }
        Expr::And(items) => {
            let mut last = Value::Bool(true);
            for item in items {
                last = eval(item, holes)?;
                if !last.truthy() {
                    break;
                }
            }
            Ok(last)
        }
        Expr::Or(items) => {
            let mut last = Value::Bool(false);
            for item in items {
                last = eval(item, holes)?;
                if last.truthy() {
                    break;
                }
            }
            Ok(last)
        }
        Expr::Unary(op, e) => unary(*op, &eval(e, holes)?).map_err(Halt::Py),
        Expr::Binary(op, a, b) => {
            let a = eval(a, holes)?;
            let b = eval(b, holes)?;
            binary(*op, &a, &b).map_err(Halt::Py)
        }
        Expr::IfExp(test, then, otherwise) => {
            if eval(test, holes)?.truthy() {
                eval(then, holes)
            } else {
                eval(otherwise, holes)
            }
        }
        Expr::Build(kind, items) => {
            let values = items
                .iter()
                .map(|e| eval(e, holes))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match kind {
                Build::List => Value::List(values),
                Build::Tuple => Value::Tuple(values),
                Build::Set => Value::Set(dedup_values(values)?),
            })
        }
        Expr::Index(v, i) => {
            let v = eval(v, holes)?;
            let i = eval(i, holes)?;
            index(&v, &i).map_err(Halt::Py)
        }
        Expr::Slice(v, parts) => {
            let v = eval(v, holes)?;
            let mut bounds: [Option<Value>; 3] = [None, None, None];
            for (slot, part) in bounds.iter_mut().zip(parts) {
                if let Some(e) = part {
                    *slot = Some(eval(e, holes)?);
                }
            }
            slice(&v, &bounds).map_err(Halt::Py)
        }
        Expr::IsInstance(v, types) => {
            let v = eval(v, holes)?;
            let name = v.type_name();
            Ok(Value::Bool(types.iter().any(|t| {
                t == name || (t == "int" && matches!(v, Value::Bool(_)))
            })))
        }
        Expr::Call(name, args, kw) => {
            let args = args
                .iter()
                .map(|e| eval(e, holes))
                .collect::<Result<Vec<_>, _>>()?;
            let kw = kw
                .iter()
                .map(|(k, e)| Ok((k.as_str(), eval(e, holes)?)))
                .collect::<Result<Vec<_>, Halt>>()?;
            call(name, &args, &kw).map_err(Halt::Py)
        }
    }
}

fn num_of(v: &Value, what: &str) -> Result<Num, PyErr> {
    v.num().ok_or_else(|| {
        PyErr::type_error(format!("bad operand type for {what}: '{}'", v.type_name()))
    })
}

fn int_of(v: &Value, what: &str) -> Result<BigInt, PyErr> {
    match v {
        Value::Bool(b) => Ok(BigInt::from(u8::from(*b))),
        Value::Int(i) => Ok(i.clone()),
        other => Err(PyErr::type_error(format!(
            "{what} must be an integer, not '{}'",
            other.type_name()
        ))),
    }
}

fn unary(op: UnOp, v: &Value) -> Result<Value, PyErr> {
    match op {
        UnOp::Not => Ok(Value::Bool(!v.truthy())),
        UnOp::Neg if matches!(v, Value::Complex(..)) => match v {
            Value::Complex(re, im) => Ok(Value::Complex(-re, -im)),
            _ => Err(PyErr::type_error("bad operand type for unary -")),
        },
        UnOp::Pos if matches!(v, Value::Complex(..)) => Ok(v.clone()),
        UnOp::Neg => Ok(match num_of(v, "unary -")? {
            Num::Int(i) => Value::Int(-i),
            Num::Float(f) => Value::Float(-f),
        }),
        UnOp::Pos => Ok(match num_of(v, "unary +")? {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
        }),
        UnOp::Invert => Ok(Value::Int(!int_of(v, "unary ~")?)),
    }
}

fn unsupported(op: &str, a: &Value, b: &Value) -> PyErr {
    PyErr::type_error(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

fn repeat(items: &[Value], n: &BigInt) -> Result<Vec<Value>, PyErr> {
    let n = n.to_usize().unwrap_or(0);
    if items.len().saturating_mul(n) > MAX_REPEAT {
        return Err(PyErr::new(
            "MemoryError",
            "the repeated sequence is too large to judge",
        ));
    }
    Ok(items
        .iter()
        .cycle()
        .take(items.len() * n)
        .cloned()
        .collect())
}

/// Python's arithmetic on two values.
pub(crate) fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value, PyErr> {
    let symbol = match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "** or pow()",
    };
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return arith(op, &x, &y);
    }
    if let (Some(x), Some(y)) = (complex_of(a), complex_of(b)) {
        if matches!(a, Value::Complex(..)) || matches!(b, Value::Complex(..)) {
            return complex_arith(op, x, y, a, b);
        }
    }
    match (op, a, b) {
        (BinOp::Add, Value::Str(x), Value::Str(y)) => Ok(Value::Str(format!("{x}{y}"))),
        (BinOp::Add, Value::Bytes(x), Value::Bytes(y)) => {
            Ok(Value::Bytes([x.as_slice(), y.as_slice()].concat()))
        }
        (BinOp::Add, Value::List(x), Value::List(y)) => {
            Ok(Value::List(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Add, Value::Tuple(x), Value::Tuple(y)) => {
            Ok(Value::Tuple(x.iter().chain(y).cloned().collect()))
        }
        (BinOp::Sub, Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            let drop: Vec<_> = y
                .iter()
                .filter_map(|v| super::value::hash_key(v).ok())
                .collect();
            let kept: Vec<Value> = x
                .iter()
                .filter(|v| super::value::hash_key(v).is_ok_and(|k| !drop.contains(&k)))
                .cloned()
                .collect();
            Ok(if matches!(a, Value::Set(_)) {
                Value::Set(kept)
            } else {
                Value::FrozenSet(kept)
            })
        }
        (BinOp::Mul, seq, count) | (BinOp::Mul, count, seq)
            if matches!(
                seq,
                Value::List(_) | Value::Tuple(_) | Value::Str(_) | Value::Bytes(_)
            ) && matches!(count, Value::Int(_) | Value::Bool(_)) =>
        {
            repeat_value(seq, &int_of(count, "can't multiply sequence by non-int")?)
        }
        _ => Err(unsupported(symbol, a, b)),
    }
}

/// `seq * n` for a list, tuple, str or bytes.
fn repeat_value(seq: &Value, n: &BigInt) -> Result<Value, PyErr> {
    let count = n.to_usize().unwrap_or(0);
    let too_big = |len: usize| {
        if len.saturating_mul(count) > MAX_REPEAT {
            Err(PyErr::new(
                "MemoryError",
                "the repeated sequence is too large to judge",
            ))
        } else {
            Ok(())
        }
    };
    match seq {
        Value::List(items) => Ok(Value::List(repeat(items, n)?)),
        Value::Tuple(items) => Ok(Value::Tuple(repeat(items, n)?)),
        Value::Str(s) => {
            too_big(s.len())?;
            Ok(Value::Str(s.repeat(count)))
        }
        Value::Bytes(b) => {
            too_big(b.len())?;
            Ok(Value::Bytes(b.repeat(count)))
        }
        other => Err(PyErr::type_error(format!(
            "can't multiply sequence of type '{}'",
            other.type_name()
        ))),
    }
}

fn complex_of(v: &Value) -> Option<(f64, f64)> {
    match v {
        Value::Complex(re, im) => Some((*re, *im)),
        other => other.num().and_then(|n| to_f64(&n).ok()).map(|f| (f, 0.0)),
    }
}

/// Complex arithmetic, as the textbook writes it (`a + bi` and `c + di`).
#[allow(clippy::many_single_char_names)]
fn complex_arith(
    op: BinOp,
    (a, b): (f64, f64),
    (c, d): (f64, f64),
    x: &Value,
    y: &Value,
) -> Result<Value, PyErr> {
    Ok(match op {
        BinOp::Add => Value::Complex(a + c, b + d),
        BinOp::Sub => Value::Complex(a - c, b - d),
        BinOp::Mul => Value::Complex(a * c - b * d, a * d + b * c),
        BinOp::Div => {
            let den = c * c + d * d;
            if den == 0.0 {
                return Err(zero_division("complex division by zero"));
            }
            Value::Complex((a * c + b * d) / den, (b * c - a * d) / den)
        }
        _ => {
            return Err(PyErr::type_error(format!(
                "the judge does not compute this operation on '{}' and '{}'",
                x.type_name(),
                y.type_name()
            )))
        }
    })
}

fn zero_division(what: &str) -> PyErr {
    PyErr::new("ZeroDivisionError", what.to_owned())
}

#[allow(clippy::many_single_char_names, clippy::float_cmp)] // Python's exact float rules
fn arith(op: BinOp, x: &Num, y: &Num) -> Result<Value, PyErr> {
    if let (Num::Int(a), Num::Int(b)) = (x, y) {
        return int_arith(op, a, b);
    }
    let a = to_f64(x)?;
    let b = to_f64(y)?;
    Ok(Value::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                return Err(zero_division("float division by zero"));
            }
            a / b
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if b == 0.0 {
                return Err(zero_division(if op == BinOp::Mod {
                    "float modulo"
                } else {
                    "float floor division by zero"
                }));
            }
            let (div, modulo) = float_divmod(a, b);
            if op == BinOp::Mod {
                modulo
            } else {
                div
            }
        }
        BinOp::Pow => {
            if a == 0.0 && b < 0.0 {
                return Err(zero_division("0.0 cannot be raised to a negative power"));
            }
            if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
                return Err(PyErr::value_error(
                    "a negative number raised to a fractional power is complex",
                ));
            }
            let r = a.powf(b);
            if r.is_infinite() && a.is_finite() && b.is_finite() {
                return Err(PyErr::new(
                    "OverflowError",
                    "(34, 'Numerical result out of range')",
                ));
            }
            r
        }
    }))
}

/// Python's `divmod` for floats (`float_divmod` in CPython).
fn float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut modulo = vx % wx;
    let mut div = (vx - modulo) / wx;
    if modulo == 0.0 {
        modulo = 0.0_f64.copysign(wx);
    } else if (wx < 0.0) != (modulo < 0.0) {
        modulo += wx;
        div -= 1.0;
    }
    let floordiv = if div == 0.0 {
        0.0_f64.copysign(vx / wx)
    } else {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    };
    (floordiv, modulo)
}

fn int_arith(op: BinOp, a: &BigInt, b: &BigInt) -> Result<Value, PyErr> {
    Ok(match op {
        BinOp::Add => Value::Int(a + b),
        BinOp::Sub => Value::Int(a - b),
        BinOp::Mul => {
            if a.bits() + b.bits() > 1 << 20 {
                return Err(PyErr::new(
                    "MemoryError",
                    "the product is too large to judge",
                ));
            }
            Value::Int(a * b)
        }
        BinOp::Div => {
            if b.is_zero() {
                return Err(zero_division("division by zero"));
            }
            match (a.to_f64(), b.to_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Value::Float(x / y),
                _ => {
                    return Err(PyErr::new(
                        "OverflowError",
                        "integer division result too large for a float",
                    ))
                }
            }
        }
        BinOp::FloorDiv => {
            if b.is_zero() {
                return Err(zero_division("integer division or modulo by zero"));
            }
            Value::Int(a.div_floor(b))
        }
        BinOp::Mod => {
            if b.is_zero() {
                return Err(zero_division("integer modulo by zero"));
            }
            Value::Int(a.mod_floor(b))
        }
        BinOp::Pow => {
            if b.is_negative() {
                let (x, y) = (to_f64(&Num::Int(a.clone()))?, to_f64(&Num::Int(b.clone()))?);
                if x == 0.0 {
                    return Err(zero_division("0.0 cannot be raised to a negative power"));
                }
                Value::Float(x.powf(y))
            } else {
                let e = b.to_u32().unwrap_or(u32::MAX);
                let small = a.magnitude() <= &num_bigint::BigUint::from(1u8);
                if !small && u64::from(e).saturating_mul(a.bits()) > 1 << 20 {
                    return Err(PyErr::new("MemoryError", "the power is too large to judge"));
                }
                Value::Int(num_traits::pow::Pow::pow(a, e))
            }
        }
    })
}

fn index_of(i: &Value, len: usize) -> Result<Option<usize>, PyErr> {
    let i = int_of(i, "indices")?;
    let len_big = BigInt::from(len);
    let i = if i.is_negative() { i + &len_big } else { i };
    if i.is_negative() || i >= len_big {
        return Ok(None);
    }
    Ok(i.to_usize())
}

fn index(v: &Value, i: &Value) -> Result<Value, PyErr> {
    let out_of_range = |what: &str| PyErr::new("IndexError", format!("{what} index out of range"));
    match v {
        Value::List(items) => index_of(i, items.len())?
            .map(|k| items[k].clone())
            .ok_or_else(|| out_of_range("list")),
        Value::Tuple(items) => index_of(i, items.len())?
            .map(|k| items[k].clone())
            .ok_or_else(|| out_of_range("tuple")),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            index_of(i, chars.len())?
                .map(|k| Value::Str(chars[k].to_string()))
                .ok_or_else(|| out_of_range("string"))
        }
        Value::Bytes(b) => index_of(i, b.len())?
            .map(|k| Value::int(i64::from(b[k])))
            .ok_or_else(|| out_of_range("index")),
        Value::Dict(pairs) => {
            let key = super::value::hash_key(i)?;
            pairs
                .iter()
                .find(|(k, _)| super::value::hash_key(k).is_ok_and(|kk| kk == key))
                .map(|(_, x)| x.clone())
                .ok_or_else(|| PyErr::new("KeyError", i.repr(REPR_LIMIT)))
        }
        other => Err(PyErr::type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

/// Python's slice index adjustment (`PySlice_AdjustIndices`).
fn slice_indices(bounds: &[Option<Value>; 3], len: usize) -> Result<Vec<usize>, PyErr> {
    let get = |v: &Option<Value>| -> Result<Option<BigInt>, PyErr> {
        match v {
            None | Some(Value::None) => Ok(None),
            Some(x) => int_of(x, "slice indices").map(Some),
        }
    };
    let step = get(&bounds[2])?.unwrap_or_else(|| BigInt::from(1));
    if step.is_zero() {
        return Err(PyErr::value_error("slice step cannot be zero"));
    }
    let len_i = BigInt::from(len);
    let neg = step.is_negative();
    let clamp = |x: Option<BigInt>, default: BigInt| -> BigInt {
        match x {
            None => default,
            Some(mut v) => {
                if v.is_negative() {
                    v += &len_i;
                    if v.is_negative() {
                        v = if neg {
                            BigInt::from(-1)
                        } else {
                            BigInt::zero()
                        };
                    }
                } else if v >= len_i {
                    v = if neg { &len_i - 1 } else { len_i.clone() };
                }
                v
            }
        }
    };
    let start = clamp(
        get(&bounds[0])?,
        if neg { &len_i - 1 } else { BigInt::zero() },
    );
    let end = clamp(
        get(&bounds[1])?,
        if neg { BigInt::from(-1) } else { len_i.clone() },
    );
    let mut out = Vec::new();
    let mut k = start;
    while (neg && k > end) || (!neg && k < end) {
        if let Some(u) = k.to_usize() {
            out.push(u);
        }
        k += &step;
    }
    Ok(out)
}

fn slice(v: &Value, bounds: &[Option<Value>; 3]) -> Result<Value, PyErr> {
    match v {
        Value::List(items) => Ok(Value::List(
            slice_indices(bounds, items.len())?
                .into_iter()
                .map(|k| items[k].clone())
                .collect(),
        )),
        Value::Tuple(items) => Ok(Value::Tuple(
            slice_indices(bounds, items.len())?
                .into_iter()
                .map(|k| items[k].clone())
                .collect(),
        )),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::Str(
                slice_indices(bounds, chars.len())?
                    .into_iter()
                    .map(|k| chars[k])
                    .collect(),
            ))
        }
        Value::Bytes(b) => Ok(Value::Bytes(
            slice_indices(bounds, b.len())?
                .into_iter()
                .map(|k| b[k])
                .collect(),
        )),
        other => Err(PyErr::type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, PyErr> {
    compare(CmpOp::Lt, a, b)
}

/// A stable merge sort with a comparison that may fail (Python's `sorted`).
fn sort_values(items: Vec<Value>) -> Result<Vec<Value>, PyErr> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut items = items;
    let right = items.split_off(items.len() / 2);
    let left = sort_values(items)?;
    let right = sort_values(right)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if lt(b, a)? {
                    out.extend(r.next());
                } else {
                    out.extend(l.next());
                }
            }
            (Some(_), None) => {
                out.extend(l);
                break;
            }
            (None, _) => {
                out.extend(r);
                break;
            }
        }
    }
    Ok(out)
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), PyErr> {
    if args.len() < min || args.len() > max {
        return Err(PyErr::type_error(format!(
            "{name}() takes from {min} to {max} arguments ({} given)",
            args.len()
        )));
    }
    Ok(())
}

fn kwarg<'a>(kw: &'a [(&str, Value)], name: &str) -> Option<&'a Value> {
    kw.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn no_kwargs(name: &str, kw: &[(&str, Value)], allowed: &[&str]) -> Result<(), PyErr> {
    match kw.iter().find(|(k, _)| !allowed.contains(k)) {
        Some((k, _)) => Err(PyErr::type_error(format!(
            "'{k}' is an invalid keyword argument for {name}()"
        ))),
        None => Ok(()),
    }
}

fn float_of(v: &Value, name: &str) -> Result<f64, PyErr> {
    match v.num() {
        Some(n) => to_f64(&n),
        None => Err(PyErr::type_error(format!(
            "{name}: must be real number, not {}",
            v.type_name()
        ))),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let negative = lower.starts_with('-');
    let special = match body {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(f) = special {
        return Some(if negative { -f } else { f });
    }
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

fn parse_int(s: &str) -> Option<BigInt> {
    let t = s.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    let v: BigInt = cleaned.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// EvalPlus's output check: `==`, else `np.allclose(out, exp, rtol=1e-07, atol=atol)`
/// when `atol` is set or `exp` is a float or a sequence of floats (with atol at least
/// 1e-6 then).
fn evalplus_match(out: &Value, exp: &Value, atol: &Value) -> Result<bool, PyErr> {
    if py_eq(out, exp) {
        return Ok(true);
    }
    let mut atol = float_of(atol, "__next_evalplus__")?;
    let is_floats = match exp {
        Value::Float(_) => true,
        Value::List(items) | Value::Tuple(items) => {
            items.iter().all(|x| matches!(x, Value::Float(_)))
        }
        _ => false,
    };
    if atol == 0.0 && is_floats {
        atol = 1e-6;
    }
    if atol == 0.0 {
        return Ok(false);
    }
    Ok(allclose(out, exp, atol, 0))
}

#[allow(clippy::float_cmp)] // numpy's exact test for infinities
fn allclose(out: &Value, exp: &Value, atol: f64, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let seq = |v: &Value| match v {
        Value::List(items) | Value::Tuple(items) => Some(items.clone()),
        _ => None,
    };
    match (seq(out), seq(exp)) {
        (Some(a), Some(b)) => {
            if a.len() == b.len() {
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| allclose(x, y, atol, depth + 1))
            } else if a.len() == 1 {
                b.iter().all(|y| allclose(&a[0], y, atol, depth + 1))
            } else if b.len() == 1 {
                a.iter().all(|x| allclose(x, &b[0], atol, depth + 1))
            } else {
                false
            }
        }
        (Some(a), None) => a.iter().all(|x| allclose(x, exp, atol, depth + 1)),
        (None, Some(b)) => b.iter().all(|y| allclose(out, y, atol, depth + 1)),
        (None, None) => match (out.num(), exp.num()) {
            (Some(x), Some(y)) => match (to_f64(&x), to_f64(&y)) {
                (Ok(a), Ok(b)) => {
                    if a.is_infinite() || b.is_infinite() {
                        a == b
                    } else {
                        (a - b).abs() <= atol + 1e-07 * b.abs()
                    }
                }
                _ => false,
            },
            _ => false,
        },
    }
}

/// The builtins the judge evaluates.
#[allow(clippy::too_many_lines, clippy::float_cmp)] // one arm per builtin; exact as Python
fn call(name: &str, args: &[Value], kw: &[(&str, Value)]) -> Result<Value, PyErr> {
    match name {
        "abs" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            if let Value::Complex(re, im) = &args[0] {
                return Ok(Value::Float(re.hypot(*im)));
            }
            Ok(match num_of(&args[0], "abs()")? {
                Num::Int(i) => Value::Int(i.abs()),
                Num::Float(f) => Value::Float(f.abs()),
            })
        }
        "len" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            let n = match &args[0] {
                Value::Str(s) => s.chars().count(),
                Value::Bytes(b) => b.len(),
                Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => v.len(),
                Value::Dict(d) => d.len(),
                other => {
                    return Err(PyErr::type_error(format!(
                        "object of type '{}' has no len()",
                        other.type_name()
                    )))
                }
            };
            Ok(Value::Int(BigInt::from(n)))
        }
        "set" | "frozenset" | "list" | "tuple" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            let items = match args.first() {
                Some(v) => v.iterate()?,
                None => Vec::new(),
            };
            Ok(match name {
                "set" => Value::Set(dedup_values(items)?),
                "frozenset" => Value::FrozenSet(dedup_values(items)?),
                "list" => Value::List(items),
                _ => Value::Tuple(items),
            })
        }
        "sorted" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &["reverse"])?;
            let reverse = kwarg(kw, "reverse").is_some_and(Value::truthy);
            let mut items = args[0].iterate()?;
            if reverse {
                items.reverse();
            }
            let mut sorted = sort_values(items)?;
            if reverse {
                sorted.reverse();
            }
            Ok(Value::List(sorted))
        }
        "min" | "max" => {
            no_kwargs(name, kw, &["default"])?;
            let items = match args {
                [] => {
                    return Err(PyErr::type_error(format!(
                        "{name} expected at least 1 argument, got 0"
                    )))
                }
                [one] => one.iterate()?,
                many => many.to_vec(),
            };
            let mut best: Option<Value> = None;
            for item in items {
                best = Some(match best {
                    None => item,
                    Some(b) => {
                        let better = if name == "min" {
                            lt(&item, &b)?
                        } else {
                            lt(&b, &item)?
                        };
                        if better {
                            item
                        } else {
                            b
                        }
                    }
                });
            }
            match (best, kwarg(kw, "default")) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(PyErr::value_error(format!(
                    "{name}() arg is an empty sequence"
                ))),
            }
        }
        "sum" => {
            arity(name, args, 1, 2)?;
            no_kwargs(name, kw, &["start"])?;
            let mut total = args
                .get(1)
                .or_else(|| kwarg(kw, "start"))
                .cloned()
                .unwrap_or_else(|| Value::int(0));
            if matches!(total, Value::Str(_)) {
                return Err(PyErr::type_error(
                    "sum() can't sum strings [use ''.join(seq) instead]",
                ));
            }
            for item in args[0].iterate()? {
                total = binary(BinOp::Add, &total, &item)?;
            }
            Ok(total)
        }
        "all" | "any" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            let items = args[0].iterate()?;
            Ok(Value::Bool(if name == "all" {
                items.iter().all(Value::truthy)
            } else {
                items.iter().any(Value::truthy)
            }))
        }
        "bool" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            Ok(Value::Bool(args.first().is_some_and(Value::truthy)))
        }
        "float" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            match args.first() {
                None => Ok(Value::Float(0.0)),
                Some(Value::Str(s)) => parse_float(s).map(Value::Float).ok_or_else(|| {
                    PyErr::value_error(format!(
                        "could not convert string to float: {}",
                        Value::Str(s.clone()).repr(REPR_LIMIT)
                    ))
                }),
                Some(v) => Ok(Value::Float(float_of(v, "float()")?)),
            }
        }
        "int" => {
            arity(name, args, 0, 1)?;
            no_kwargs(name, kw, &[])?;
            match args.first() {
                None => Ok(Value::int(0)),
                Some(Value::Str(s)) => parse_int(s).map(Value::Int).ok_or_else(|| {
                    PyErr::value_error(format!(
                        "invalid literal for int() with base 10: {}",
                        Value::Str(s.clone()).repr(REPR_LIMIT)
                    ))
                }),
                Some(Value::Float(f)) => {
                    if f.is_nan() {
                        Err(PyErr::value_error("cannot convert float NaN to integer"))
                    } else if f.is_infinite() {
                        Err(PyErr::new(
                            "OverflowError",
                            "cannot convert float infinity to integer",
                        ))
                    } else {
                        Ok(Value::Int(BigInt::from_f64(f.trunc()).unwrap_or_default()))
                    }
                }
                Some(v) => Ok(Value::Int(int_of(v, "int() argument")?)),
            }
        }
        "math.isclose" => {
            arity(name, args, 2, 2)?;
            no_kwargs("isclose", kw, &["rel_tol", "abs_tol"])?;
            let a = float_of(&args[0], "isclose")?;
            let b = float_of(&args[1], "isclose")?;
            let rel = kwarg(kw, "rel_tol").map_or(Ok(1e-9), |v| float_of(v, "isclose"))?;
            let abs_tol = kwarg(kw, "abs_tol").map_or(Ok(0.0), |v| float_of(v, "isclose"))?;
            if rel < 0.0 || abs_tol < 0.0 {
                return Err(PyErr::value_error("tolerances must be non-negative"));
            }
            if a == b {
                return Ok(Value::Bool(true));
            }
            if a.is_infinite() || b.is_infinite() {
                return Ok(Value::Bool(false));
            }
            let diff = (b - a).abs();
            Ok(Value::Bool(
                diff <= (rel * b).abs() || diff <= (rel * a).abs() || diff <= abs_tol,
            ))
        }
        "math.fabs" | "math.sqrt" | "math.floor" | "math.ceil" | "math.isnan" | "math.isinf"
        | "math.isfinite" => {
            arity(name, args, 1, 1)?;
            no_kwargs(name, kw, &[])?;
            if let (Some(Num::Int(i)), "math.floor" | "math.ceil") = (args[0].num(), name) {
                return Ok(Value::Int(i));
            }
            let x = float_of(&args[0], name)?;
            Ok(match name {
                "math.fabs" => Value::Float(x.abs()),
                "math.sqrt" => {
                    if x < 0.0 {
                        return Err(PyErr::value_error("math domain error"));
                    }
                    Value::Float(x.sqrt())
                }
                "math.floor" | "math.ceil" => {
                    if x.is_nan() {
                        return Err(PyErr::value_error("cannot convert float NaN to integer"));
                    }
                    if x.is_infinite() {
                        return Err(PyErr::new(
                            "OverflowError",
                            "cannot convert float infinity to integer",
                        ));
                    }
                    let r = if name == "math.floor" {
                        x.floor()
                    } else {
                        x.ceil()
                    };
                    Value::Int(BigInt::from_f64(r).unwrap_or_default())
                }
                "math.isnan" => Value::Bool(x.is_nan()),
                "math.isinf" => Value::Bool(x.is_infinite()),
                _ => Value::Bool(x.is_finite()),
            })
        }
        "__next_evalplus__" => {
            arity(name, args, 3, 3)?;
            no_kwargs(name, kw, &[])?;
            Ok(Value::Bool(evalplus_match(&args[0], &args[1], &args[2])?))
        }
        other => Err(PyErr::new(
            "NameError",
            format!("the judge has no function {other}"),
        )),
    }
}

/// Orders two values for tests of this module.
#[cfg(test)]
fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if py_eq(a, b) {
        Some(Ordering::Equal)
    } else if lt(a, b).ok()? {
        Some(Ordering::Less)
    } else {
        Some(Ordering::Greater)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> Expr {
        Expr::from_json(&serde_json::from_str(text).unwrap()).unwrap()
    }

    fn run(text: &str, values: &[HoleResult]) -> TestOutcome {
        let sources: Vec<String> = (0..values.len()).map(|k| format!("f({k})")).collect();
        let check = Check {
            expr: expr(text),
            msg: None,
        };
        judge(
            &[check],
            &Holes {
                sources: &sources,
                results: values,
            },
        )
    }

    fn v(text: &str) -> HoleResult {
        HoleResult::Value(Value::from_wire(&serde_json::from_str(text).unwrap()).unwrap())
    }

    #[test]
    fn equality_passes_and_fails_with_both_values() {
        let eq = r#"{"cmp":{"h":0},"ops":["=="],"r":[{"c":8}]}"#;
        assert_eq!(run(eq, &[v("8.0")]), TestOutcome::Pass);
        assert_eq!(
            run(eq, &[v("7")]),
            TestOutcome::Fail {
                message: "expected 8, got 7".into()
            }
        );
    }

    #[test]
    fn tolerance_forms_are_judged_here() {
        let near = r#"{"cmp":{"call":"abs","args":[{"bin":"-","l":{"h":0},"r":{"c":0.33}}],"kw":{}},"ops":["<"],"r":[{"c":1e-6}]}"#;
        assert_eq!(run(near, &[v("0.33000000000000007")]), TestOutcome::Pass);
        assert!(matches!(run(near, &[v("0.34")]), TestOutcome::Fail { .. }));
        let close = r#"{"call":"math.isclose","args":[{"h":0},{"c":314.159}],"kw":{"rel_tol":{"c":0.001}}}"#;
        assert_eq!(run(close, &[v("314.1")]), TestOutcome::Pass);
        assert!(matches!(run(close, &[v("310")]), TestOutcome::Fail { .. }));
        let sets = r#"{"cmp":{"call":"set","args":[{"h":0}],"kw":{}},"ops":["=="],"r":[{"c":{"set":[4,5]}}]}"#;
        assert_eq!(run(sets, &[v(r#"{"tuple":[5,4,4]}"#)]), TestOutcome::Pass);
    }

    #[test]
    fn holes_that_raised_or_gave_objects_are_errors() {
        let eq = r#"{"cmp":{"h":0},"ops":["=="],"r":[{"c":1}]}"#;
        let raised = HoleResult::Raised {
            message: "TypeError: bad".into(),
            kind: "TypeError".into(),
        };
        assert_eq!(
            run(eq, &[raised]),
            TestOutcome::Error {
                message: "TypeError: bad".into()
            }
        );
        let outcome = run(eq, &[HoleResult::NonData("AlwaysEqual".into())]);
        assert!(
            outcome
                .message()
                .contains("non-data value of type AlwaysEqual"),
            "{outcome:?}"
        );
        let memory = HoleResult::Raised {
            message: "MemoryError".into(),
            kind: "MemoryError".into(),
        };
        assert!(matches!(
            run(eq, &[memory]),
            TestOutcome::ResourceLimit { .. }
        ));
    }

    #[test]
    fn short_circuits_do_not_read_unneeded_holes() {
        let either = r#"{"or":[{"h":0},{"h":1}]}"#;
        let raised = HoleResult::Raised {
            message: "ValueError: x".into(),
            kind: "ValueError".into(),
        };
        assert_eq!(run(either, &[v("true"), raised]), TestOutcome::Pass);
    }

    #[test]
    fn builtins_follow_python() {
        let call = |name: &str, args: Vec<Value>| super::call(name, &args, &[]);
        assert!(py_eq(
            &call(
                "sorted",
                vec![Value::List(vec![
                    Value::int(3),
                    Value::Float(1.5),
                    Value::int(2)
                ])]
            )
            .unwrap(),
            &Value::List(vec![Value::Float(1.5), Value::int(2), Value::int(3)])
        ));
        assert!(call(
            "sorted",
            vec![Value::List(vec![Value::int(1), Value::Str("a".into())])]
        )
        .is_err());
        assert!(py_eq(
            &call("int", vec![Value::Str(" -1_000 ".into())]).unwrap(),
            &Value::int(-1000)
        ));
        assert!(call("int", vec![Value::Str("1.5".into())]).is_err());
        assert!(py_eq(
            &binary(BinOp::FloorDiv, &Value::int(-7), &Value::int(2)).unwrap(),
            &Value::int(-4)
        ));
        assert!(py_eq(
            &binary(BinOp::Mod, &Value::Float(-7.0), &Value::int(2)).unwrap(),
            &Value::Float(1.0)
        ));
        assert!(py_eq(
            &binary(BinOp::Pow, &Value::int(2), &Value::int(100)).unwrap(),
            &Value::Int(BigInt::from(2).pow(100u32))
        ));
        assert!(binary(BinOp::Div, &Value::int(1), &Value::int(0)).is_err());
        let slice = super::slice(
            &Value::Str("hello".into()),
            &[None, None, Some(Value::int(-2))],
        )
        .unwrap();
        assert!(py_eq(&slice, &Value::Str("olh".into())));
        assert_eq!(
            order(&Value::int(1), &Value::Float(1.0)),
            Some(std::cmp::Ordering::Equal)
        );
    }

    #[test]
    fn evalplus_tolerance_matches_its_oracle() {
        let m = |out: &str, exp: &str, atol: f64| {
            let w = |t: &str| Value::from_wire(&serde_json::from_str(t).unwrap()).unwrap();
            evalplus_match(&w(out), &w(exp), &Value::Float(atol)).unwrap()
        };
        assert!(m("0.5000001", "0.5", 0.0));
        assert!(!m("0.501", "0.5", 0.0));
        assert!(m("[1.0, 2.0000001]", "[1.0, 2.0]", 0.0));
        assert!(!m("[1, 2]", "[1, 3]", 0.0));
        assert!(m("2.00009", "2.0", 1e-4));
        assert!(!m("\"a\"", "\"b\"", 1e-4));
    }
}
