//! Reading a judgement from the planner's JSON, node by node, to a bounded depth.

use super::expr::{BinOp, Build, CompareOp, Expr, UnOp};
use crate::verify::value::{CmpOp, Value};

/// Deepest judgement tree read from a plan.
const MAX_EXPR_DEPTH: usize = 200;

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
}

impl Expr {
    /// Reads a judgement from the planner's JSON.
    pub(crate) fn from_json(json: &serde_json::Value) -> Result<Self, String> {
        parse(json, 0)
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
    if json.get("py").is_some() {
        let holes = field("holes")?
            .as_array()
            .ok_or("`holes` is not a list")?
            .iter()
            .map(|h| {
                h.as_u64()
                    .and_then(|k| usize::try_from(k).ok())
                    .ok_or_else(|| "a hole index that is not a number".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Expr::Py(holes));
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
