//! The judgement tree: its nodes and operators, what a comparison operator does, and the
//! holes a tree reads.

use crate::verify::value::{compare, contains, CmpOp, PyErr, Value};

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
    pub(super) fn symbol(self) -> &'static str {
        match self {
            CompareOp::Rich(op) => op.symbol(),
            CompareOp::In => "in",
            CompareOp::NotIn => "not in",
            CompareOp::Is => "is",
            CompareOp::IsNot => "is not",
        }
    }

    pub(super) fn apply(self, a: &Value, b: &Value) -> Result<bool, PyErr> {
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
    /// A check the trusted judge job evaluates in CPython (a method of a returned value,
    /// a standard-library call, an operator this judge lacks), with the holes it reads.
    Py(Vec<usize>),
}

impl Expr {
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
            Expr::Py(holes) => {
                for k in holes {
                    if !out.contains(k) {
                        out.push(*k);
                    }
                }
            }
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
