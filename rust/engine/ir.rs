//! The plan as the compiler emits it (serde): axes, tables, operations, outputs.

use super::*;

#[derive(Deserialize, Debug, Clone)]
pub struct PlanSpec {
    pub registers: usize,
    #[serde(default, deserialize_with = "nan_pairs")]
    pub consts: Vec<(usize, f64)>,
    pub axes: Vec<AxisSpec>,
    #[serde(default)]
    pub tables: Vec<TableSpec>,
    pub ops: Vec<OpSpec>,
    #[serde(default)]
    pub filters: Vec<usize>,
    pub outputs: Vec<OutputSpec>,
    #[serde(default)]
    pub messages: Vec<String>,
    /// Registers a reduction ranks or groups by: computed first, so the reduction can rule a
    /// block's points out before the filters' inputs and the other outputs are computed.
    #[serde(default)]
    pub ranked: Vec<usize>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct AxisSpec {
    pub len: usize,
    #[serde(default)]
    pub columns: Vec<AxisColumn>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct AxisColumn {
    pub reg: usize,
    #[serde(default, deserialize_with = "nan_vec")]
    pub values: Vec<f64>,
    /// Generated values (linspace, geomspace, logspace, range) instead of a list.
    #[serde(default)]
    pub gen: Option<Generator>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Generator {
    pub kind: String,
    pub start: f64,
    pub stop: f64,
    pub step: f64,
    pub num: usize,
}

impl Generator {
    /// The values, by the formulas of the spec format (numpy's; spec.py's Axis.value_at computes
    /// the same, bit for bit): range start + i·step (stop excluded); linspace a + (b−a)·i/(n−1),
    /// geomspace 10^(lg a + (lg b − lg a)·i/(n−1)) with both written ends exact, logspace
    /// 10^(a + (b−a)·i/(n−1)) (a and b are base-10 exponents).
    pub(crate) fn values(&self) -> Result<Vec<f64>, String> {
        let n = self.num;
        let frac = |lo: f64, hi: f64, i: usize| lo + (hi - lo) * i as f64 / (n - 1) as f64;
        let at = |i: usize| -> f64 {
            match self.kind.as_str() {
                "range" => self.start + i as f64 * self.step,
                "logspace" if n == 1 => 10f64.powf(self.start),
                "logspace" => 10f64.powf(frac(self.start, self.stop, i)),
                _ if i == 0 || n == 1 => self.start,
                _ if i == n - 1 => self.stop,
                "linspace" => frac(self.start, self.stop, i),
                _ => 10f64.powf(frac(self.start.log10(), self.stop.log10(), i)),
            }
        };
        match self.kind.as_str() {
            "range" | "linspace" | "geomspace" | "logspace" => {
                // Held in memory: a plan too large for it is an error, not an abort.
                let mut v = Vec::new();
                v.try_reserve_exact(n).map_err(|_| format!("an axis of {n} values does not fit in memory"))?;
                v.extend((0..n).map(at));
                Ok(v)
            }
            other => Err(format!("unknown axis generator {other:?}")),
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct TableSpec {
    pub cols: usize,
    #[serde(deserialize_with = "nan_vec")]
    pub values: Vec<f64>,
}

// JSON has no NaN: the plan writes null for "no value", read here as NaN.
pub(crate) fn nan_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

pub(crate) fn nan_pairs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(usize, f64)>, D::Error> {
    let v: Vec<(usize, Option<f64>)> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|(r, x)| (r, x.unwrap_or(f64::NAN))).collect())
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Min,
    Max,
    /// a where it has a value, else b (a default for a missing value; the compiler's, never a
    /// user's expression).
    Coalesce,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnOp {
    Neg,
    Not,
    Log,
    Exp,
    Sqrt,
    Ceil,
    Floor,
}


#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum OpSpec {
    /// o = a OP b. With `msg` (naming the user's expression) the op is *checked*: a non-finite
    /// result from operands that have values is an error at that point (see `checked`).
    Bin { op: BinOp, a: usize, b: usize, o: usize, #[serde(default)] msg: Option<usize> },
    /// o = OP a, checked like `Bin` when `msg` is set.
    Un { op: UnOp, a: usize, o: usize, #[serde(default)] msg: Option<usize> },
    /// o = table[t][a][b] (a and b hold row and column indices).
    Lut { t: usize, a: usize, b: usize, o: usize },
    /// A cost-model stage; the layout search may carry the values it is allowed per degree.
    Model { stage: Stage, i: Vec<usize>, o: Vec<usize>, #[serde(default)] space: Option<Box<SearchSpace>> },
    /// o = a, and an error at a point where a < lo (a value with no meaning below it, such as a
    /// compute-optimal split under one parameter): `messages[msg]` says why.
    Check { a: usize, o: usize, lo: f64, msg: usize },
}

impl OpSpec {
    pub(crate) fn inputs(&self) -> Vec<usize> {
        match self {
            OpSpec::Bin { a, b, .. } | OpSpec::Lut { a, b, .. } => vec![*a, *b],
            OpSpec::Un { a, .. } | OpSpec::Check { a, .. } => vec![*a],
            OpSpec::Model { i, .. } => i.clone(),
        }
    }
    pub(crate) fn outputs(&self) -> Vec<usize> {
        match self {
            OpSpec::Bin { o, .. } | OpSpec::Un { o, .. } | OpSpec::Lut { o, .. } | OpSpec::Check { o, .. } => vec![*o],
            OpSpec::Model { o, .. } => o.clone(),
        }
    }
}

/// The values the layout search may choose per degree (a spec's lists under `layout: auto`);
/// recompute as category indices (`RECOMPUTES`), ZeRO as stages. A degree left out: its defaults.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSpace {
    pub tensor: Option<Vec<f64>>,
    pub pipeline: Option<Vec<f64>>,
    pub context: Option<Vec<f64>>,
    pub expert: Option<Vec<f64>>,
    pub micro_batch: Option<Vec<f64>>,
    pub interleave: Option<Vec<f64>>,
    pub recompute: Option<Vec<f64>>,
    pub zero: Option<Vec<f64>>,
    /// The lists as the search takes them, decoded once when the plan loads (`Program::new`).
    #[serde(skip)]
    pub decoded: crate::model::search::Space,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutKind {
    F64,
    /// Whole numbers (GPU counts, parallel degrees), written as i64; a missing value as i64::MIN.
    I64,
    I32,
    Bool,
}

#[derive(Deserialize, Debug, Clone)]
pub struct OutputSpec {
    pub reg: usize,
    pub kind: OutKind,
}

/// An error at one point of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct PointError {
    pub index: u64,
    pub message: String,
}

impl PointError {
    /// The index of a run stopped from outside (`Program::run_until`), not a point's error.
    pub const STOPPED: u64 = u64::MAX;
}

