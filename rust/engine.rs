//! The sweep engine: evaluates a compiled plan over any range of a Cartesian product of axes.
//!
//! A plan (built by `costspec.plan` in Python, handed over as JSON) is a register machine: every
//! input, lookup, expression node and cost-model stage writes registers. Each register has a
//! *level*: the index of the innermost axis it depends on. The product is walked as nested loops,
//! and an operation runs at the loop level of its inputs, so FLOPs that depend on the model and the
//! token count are computed once per (model, tokens), not once per GPU count. The innermost axes
//! (whose product fits a block) are evaluated as vectors over the block; `where` filters at outer
//! levels skip whole blocks, and the outputs of a block are computed only for the points a filter
//! keeps. Point `i` decodes by mixed radix (the first axis varies slowest), so any index range
//! evaluates on its own and in a fixed order.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::estimate::{money, point_flops, positive, utilisation, wall_clock_days, whole_at_least_one};
use crate::memory::{per_gpu, states, States};
use crate::types::{
    Architecture, Convention, Mode, Optimizer, Point, Precision, Recompute, Shown, Trainable, Utilisation,
};

/// Most points evaluated together as vectors.
pub const BLOCK: usize = 4096;
/// Inner axes are added until a block has at least this many points: longer blocks amortise the
/// outer work, shorter ones keep more of the work at outer (hoisted) levels.
pub const MIN_BLOCK: usize = 64;

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
    /// Generated values (linspace, logspace, range) instead of a list.
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
    /// The values, by the formulas of the spec format: range start + i·step (stop excluded);
    /// linspace and logspace include both ends, logspace geometric.
    fn values(&self) -> Result<Vec<f64>, String> {
        let n = self.num;
        let at = |i: usize| -> f64 {
            match self.kind.as_str() {
                "range" => self.start + i as f64 * self.step,
                _ if n == 1 => self.start,
                "linspace" => self.start + (self.stop - self.start) * i as f64 / (n - 1) as f64,
                _ => {
                    let (lo, hi) = (self.start.ln(), self.stop.ln());
                    (lo + (hi - lo) * i as f64 / (n - 1) as f64).exp()
                }
            }
        };
        match self.kind.as_str() {
            "range" | "linspace" | "logspace" => {
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
fn nan_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

fn nan_pairs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(usize, f64)>, D::Error> {
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

/// Cost-model stages; their register layouts are the `*_IN` / `*_OUT` constants below.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Flops,
    Time,
    Wall,
    Money,
    MemStates,
    MemGpu,
}

pub const FLOPS_IN: &[&str] = &[
    "params", "active_params", "tokens", "layers", "d_model", "heads", "kv_heads", "head_dim", "ffn_dim", "vocab",
    "seq_len", "experts", "experts_per_token", "gated_mlp", "convention", "mode", "recompute", "lora_rank",
    "lora_fraction",
];
pub const FLOPS_OUT: &[&str] = &["trainable_params", "model_flops_per_token", "model_flops", "hardware_flops"];
pub const TIME_IN: &[&str] = &["model_flops", "hardware_flops", "peak_tflops", "util_kind", "util_value", "gpus"];
pub const TIME_OUT: &[&str] = &["mfu", "hfu", "gpu_hours"];
pub const WALL_IN: &[&str] = &["gpu_hours", "gpus"];
pub const WALL_OUT: &[&str] = &["wall_clock_days"];
pub const MONEY_IN: &[&str] = &["gpu_hours", "usd_per_gpu_hour", "watts", "pue", "grid_kg_co2e_per_kwh"];
pub const MONEY_OUT: &[&str] = &["cost_usd", "energy_kwh", "co2e_kg"];
pub const MEM_STATES_IN: &[&str] = &[
    "params", "trainable_params", "layers", "d_model", "heads", "seq_len", "precision", "optimizer", "zero",
    "tensor_parallel", "pipeline_parallel", "micro_batch", "recompute", "mode", "gpu_memory_gb",
];
pub const MEM_STATES_OUT: &[&str] =
    &["state_weights", "state_grads", "state_optim", "state_activations", "state_shardable", "state_fixed", "min_gpus"];
pub const MEM_GPU_IN: &[&str] = &[
    "state_weights", "state_grads", "state_optim", "state_activations", "state_shardable", "state_fixed", "zero",
    "gpus", "tensor_parallel", "pipeline_parallel", "gpu_memory_gb", "min_gpus",
];
pub const MEM_GPU_OUT: &[&str] =
    &["weights_gb", "gradients_gb", "optimizer_gb", "activations_gb", "memory_gb_per_gpu", "data_parallel", "fits"];

impl Stage {
    pub fn layout(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Stage::Flops => (FLOPS_IN, FLOPS_OUT),
            Stage::Time => (TIME_IN, TIME_OUT),
            Stage::Wall => (WALL_IN, WALL_OUT),
            Stage::Money => (MONEY_IN, MONEY_OUT),
            Stage::MemStates => (MEM_STATES_IN, MEM_STATES_OUT),
            Stage::MemGpu => (MEM_GPU_IN, MEM_GPU_OUT),
        }
    }
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
    /// A cost-model stage.
    Model { stage: Stage, i: Vec<usize>, o: Vec<usize> },
    /// o = a, and an error at a point where a < lo (a value with no meaning below it, such as a
    /// compute-optimal split under one parameter): `messages[msg]` says why.
    Check { a: usize, o: usize, lo: f64, msg: usize },
}

impl OpSpec {
    fn inputs(&self) -> Vec<usize> {
        match self {
            OpSpec::Bin { a, b, .. } | OpSpec::Lut { a, b, .. } => vec![*a, *b],
            OpSpec::Un { a, .. } | OpSpec::Check { a, .. } => vec![*a],
            OpSpec::Model { i, .. } => i.clone(),
        }
    }
    fn outputs(&self) -> Vec<usize> {
        match self {
            OpSpec::Bin { o, .. } | OpSpec::Un { o, .. } | OpSpec::Lut { o, .. } | OpSpec::Check { o, .. } => vec![*o],
            OpSpec::Model { o, .. } => o.clone(),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutKind {
    F64,
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

// ------------------------------------------------------------------------------------------------
// Stages: thin adapters from registers (NaN = absent) to the cost model in `estimate` and `memory`.

fn opt(x: f64) -> Option<f64> {
    if x.is_nan() {
        None
    } else {
        Some(x)
    }
}

fn pick<T: Copy>(names: &[T], x: f64, what: &str) -> Result<T, String> {
    if x >= 0.0 && (x as usize) < names.len() && x.fract() == 0.0 {
        Ok(names[x as usize])
    } else {
        Err(format!("{what}: bad category index {x}"))
    }
}

const CONVENTIONS: [Convention; 3] = [Convention::SixND, Convention::Palm, Convention::Megatron];
const MODES: [Mode; 3] = [Mode::Pretrain, Mode::Finetune, Mode::Lora];
const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];
const PRECISIONS: [Precision; 6] =
    [Precision::Fp32, Precision::Tf32, Precision::Bf16, Precision::Fp16, Precision::Fp8, Precision::Fp4];
const OPTIMIZERS: [Optimizer; 3] = [Optimizer::Adam, Optimizer::Adam8bit, Optimizer::Sgd];

/// Model states of a memory stage from its inputs (the `MEM_GPU_IN` layout).
#[inline(always)]
fn mem_states(v: impl Fn(usize) -> f64) -> States {
    States {
        weights: v(0),
        grads: v(1),
        optim: v(2),
        activations: opt(v(3)),
        shardable: v(4),
        fixed: v(5),
        min_gpus: opt(v(11)),
    }
}

/// Per-GPU memory as the `MEM_GPU_OUT` registers (NaN = no value; `fits` as 1/0).
#[inline(always)]
fn memory_row(m: &crate::types::Memory) -> [f64; 7] {
    [
        m.weights_gb,
        m.gradients_gb,
        m.optimizer_gb,
        m.activations_gb.unwrap_or(f64::NAN),
        m.total_gb,
        m.data_parallel.unwrap_or(f64::NAN),
        m.fits.map_or(f64::NAN, |f| if f { 1.0 } else { 0.0 }),
    ]
}

/// A whole number >= 1, tested without libm's trunc (slow on baseline x86-64, and it keeps loops
/// from vectorising): (x + 2^52) - 2^52 rounds to an integer.
#[inline(always)]
fn whole(x: f64) -> bool {
    const ROUND: f64 = 4503599627370496.0;
    x >= 1.0 && x < ROUND && (x + ROUND) - ROUND == x
}

fn stage_eval(stage: Stage, i: &[f64], o: &mut [f64]) -> Result<(), String> {
    let e = |err: crate::types::ModelError| err.to_string();
    match stage {
        Stage::Flops => {
            let mut p = Point::default();
            p.params = i[0];
            p.active_params = if i[1].is_nan() { i[0] } else { i[1] };
            p.tokens = i[2];
            positive("params", p.params).map_err(e)?;
            positive("active_params", p.active_params).map_err(e)?;
            positive("tokens", p.tokens).map_err(e)?;
            if p.active_params > p.params * (1.0 + 1e-12) {
                return Err(format!("active_params: got {}, expected at most params ({})", p.active_params, p.params));
            }
            for (k, name) in Architecture::FIELDS.iter().enumerate() {
                p.arch.set(name, opt(i[3 + k]));
            }
            crate::estimate::check_architecture(&p.arch).map_err(e)?;
            p.arch.gated_mlp = i[13] != 0.0 && !i[13].is_nan();
            p.convention = pick(&CONVENTIONS, i[14], "convention")?;
            p.mode = pick(&MODES, i[15], "mode")?;
            p.recompute = pick(&RECOMPUTES, i[16], "recompute")?;
            p.lora = match (opt(i[17]), opt(i[18])) {
                (Some(r), _) => Some(Trainable::Rank(r)),
                (None, Some(f)) => Some(Trainable::Fraction(f)),
                _ => None,
            };
            let (t, pt, m, h) = point_flops(&p).map_err(e)?;
            o[0] = t;
            o[1] = pt;
            o[2] = m;
            o[3] = h;
        }
        Stage::Time => {
            positive("peak_tflops", i[2]).map_err(e)?;
            let util = match i[3] as u8 {
                0 => {
                    if !(i[4] > 0.0 && i[4] <= 1.0) {
                        return Err(format!("mfu: got {}, expected a fraction in (0, 1]", i[4]));
                    }
                    Utilisation::Mfu(i[4])
                }
                1 => {
                    positive("gpu_hours", i[4]).map_err(e)?;
                    Utilisation::GpuHours(i[4])
                }
                _ => {
                    positive("wall_clock_days", i[4]).map_err(e)?;
                    Utilisation::WallClockDays(i[4])
                }
            };
            let (mfu, gh) = utilisation(i[0], i[2], util, opt(i[5])).map_err(e)?;
            o[0] = mfu;
            o[1] = mfu * i[1] / i[0];
            o[2] = gh;
        }
        Stage::Wall => {
            whole_at_least_one("gpus", i[1]).map_err(e)?;
            o[0] = wall_clock_days(i[0], i[1]);
        }
        Stage::Money => {
            if !(i[3].is_finite() && i[3] >= 1.0) {
                return Err(format!("pue: got {}, expected a number >= 1", i[3]));
            }
            for (name, x) in [("usd_per_gpu_hour", i[1]), ("grid_kg_co2e_per_kwh", i[4])] {
                if !x.is_nan() && !(x.is_finite() && x >= 0.0) {
                    return Err(format!("{name}: got {x}, expected a finite number >= 0"));
                }
            }
            if !i[2].is_nan() {
                positive("watts", i[2]).map_err(e)?;
            }
            let (c, en, co2) = money(i[0], opt(i[1]), opt(i[2]), i[3], opt(i[4])).map_err(e)?;
            o[0] = c.unwrap_or(f64::NAN);
            o[1] = en.unwrap_or(f64::NAN);
            o[2] = co2.unwrap_or(f64::NAN);
        }
        Stage::MemStates => {
            let mut p = Point::default();
            p.params = i[0];
            for (k, name) in ["layers", "d_model", "heads", "seq_len"].iter().enumerate() {
                p.arch.set(name, opt(i[2 + k]));
            }
            p.precision = pick(&PRECISIONS, i[6], "precision")?;
            p.optimizer = pick(&OPTIMIZERS, i[7], "optimizer")?;
            if !(0.0..=3.0).contains(&i[8]) || i[8].fract() != 0.0 {
                return Err(format!("zero: got {}, expected 0, 1, 2 or 3", i[8]));
            }
            p.zero_stage = i[8] as u8;
            whole_at_least_one("tensor_parallel", i[9]).map_err(e)?;
            whole_at_least_one("pipeline_parallel", i[10]).map_err(e)?;
            whole_at_least_one("micro_batch", i[11]).map_err(e)?;
            p.tensor_parallel = i[9];
            p.pipeline_parallel = i[10];
            p.micro_batch = i[11];
            p.recompute = pick(&RECOMPUTES, i[12], "recompute")?;
            p.mode = pick(&MODES, i[13], "mode")?;
            p.gpu_memory_gb = opt(i[14]);
            let s = states(&p, i[1]);
            if let Some(a) = s.activations {
                crate::estimate::activations_finite(a, &p).map_err(e)?;
            }
            for x in [s.weights, s.grads, s.optim, s.shardable, s.fixed] {
                crate::estimate::finite(x, "params", p.params, "the memory per GPU").map_err(e)?;
            }
            o[0] = s.weights;
            o[1] = s.grads;
            o[2] = s.optim;
            o[3] = s.activations.unwrap_or(f64::NAN);
            o[4] = s.shardable;
            o[5] = s.fixed;
            o[6] = s.min_gpus.unwrap_or(f64::NAN);
        }
        Stage::MemGpu => {
            let s = mem_states(|q| i[q]);
            let mp = i[8] * i[9];
            let gpus = opt(i[7]);
            if let Some(g) = gpus {
                whole_at_least_one("gpus", g).map_err(e)?;
                if (g / mp).fract() != 0.0 {
                    return Err(format!("gpus: got {g}, expected a multiple of tensor × pipeline parallel ({mp})"));
                }
            }
            let m = per_gpu(&s, i[6] as u8, gpus, mp, opt(i[10]));
            o[..7].copy_from_slice(&memory_row(&m));
        }
    }
    Ok(())
}

#[inline(always)]
fn bin(op: BinOp, x: f64, y: f64) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Pow => x.powf(y),
        BinOp::Lt => b(x < y),
        BinOp::Le => b(x <= y),
        BinOp::Gt => b(x > y),
        BinOp::Ge => b(x >= y),
        BinOp::Eq => b(x == y),
        BinOp::Ne => b(x != y),
        BinOp::And => b(x != 0.0 && y != 0.0),
        BinOp::Or => b(x != 0.0 || y != 0.0),
        BinOp::Min => x.min(y),
        BinOp::Max => x.max(y),
    }
}

/// A checked op of a user's expression: min and max pass a missing value (NaN) on instead of
/// skipping it; everything else as `bin`.
#[inline(always)]
fn bin_checked(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Min | BinOp::Max if x.is_nan() || y.is_nan() => f64::NAN,
        _ => bin(op, x, y),
    }
}

/// The rule of expressions (the same in `costspec.expr.arith`, with the same words): a value
/// computed from operands that all have values must be finite; a missing operand (NaN) gives a
/// missing result. Returns why `r = op(x, y)` breaks the rule, if it does.
fn checked(op: Option<BinOp>, un_op: Option<UnOp>, x: f64, y: f64, r: f64) -> Option<&'static str> {
    if r.is_finite() || x.is_nan() || y.is_nan() {
        return None;
    }
    Some(match (op, un_op) {
        (Some(BinOp::Div), _) if y == 0.0 => "division by zero",
        (Some(BinOp::Pow), _) if x == 0.0 => "zero to a negative power",
        (Some(BinOp::Pow), _) if r.is_nan() => "a negative number to a fractional power",
        (_, Some(UnOp::Log)) => "log of a number <= 0",
        (_, Some(UnOp::Sqrt)) => "square root of a negative number",
        _ => "overflow (beyond ±1.8e308)",
    })
}

/// Whether every value is finite: a branch-free pass over the exponent bits with no compare, so
/// that it vectorises on baseline x86-64 (SSE2 has 64-bit and, add and or, but no 64-bit compare).
/// The exponent field is all ones exactly for inf and NaN, and only then does adding one to it
/// carry into the sign bit.
#[inline]
fn all_finite(v: &[f64]) -> bool {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    const ONE: u64 = 0x0010_0000_0000_0000;
    let mut acc = [0u64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a |= (x.to_bits() & EXP) + ONE;
        }
    }
    let tail = rest.iter().fold(0u64, |a, x| a | ((x.to_bits() & EXP) + ONE));
    (acc[0] | acc[1] | acc[2] | acc[3] | tail) >> 63 == 0
}

#[inline(always)]
fn un(op: UnOp, x: f64) -> f64 {
    match op {
        UnOp::Neg => -x,
        UnOp::Not => {
            if x == 0.0 {
                1.0
            } else {
                0.0
            }
        }
        UnOp::Log => x.ln(),
        UnOp::Exp => x.exp(),
        UnOp::Sqrt => x.sqrt(),
        UnOp::Ceil => x.ceil(),
        UnOp::Floor => x.floor(),
    }
}

// ------------------------------------------------------------------------------------------------
// The compiled program.

#[derive(Debug)]
pub struct Program {
    spec: PlanSpec,
    /// Loop axes, outermost first (a plan without axes gets one axis of length 1).
    lens: Vec<usize>,
    n_outer: usize,
    /// Points per outer combination: the product of the inner axes.
    inner_len: usize,
    /// Per inner axis (by position among inner axes): its stride within the inner block.
    inner_strides: Vec<usize>,
    /// reg -> slot among vector registers (inner level), or usize::MAX.
    slot: Vec<usize>,
    n_slots: usize,
    /// Operations by level: index 0 holds constant-level ops, 1 + l the outer level l; those the
    /// filters need, and those run only when a block keeps a point.
    outer_ops: Vec<Vec<usize>>,
    deferred: Vec<Vec<usize>>,
    /// Outer filters by level (same indexing).
    outer_filters: Vec<Vec<usize>>,
    /// Inner operations: those ranked registers need, those the inner filters need, the rest.
    inner_rank: Vec<usize>,
    inner_first: Vec<usize>,
    inner_rest: Vec<usize>,
    inner_filters: Vec<usize>,
    /// Comparisons evaluated as filters directly: (op, a, b).
    fused: Vec<(BinOp, usize, usize)>,
    total: u64,
}

impl Program {
    pub fn new(mut spec: PlanSpec) -> Result<Program, String> {
        if spec.axes.is_empty() {
            spec.axes.push(AxisSpec { len: 1, columns: vec![] });
        }
        for ax in &mut spec.axes {
            for c in &mut ax.columns {
                if let Some(g) = c.gen.take() {
                    c.values = g.values()?;
                }
            }
        }
        reduce_wall_clock(&mut spec)?;
        let n_axes = spec.axes.len();
        let nreg = spec.registers;
        let check_reg = |r: usize| if r < nreg { Ok(()) } else { Err(format!("register {r} out of range")) };
        let mut level: Vec<i64> = vec![i64::MIN; nreg];
        for &(r, _) in &spec.consts {
            check_reg(r)?;
            level[r] = -1;
        }
        let mut lens = Vec::with_capacity(n_axes);
        for (ai, ax) in spec.axes.iter().enumerate() {
            if ax.len == 0 {
                return Err(format!("axis {ai} has no values"));
            }
            for c in &ax.columns {
                check_reg(c.reg)?;
                if c.values.len() != ax.len {
                    return Err(format!("axis {ai}: a column has {} values, not {}", c.values.len(), ax.len));
                }
                level[c.reg] = ai as i64;
            }
            lens.push(ax.len);
        }
        for t in &spec.tables {
            if t.cols == 0 || t.values.len() % t.cols != 0 {
                return Err("a lookup table is ragged".into());
            }
        }
        let mut op_level = Vec::with_capacity(spec.ops.len());
        for (k, op) in spec.ops.iter().enumerate() {
            let mut l = -1i64;
            for r in op.inputs() {
                check_reg(r)?;
                if level[r] == i64::MIN {
                    return Err(format!("op {k} reads register {r} before it is written"));
                }
                l = l.max(level[r]);
            }
            if let OpSpec::Model { stage, i, o } = op {
                let (li, lo) = stage.layout();
                if i.len() != li.len() || o.len() != lo.len() {
                    return Err(format!("op {k}: stage {stage:?} takes {} inputs and {} outputs", li.len(), lo.len()));
                }
            }
            if let OpSpec::Lut { t, .. } = op {
                if *t >= spec.tables.len() {
                    return Err(format!("op {k}: no table {t}"));
                }
            }
            for r in op.outputs() {
                check_reg(r)?;
                level[r] = l;
            }
            op_level.push(l);
        }
        for &r in spec.filters.iter().chain(spec.outputs.iter().map(|o| &o.reg)).chain(&spec.ranked) {
            check_reg(r)?;
            if level[r] == i64::MIN {
                return Err(format!("register {r} is read but never written"));
            }
        }

        // Inner axes: the innermost ones, until a block is long enough (at least the last axis).
        let mut k = 1;
        let mut inner_len = lens[n_axes - 1];
        while k < n_axes && inner_len < MIN_BLOCK && inner_len * lens[n_axes - 1 - k] <= BLOCK {
            inner_len *= lens[n_axes - 1 - k];
            k += 1;
        }
        let n_outer = n_axes - k;
        let mut inner_strides = vec![0; k];
        let mut stride = 1;
        for j in (0..k).rev() {
            inner_strides[j] = stride;
            stride *= lens[n_outer + j];
        }
        let mut slot = vec![usize::MAX; nreg];
        let mut n_slots = 0;
        for r in 0..nreg {
            if level[r] >= n_outer as i64 {
                slot[r] = n_slots;
                n_slots += 1;
            }
        }
        let mut outer_ops = vec![Vec::new(); n_outer + 1];
        let mut inner_ops = Vec::new();
        for (k, &l) in op_level.iter().enumerate() {
            if l >= n_outer as i64 {
                inner_ops.push(k);
            } else {
                outer_ops[(l + 1) as usize].push(k);
            }
        }
        let mut outer_filters = vec![Vec::new(); n_outer + 1];
        let mut inner_filters = Vec::new();
        for &r in &spec.filters {
            if level[r] >= n_outer as i64 {
                inner_filters.push(r);
            } else {
                outer_filters[(level[r] + 1) as usize].push(r);
            }
        }
        // Ops the ranked registers depend on run first, then those the filters depend on; the rest
        // (outer or inner) only once a block keeps a point.
        let needed_by = |seeds: &[usize]| {
            let mut needed = vec![false; nreg];
            for &r in seeds {
                needed[r] = true;
            }
            let mut mask = vec![false; spec.ops.len()];
            for k in (0..spec.ops.len()).rev() {
                if spec.ops[k].outputs().iter().any(|&r| needed[r]) {
                    mask[k] = true;
                    for r in spec.ops[k].inputs() {
                        needed[r] = true;
                    }
                }
            }
            mask
        };
        let rank_mask = needed_by(&spec.ranked);
        let filter_mask = needed_by(&spec.filters);
        let first_mask: Vec<bool> = rank_mask.iter().zip(&filter_mask).map(|(a, b)| *a || *b).collect();
        // A filter made by a comparison nothing else reads is evaluated while choosing the kept
        // points, without a vector of its own.
        let mut readers = vec![0usize; nreg];
        for op in &spec.ops {
            for r in op.inputs() {
                readers[r] += 1;
            }
        }
        for o in &spec.outputs {
            readers[o.reg] += 1;
        }
        let mut fused = Vec::new();
        let mut fused_ops = vec![false; spec.ops.len()];
        let mut plain_filters = Vec::new();
        for &r in &inner_filters {
            let producer = (0..spec.ops.len()).rev().find(|&k| spec.ops[k].outputs().contains(&r));
            match producer.map(|k| (k, &spec.ops[k])) {
                Some((k, OpSpec::Bin { op, a, b, .. }))
                    if readers[r] == 0
                        && matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne) =>
                {
                    fused.push((*op, *a, *b));
                    fused_ops[k] = true;
                }
                _ => plain_filters.push(r),
            }
        }
        let inner_filters = plain_filters;
        let inner_ops: Vec<usize> = inner_ops.into_iter().filter(|&k| !fused_ops[k]).collect();
        let inner_rank = inner_ops.iter().copied().filter(|&k| rank_mask[k]).collect();
        let inner_first = inner_ops.iter().copied().filter(|&k| filter_mask[k] && !rank_mask[k]).collect();
        let inner_rest = inner_ops.iter().copied().filter(|&k| !first_mask[k]).collect();
        let deferred: Vec<Vec<usize>> =
            outer_ops.iter().map(|ops| ops.iter().copied().filter(|&k| !first_mask[k]).collect()).collect();
        let outer_ops: Vec<Vec<usize>> =
            outer_ops.iter().map(|ops| ops.iter().copied().filter(|&k| first_mask[k]).collect()).collect();
        let total = lens.iter().try_fold(1u64, |acc, &l| acc.checked_mul(l as u64)).ok_or("too many points")?;
        Ok(Program {
            spec,
            lens,
            n_outer,
            inner_len,
            inner_strides,
            slot,
            n_slots,
            outer_ops,
            deferred,
            outer_filters,
            inner_rank,
            inner_first,
            inner_rest,
            inner_filters,
            fused,
            total,
        })
    }

    pub fn from_json(text: &str) -> Result<Program, String> {
        let spec: PlanSpec = serde_json::from_str(text).map_err(|e| format!("bad plan: {e}"))?;
        Program::new(spec)
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn outputs(&self) -> &[OutputSpec] {
        &self.spec.outputs
    }

    /// Evaluate points [start, end), appending the kept ones to `out`. Returns the number kept.
    pub fn run(&self, start: u64, end: u64, out: &mut dyn Sink) -> Result<usize, PointError> {
        self.run_until(start, end, out, &AtomicBool::new(false))
    }

    /// `run`, stopping between blocks once `stop` is set (an interrupted run: `PointError::STOPPED`).
    pub fn run_until(&self, start: u64, end: u64, out: &mut dyn Sink, stop: &AtomicBool) -> Result<usize, PointError> {
        let mut w = Worker::new(self, stop);
        w.run(start, end.min(self.total), out)
    }
}

/// A block's value of one output column: the same for every point, or one per block position.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Scalar(f64),
    Vector(&'a [f64]),
}

impl Source<'_> {
    #[inline(always)]
    fn at(&self, j: usize) -> f64 {
        match self {
            Source::Scalar(v) => *v,
            Source::Vector(v) => v[j],
        }
    }
}

/// Where kept points go: one call per block, with the kept positions (`all` when every position
/// of the block is kept, in order) and each output column's values.
pub trait Sink {
    /// `index0` is the point index of block position 0.
    fn emit(&mut self, kept: &[u32], all: bool, columns: &[Source<'_>], index0: u64);

    /// Before anything but the ranked columns is computed (the plan's `ranked` registers; other
    /// columns hold stale values): push to `cand` the positions of the block's `n` that may still
    /// enter the answer. A reduction's bar only tightens, so a point ruled out now would never be
    /// kept. Default: every position.
    fn prune(&self, _columns: &[Source<'_>], n: usize, _index0: u64, cand: &mut Vec<u32>) {
        cand.extend(0..n as u32);
    }
}

/// Columnar output into caller-provided buffers (one per output, by kind), from row `row` on.
pub struct Columns {
    pub ptrs: Vec<*mut u8>,
    pub kinds: Vec<OutKind>,
    pub row: usize,
    pub capacity: usize,
}

unsafe impl Send for Columns {}

impl Sink for Columns {
    fn emit(&mut self, kept: &[u32], all: bool, columns: &[Source<'_>], _index0: u64) {
        let n = kept.len();
        assert!(self.row + n <= self.capacity, "output buffer overflow");
        for ((&ptr, &kind), src) in self.ptrs.iter().zip(&self.kinds).zip(columns) {
            match kind {
                OutKind::F64 => {
                    // SAFETY: the caller guarantees `capacity` rows of writable memory per column.
                    let col = unsafe { std::slice::from_raw_parts_mut((ptr as *mut f64).add(self.row), n) };
                    match src {
                        Source::Scalar(v) => col.fill(*v),
                        Source::Vector(v) if all => col.copy_from_slice(&v[..n]),
                        Source::Vector(v) => {
                            for (d, &j) in col.iter_mut().zip(kept) {
                                *d = v[j as usize];
                            }
                        }
                    }
                }
                OutKind::I32 => {
                    let col = unsafe { std::slice::from_raw_parts_mut((ptr as *mut i32).add(self.row), n) };
                    match src {
                        Source::Scalar(v) => col.fill(*v as i32),
                        Source::Vector(v) => {
                            for (d, &j) in col.iter_mut().zip(kept) {
                                *d = v[j as usize] as i32;
                            }
                        }
                    }
                }
                OutKind::Bool => {
                    for (r, &j) in kept.iter().enumerate() {
                        let bit = self.row + r;
                        let v = src.at(j as usize);
                        // SAFETY: bit < capacity; regions of different sinks start on byte boundaries.
                        unsafe {
                            let byte = ptr.add(bit / 8);
                            if v != 0.0 && !v.is_nan() {
                                *byte |= 1 << (bit % 8);
                            } else {
                                *byte &= !(1 << (bit % 8));
                            }
                        }
                    }
                }
            }
        }
        self.row += n;
    }
}

/// Counts kept points without writing them (evaluation alone).
pub struct Count(pub usize);

impl Sink for Count {
    fn emit(&mut self, kept: &[u32], _all: bool, _columns: &[Source<'_>], _index0: u64) {
        self.0 += kept.len();
    }
}

/// A value as a reduction ranks it (lower is better): negated to maximise; a missing value
/// (NaN) ranks after every value, as SQL's NULLS LAST, so a group whose points lack the value
/// still has its rows rather than disappearing.
#[inline(always)]
fn rank_value(v: f64, maximise: bool) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else if maximise {
        -v
    } else {
        v
    }
}

/// The k best points per group by one output column (smallest first; `maximise` for largest;
/// points without a value last), ties broken by point index, so the answer does not depend on how
/// the sweep was split. Memory holds k rows per group, whatever the number of points.
pub struct TopK {
    k: usize,
    key: usize,
    maximise: bool,
    per: Vec<usize>,
    groups: std::collections::BTreeMap<Vec<i64>, std::collections::BinaryHeap<Candidate>>,
}

/// A kept row: its ranking key (lower is better), its point index and its output values.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: f64,
    pub index: u64,
    pub row: Vec<f64>,
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.total_cmp(&o.key).then(self.index.cmp(&o.index))
    }
}

impl TopK {
    pub fn new(k: usize, key: usize, maximise: bool, per: Vec<usize>) -> TopK {
        TopK { k, key, maximise, per, groups: Default::default() }
    }

    fn offer(&mut self, group: Vec<i64>, c: Candidate) {
        let heap = self.groups.entry(group).or_default();
        if heap.len() < self.k {
            heap.push(c);
        } else if heap.peek().is_some_and(|worst| c < *worst) {
            heap.pop();
            heap.push(c);
        }
    }

    /// Fold another region's answer in (any order gives the same result).
    pub fn merge(&mut self, other: TopK) {
        for (g, heap) in other.groups {
            for c in heap {
                self.offer(g.clone(), c);
            }
        }
    }

    /// The rows, by group, then rank.
    pub fn finish(self) -> Vec<Candidate> {
        self.groups.into_values().flat_map(|h| h.into_sorted_vec()).collect()
    }
}

impl Sink for TopK {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
        // Groups are usually outer axes (the GPU), the same for the whole block: look the group up
        // once and skip every point that cannot beat its current k-th best.
        let fixed = fixed_group(&self.per, columns);
        let fixed_group = fixed.is_some();
        let per = self.per.clone();
        let group_at = |j: usize| -> Vec<i64> { per.iter().map(|&c| columns[c].at(j) as i64).collect() };
        let mut group = fixed.unwrap_or_default();
        let mut bar = if fixed_group { self.bar(&group) } else { None };
        for &j in kept {
            let j = j as usize;
            let key = rank_value(columns[self.key].at(j), self.maximise);
            let index = index0 + j as u64;
            if !fixed_group {
                group = group_at(j);
                bar = self.bar(&group);
            }
            if let Some((bk, bi)) = bar {
                if key.total_cmp(&bk).then(index.cmp(&bi)).is_ge() {
                    continue;
                }
            }
            let row = columns.iter().map(|c| c.at(j)).collect();
            self.offer(group.clone(), Candidate { key, index, row });
            if fixed_group {
                bar = self.bar(&group);
            }
        }
    }

    fn prune(&self, columns: &[Source<'_>], n: usize, index0: u64, cand: &mut Vec<u32>) {
        let group = match fixed_group(&self.per, columns) {
            Some(g) => g,
            None => return cand.extend(0..n as u32),
        };
        let Some((bk, bi)) = self.bar(&group) else { return cand.extend(0..n as u32) };
        let maximise = self.maximise;
        let beats = |key: f64, index: u64| key.total_cmp(&bk).then(index.cmp(&bi)).is_lt();
        match columns[self.key] {
            Source::Scalar(v) => {
                let key = rank_value(v, maximise);
                if key > bk {
                    return;
                }
                // One key for the block: positions before the bar's index, or all if better.
                let m = if key < bk { n as u64 } else { bi.saturating_sub(index0).min(n as u64) };
                cand.extend(0..m as u32);
            }
            Source::Vector(v) => {
                cand.extend((0..n as u32).filter(|&j| beats(rank_value(v[j as usize], maximise), index0 + j as u64)));
            }
        }
    }
}

/// The group of a block whose grouping columns are the same for every position, if they are.
fn fixed_group(per: &[usize], columns: &[Source<'_>]) -> Option<Vec<i64>> {
    per.iter()
        .map(|&c| match columns[c] {
            Source::Scalar(v) => Some(v as i64),
            Source::Vector(_) => None,
        })
        .collect()
}

impl TopK {
    /// The (key, index) a point must beat to enter a full group, if the group is full.
    fn bar(&self, group: &[i64]) -> Option<(f64, u64)> {
        self.groups.get(group).filter(|h| h.len() >= self.k).and_then(|h| h.peek()).map(|w| (w.key, w.index))
    }
}

/// The non-dominated points per group over several output columns (each minimised; negate a
/// column's values to maximise it; a missing value counts as the worst, see `rank_value`): a
/// point stays unless another is at least as good in every column and better in one. Points with equal values all stay. The set does not depend on the
/// order points arrive in, so regions merge into the same answer for any split. With two columns
/// (the usual cost/time front) each group's front is kept sorted by the first column, so the
/// second falls along it and a point is tested against one neighbour (binary search).
pub struct Pareto {
    keys: Vec<(usize, bool)>,
    per: Vec<usize>,
    fronts: std::collections::BTreeMap<Vec<i64>, Vec<FrontPoint>>,
}

/// A point of a front, with every point of equal values (by point index).
#[derive(Debug)]
struct FrontPoint {
    key: Vec<f64>,
    members: Vec<(u64, Vec<f64>)>,
}

fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Whether some point of `front` dominates `key`.
fn dominated(front: &[FrontPoint], key: &[f64]) -> bool {
    if key.len() == 2 {
        // Sorted by the first column; along a non-dominated set the second falls, so the last
        // point with first ≤ key's has the least second of all that could dominate.
        let p = front.partition_point(|f| f.key[0] <= key[0]);
        p > 0 && dominates(&front[p - 1].key, key)
    } else {
        front.iter().any(|f| dominates(&f.key, key))
    }
}

impl Pareto {
    pub fn new(keys: Vec<(usize, bool)>, per: Vec<usize>) -> Pareto {
        Pareto { keys, per, fronts: Default::default() }
    }

    fn offer(&mut self, group: Vec<i64>, key: Vec<f64>, index: u64, row: impl FnOnce() -> Vec<f64>) {
        let front = self.fronts.entry(group).or_default();
        if dominated(front, &key) {
            return;
        }
        // An equal point already there: this one joins it (it dominates nothing either).
        let equal = if key.len() == 2 {
            let q = front.partition_point(|f| f.key[0] < key[0]);
            front.get(q).is_some_and(|f| f.key == key).then_some(q)
        } else {
            front.iter().position(|f| f.key == key)
        };
        if let Some(q) = equal {
            let members = &mut front[q].members;
            let at = members.partition_point(|(i, _)| *i < index);
            members.insert(at, (index, row()));
            return;
        }
        let point = FrontPoint { members: vec![(index, row())], key };
        if point.key.len() == 2 {
            // The points it dominates have first ≥ x and second ≥ y: a run starting at the first
            // point with first ≥ x, as seconds fall along the front.
            let (x, y) = (point.key[0], point.key[1]);
            let q = front.partition_point(|f| f.key[0] < x);
            let mut r = q;
            while r < front.len() && front[r].key[1] >= y {
                r += 1;
            }
            front.splice(q..r, std::iter::once(point));
        } else {
            front.retain(|f| !dominates(&point.key, &f.key));
            front.push(point);
        }
    }

    pub fn merge(&mut self, other: Pareto) {
        for (g, front) in other.fronts {
            for f in front {
                for (index, row) in f.members {
                    self.offer(g.clone(), f.key.clone(), index, || row);
                }
            }
        }
    }

    /// The rows by group, then by the first column, then by point index.
    pub fn finish(self) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (_, front) in self.fronts {
            let mut rows: Vec<Candidate> = front
                .into_iter()
                .flat_map(|f| {
                    let k = f.key[0];
                    f.members.into_iter().map(move |(index, row)| Candidate { key: k, index, row })
                })
                .collect();
            rows.sort_by(|a, b| a.key.total_cmp(&b.key).then(a.index.cmp(&b.index)));
            out.extend(rows);
        }
        out
    }

    fn key_at(&self, columns: &[Source<'_>], j: usize) -> Vec<f64> {
        self.keys.iter().map(|&(c, max)| rank_value(columns[c].at(j), max)).collect()
    }
}

impl Sink for Pareto {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
        for &j in kept {
            let j = j as usize;
            let key = self.key_at(columns, j);
            let group: Vec<i64> = self.per.iter().map(|&c| columns[c].at(j) as i64).collect();
            self.offer(group, key, index0 + j as u64, || columns.iter().map(|c| c.at(j)).collect());
        }
    }

    fn prune(&self, columns: &[Source<'_>], n: usize, _index0: u64, cand: &mut Vec<u32>) {
        let Some(front) = fixed_group(&self.per, columns).and_then(|g| self.fronts.get(&g)) else {
            return cand.extend(0..n as u32);
        };
        // The block's ideal point (the best of each column): if a front point dominates it, it
        // dominates every point of the block.
        let mut ideal = Vec::with_capacity(self.keys.len());
        for &(c, max) in &self.keys {
            let best = match columns[c] {
                Source::Scalar(v) => rank_value(v, max),
                Source::Vector(v) => v[..n].iter().fold(f64::INFINITY, |m, &x| m.min(rank_value(x, max))),
            };
            ideal.push(best);
        }
        if dominated(front, &ideal) {
            return;
        }
        let mut key = vec![0.0; self.keys.len()];
        cand.extend((0..n as u32).filter(|&j| {
            for (q, &(c, max)) in self.keys.iter().enumerate() {
                key[q] = rank_value(columns[c].at(j as usize), max);
            }
            !dominated(front, &key)
        }));
    }
}

struct Worker<'a> {
    p: &'a Program,
    stop: &'a AtomicBool,
    scalars: Vec<f64>,
    vectors: Vec<Vec<f64>>,
    idx: Vec<usize>,
    /// Lowest level whose deferred ops are stale.
    stale: Option<usize>,
    /// The outer combination `idx` holds.
    at: u64,
    /// Inner positions whose axis values the vector registers hold.
    loaded: Option<(usize, usize)>,
    kept: Vec<u32>,
    /// Positions a reduction has not ruled out.
    cand: Vec<u32>,
    ins: Vec<f64>,
    outs: Vec<f64>,
}

impl<'a> Worker<'a> {
    fn new(p: &'a Program, stop: &'a AtomicBool) -> Worker<'a> {
        Worker {
            p,
            stop,
            scalars: vec![f64::NAN; p.spec.registers],
            vectors: vec![vec![0.0; BLOCK.min(p.inner_len)]; p.n_slots],
            idx: vec![0; p.n_outer],
            stale: None,
            at: 0,
            loaded: None,
            kept: Vec::with_capacity(BLOCK),
            cand: Vec::with_capacity(BLOCK),
            ins: vec![0.0; 32],
            outs: vec![0.0; 16],
        }
    }

    fn err(&self, index: u64, message: String) -> PointError {
        PointError { index, message }
    }

    /// Run the ops of one outer level (0: constants, 1 + l: outer axis l) as scalars.
    fn outer_level(&mut self, lvl: usize, index: u64) -> Result<bool, PointError> {
        for &k in &self.p.outer_ops[lvl] {
            self.scalar_op(k).map_err(|m| self.err(index, m))?;
        }
        Ok(self.p.outer_filters[lvl].iter().all(|&r| {
            let v = self.scalars[r];
            v != 0.0 && !v.is_nan()
        }))
    }

    fn scalar_op(&mut self, k: usize) -> Result<(), String> {
        let s = &mut self.scalars;
        match &self.p.spec.ops[k] {
            OpSpec::Bin { op, a, b, o, msg } => {
                let (x, y) = (s[*a], s[*b]);
                s[*o] = if let Some(m) = msg {
                    let r = bin_checked(*op, x, y);
                    if let Some(why) = checked(Some(*op), None, x, y, r) {
                        return Err(format!("{why} in {}", self.p.spec.messages[*m]));
                    }
                    r
                } else {
                    bin(*op, x, y)
                };
            }
            OpSpec::Un { op, a, o, msg } => {
                let x = s[*a];
                let r = un(*op, x);
                if let Some(m) = msg {
                    if let Some(why) = checked(None, Some(*op), x, 0.0, r) {
                        return Err(format!("{why} in {}", self.p.spec.messages[*m]));
                    }
                }
                s[*o] = r;
            }
            OpSpec::Lut { t, a, b, o } => s[*o] = lookup(&self.p.spec.tables[*t], s[*a], s[*b]),
            OpSpec::Check { a, o, lo, msg } => {
                if s[*a] < *lo {
                    return Err(self.p.spec.messages[*msg].clone());
                }
                s[*o] = s[*a];
            }
            OpSpec::Model { stage, i, o } => {
                let n_in = i.len();
                for (q, &r) in i.iter().enumerate() {
                    self.ins[q] = s[r];
                }
                stage_eval(*stage, &self.ins[..n_in], &mut self.outs[..o.len()])?;
                for (q, &r) in o.iter().enumerate() {
                    s[r] = self.outs[q];
                }
            }
        }
        Ok(())
    }

    fn set_axis(&mut self, axis: usize, i: usize) {
        for c in &self.p.spec.axes[axis].columns {
            self.scalars[c.reg] = c.values[i];
        }
    }

    /// Decode outer combination `o` and recompute from the outermost level that changed.
    fn goto(&mut self, o: u64, first: bool, index: u64) -> Result<Option<usize>, PointError> {
        let mut from = self.p.n_outer;
        if !first && o == self.at + 1 {
            // The next combination: an odometer step, no division.
            for l in (0..self.p.n_outer).rev() {
                from = l;
                self.idx[l] += 1;
                if self.idx[l] < self.p.lens[l] {
                    break;
                }
                self.idx[l] = 0;
            }
        } else {
            let mut rest = o;
            for l in (0..self.p.n_outer).rev() {
                let len = self.p.lens[l] as u64;
                let i = (rest % len) as usize;
                rest /= len;
                if first || i != self.idx[l] {
                    from = l;
                }
                self.idx[l] = i;
            }
        }
        self.at = o;
        let from = if first { 0 } else { from };
        let lvl = if first { 0 } else { from + 1 };
        self.stale = Some(self.stale.map_or(lvl, |s| s.min(lvl)));
        if first && !self.outer_level(0, index)? {
            return Ok(Some(0));
        }
        for l in from..self.p.n_outer {
            self.set_axis(l, self.idx[l]);
            if !self.outer_level(l + 1, index)? {
                return Ok(Some(l + 1));
            }
        }
        Ok(None)
    }

    fn run(&mut self, start: u64, end: u64, out: &mut dyn Sink) -> Result<usize, PointError> {
        if start >= end {
            return Ok(0);
        }
        for &(r, v) in &self.p.spec.consts {
            self.scalars[r] = v;
        }
        let inner = self.p.inner_len as u64;
        let mut o = start / inner;
        let last = (end - 1) / inner;
        let mut kept_total = 0;
        let mut first = true;
        while o <= last {
            if self.stop.load(Ordering::Relaxed) {
                return Err(self.err(PointError::STOPPED, "interrupted".into()));
            }
            let combo_start = o * inner;
            let failed = self.goto(o, first, combo_start.max(start))?;
            first = false;
            if let Some(lvl) = failed {
                if lvl == 0 {
                    return Ok(0); // a constant filter fails: nothing is kept anywhere
                }
                // Skip every combination sharing the failed level's prefix.
                let span: u64 = self.p.lens[lvl..self.p.n_outer].iter().map(|&l| l as u64).product();
                o = (o / span + 1) * span;
                continue;
            }
            let p0 = start.saturating_sub(combo_start) as usize;
            let p1 = (end - combo_start).min(inner) as usize;
            let mut a = p0;
            while a < p1 {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(self.err(PointError::STOPPED, "interrupted".into()));
                }
                let b = (a + BLOCK).min(p1);
                kept_total += self.block(combo_start, a, b, out)?;
                a = b;
            }
            o += 1;
        }
        Ok(kept_total)
    }

    /// Evaluate inner positions [a, b) of the combination starting at point `base`.
    fn block(&mut self, base: u64, a: usize, b: usize, out: &mut dyn Sink) -> Result<usize, PointError> {
        let n = b - a;
        let p = self.p;
        // Load the inner axes' columns for positions a..b (unchanged since the last block when it
        // covered the same positions: axis registers are never written by operations).
        let reload = self.loaded != Some((a, b));
        self.loaded = Some((a, b));
        for (j, stride) in p.inner_strides.iter().enumerate().filter(|_| reload) {
            let axis = p.n_outer + j;
            let len = p.lens[axis];
            for c in &p.spec.axes[axis].columns {
                let v = &mut self.vectors[p.slot[c.reg]];
                if *stride == 1 && p.inner_strides.len() == 1 {
                    v[..n].copy_from_slice(&c.values[a..b]);
                } else {
                    for (q, dst) in v[..n].iter_mut().enumerate() {
                        *dst = c.values[((a + q) / stride) % len];
                    }
                }
            }
        }
        for q in 0..p.inner_rank.len() {
            self.vector_op(p.inner_rank[q], n, base + a as u64)?;
        }
        // A reduction rules out, on the ranked columns alone, the points that cannot enter it.
        let pruned = !p.spec.ranked.is_empty() && {
            let mut cand = std::mem::take(&mut self.cand);
            cand.clear();
            out.prune(&self.sources(n), n, base + a as u64, &mut cand);
            self.cand = cand;
            self.cand.len() < n
        };
        if pruned && self.cand.is_empty() {
            return Ok(0);
        }
        for q in 0..p.inner_first.len() {
            self.vector_op(p.inner_first[q], n, base + a as u64)?;
        }
        self.kept.clear();
        let src = |r: usize| match p.slot[r] {
            usize::MAX => Source::Scalar(self.scalars[r]),
            s => Source::Vector(&self.vectors[s][..n]),
        };
        match (p.inner_filters.as_slice(), p.fused.as_slice()) {
            ([], []) => self.kept.extend(0..n as u32),
            ([], [(op, a, b)]) => {
                // The common case: one condition such as wall_clock_days <= 90.
                let (x, y) = (src(*a), src(*b));
                macro_rules! keep {
                    ($cmp:tt) => {
                        match (x, y) {
                            (Source::Vector(x), Source::Scalar(c)) => keep_where(&mut self.kept, x, |v| v $cmp c),
                            (x, y) => self.kept.extend((0..n as u32).filter(|&j| x.at(j as usize) $cmp y.at(j as usize))),
                        }
                    };
                }
                match op {
                    BinOp::Lt => keep!(<),
                    BinOp::Le => keep!(<=),
                    BinOp::Gt => keep!(>),
                    BinOp::Ge => keep!(>=),
                    BinOp::Eq => keep!(==),
                    _ => keep!(!=),
                }
            }
            (plain, fused) => {
                let plain: Vec<&[f64]> = plain.iter().map(|&r| &self.vectors[p.slot[r]][..n]).collect();
                let fused: Vec<(BinOp, Source<'_>, Source<'_>)> =
                    fused.iter().map(|&(op, a, b)| (op, src(a), src(b))).collect();
                'points: for j in 0..n {
                    for v in &plain {
                        if v[j] == 0.0 || v[j].is_nan() {
                            continue 'points;
                        }
                    }
                    for (op, a, b) in &fused {
                        if bin(*op, a.at(j), b.at(j)) == 0.0 {
                            continue 'points;
                        }
                    }
                    self.kept.push(j as u32);
                }
            }
        }
        if pruned {
            intersect(&mut self.kept, &self.cand);
        }
        if self.kept.is_empty() {
            return Ok(0);
        }
        if let Some(from) = self.stale.take() {
            for lvl in from..p.deferred.len() {
                for q in 0..p.deferred[lvl].len() {
                    let k = p.deferred[lvl][q];
                    self.scalar_op(k).map_err(|m| self.err(base + a as u64, m))?;
                }
            }
        }
        for q in 0..p.inner_rest.len() {
            self.vector_op(p.inner_rest[q], n, base + a as u64)?;
        }
        let all = self.kept.len() == n;
        let sources = self.sources(n);
        out.emit(&self.kept, all, &sources, base + a as u64);
        Ok(self.kept.len())
    }

    /// Each output column's values over the block's first `n` positions.
    fn sources(&self, n: usize) -> Vec<Source<'_>> {
        let p = self.p;
        p.spec
            .outputs
            .iter()
            .map(|o| match p.slot[o.reg] {
                usize::MAX => Source::Scalar(self.scalars[o.reg]),
                s => Source::Vector(&self.vectors[s][..n]),
            })
            .collect()
    }

    fn vector_op(&mut self, k: usize, n: usize, index0: u64) -> Result<(), PointError> {
        let p = self.p;
        match &p.spec.ops[k] {
            OpSpec::Bin { op, a, b, o, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                let (sa, sb) = (p.slot[*a], p.slot[*b]);
                {
                    let x = if sa == usize::MAX { None } else { Some(&self.vectors[sa][..n]) };
                    let y = if sb == usize::MAX { None } else { Some(&self.vectors[sb][..n]) };
                    let (xs, ys) = (self.scalars[*a], self.scalars[*b]);
                    macro_rules! apply {
                        ($f:expr) => {
                            match (x, y) {
                                (Some(x), Some(y)) => {
                                    for ((d, &u), &v) in out[..n].iter_mut().zip(x).zip(y) {
                                        *d = $f(u, v);
                                    }
                                }
                                (Some(x), None) => {
                                    for (d, &u) in out[..n].iter_mut().zip(x) {
                                        *d = $f(u, ys);
                                    }
                                }
                                (None, Some(y)) => {
                                    for (d, &v) in out[..n].iter_mut().zip(y) {
                                        *d = $f(xs, v);
                                    }
                                }
                                (None, None) => out[..n].fill($f(xs, ys)),
                            }
                        };
                    }
                    // Monomorphised loops for the common arithmetic; the rest go through `bin`.
                    match op {
                        BinOp::Add => apply!(|u: f64, v: f64| u + v),
                        BinOp::Sub => apply!(|u: f64, v: f64| u - v),
                        BinOp::Mul => apply!(|u: f64, v: f64| u * v),
                        BinOp::Div => apply!(|u: f64, v: f64| u / v),
                        BinOp::Le => apply!(|u: f64, v: f64| if u <= v { 1.0 } else { 0.0 }),
                        BinOp::Lt => apply!(|u: f64, v: f64| if u < v { 1.0 } else { 0.0 }),
                        BinOp::Ge => apply!(|u: f64, v: f64| if u >= v { 1.0 } else { 0.0 }),
                        BinOp::Gt => apply!(|u: f64, v: f64| if u > v { 1.0 } else { 0.0 }),
                        other if msg.is_some() => {
                            let other = *other;
                            apply!(|u: f64, v: f64| bin_checked(other, u, v))
                        }
                        other => {
                            let other = *other;
                            apply!(|u: f64, v: f64| bin(other, u, v))
                        }
                    }
                    // A checked op: find a non-finite result whose operands had values (rare: a
                    // scan of the block, then a look at the operands only where it fails).
                    if let Some(&m) = msg.as_ref().filter(|_| !all_finite(&out[..n])) {
                        let at = |src: Option<&[f64]>, c: f64, j: usize| src.map_or(c, |v| v[j]);
                        for (j, &r) in out[..n].iter().enumerate() {
                            if r.is_finite() {
                                continue;
                            }
                            let (u, v) = (at(x, xs, j), at(y, ys, j));
                            if let Some(why) = checked(Some(*op), None, u, v, r) {
                                let message = format!("{why} in {}", p.spec.messages[m]);
                                self.vectors[p.slot[*o]] = out;
                                return Err(self.err(index0 + j as u64, message));
                            }
                        }
                    }
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Un { op, a, o, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                match p.slot[*a] {
                    usize::MAX => out[..n].fill(un(*op, self.scalars[*a])),
                    s => {
                        for (d, &u) in out[..n].iter_mut().zip(&self.vectors[s][..n]) {
                            *d = un(*op, u);
                        }
                    }
                }
                if let Some(&m) = msg.as_ref().filter(|_| !all_finite(&out[..n])) {
                    let src = p.slot[*a];
                    for (j, &r) in out[..n].iter().enumerate() {
                        if r.is_finite() {
                            continue;
                        }
                        let u = if src == usize::MAX { self.scalars[*a] } else { self.vectors[src][j] };
                        if let Some(why) = checked(None, Some(*op), u, 0.0, r) {
                            let message = format!("{why} in {}", p.spec.messages[m]);
                            self.vectors[p.slot[*o]] = out;
                            return Err(self.err(index0 + j as u64, message));
                        }
                    }
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Check { a, o, lo, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                for (j, d) in out[..n].iter_mut().enumerate() {
                    *d = self.read(*a, j);
                }
                let bad = out[..n].iter().position(|v| *v < *lo);
                self.vectors[p.slot[*o]] = out;
                if let Some(j) = bad {
                    return Err(self.err(index0 + j as u64, p.spec.messages[*msg].clone()));
                }
            }
            OpSpec::Lut { t, a, b, o } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                let table = &p.spec.tables[*t];
                for (j, d) in out[..n].iter_mut().enumerate() {
                    let x = self.read(*a, j);
                    let y = self.read(*b, j);
                    *d = lookup(table, x, y);
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Model { stage: Stage::Wall, i, o } => {
                // The innermost loop of most sweeps (GPU count): a checked division.
                let mut out = std::mem::take(&mut self.vectors[p.slot[o[0]]]);
                let gh_scalar = self.scalars[i[0]];
                let g_scalar = self.scalars[i[1]];
                let (sh, sg) = (p.slot[i[0]], p.slot[i[1]]);
                let bad = {
                    let gh_v = (sh != usize::MAX).then(|| &self.vectors[sh][..n]);
                    let g_v = (sg != usize::MAX).then(|| &self.vectors[sg][..n]);
                    // whole and >= 1: (g + 2^52) - 2^52 rounds to an integer, vectorisable unlike trunc
                    let ok = match (gh_v, g_v) {
                        (Some(gh), Some(g)) => {
                            let mut ok = true;
                            for ((d, &h), &c) in out[..n].iter_mut().zip(gh).zip(g) {
                                *d = wall_clock_days(h, c);
                                ok &= whole(c);
                            }
                            ok
                        }
                        (None, Some(g)) => {
                            let mut ok = true;
                            for (d, &c) in out[..n].iter_mut().zip(g) {
                                *d = wall_clock_days(gh_scalar, c);
                                ok &= whole(c);
                            }
                            ok
                        }
                        (Some(gh), None) => {
                            for (d, &h) in out[..n].iter_mut().zip(gh) {
                                *d = wall_clock_days(h, g_scalar);
                            }
                            whole(g_scalar)
                        }
                        (None, None) => {
                            out[..n].fill(wall_clock_days(gh_scalar, g_scalar));
                            whole(g_scalar)
                        }
                    };
                    if ok {
                        None
                    } else {
                        (0..n).find(|&j| !whole(g_v.map_or(g_scalar, |v| v[j])))
                    }
                };
                self.vectors[p.slot[o[0]]] = out;
                if let Some(j) = bad {
                    let g = self.read(i[1], j);
                    return Err(self.err(index0 + j as u64, format!("gpus: got {}, expected a whole number from 1 to 4.5e15", g.shown())));
                }
            }
            OpSpec::Model { stage: Stage::MemGpu, i, o } => {
                // Per-GPU memory varies with the GPU count, usually the innermost axis.
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let ops: Vec<Source<'_>> = i
                    .iter()
                    .map(|&r| match p.slot[r] {
                        usize::MAX => Source::Scalar(self.scalars[r]),
                        s => Source::Vector(&self.vectors[s][..n]),
                    })
                    .collect();
                let mut failure = None;
                let only_gpus_vary = ops.iter().enumerate().all(|(q, o)| q == 7 || matches!(o, Source::Scalar(_)));
                let fast = only_gpus_vary && matches!(ops[7], Source::Vector(_));
                if let (true, Source::Vector(gs)) = (fast, ops[7]) {
                    // The usual case: the model and its layout are fixed within the block, the GPU
                    // count varies.
                    let v = |q: usize| ops[q].at(0);
                    let s = mem_states(v);
                    let (zero, mp, cap) = (v(6) as u8, v(8) * v(9), opt(v(10)));
                    for (j, &g) in gs.iter().enumerate() {
                        if !(whole(g) && whole(g / mp)) {
                            failure = Some((j, g, mp));
                            break;
                        }
                        let m = per_gpu(&s, zero, Some(g), mp, cap);
                        for (col, x) in outs.iter_mut().zip(memory_row(&m)) {
                            col[j] = x;
                        }
                    }
                }
                for j in (0..n).filter(|_| !fast) {
                    let v = |q: usize| ops[q].at(j);
                    let (g, tp, pp) = (v(7), v(8), v(9));
                    let mp = tp * pp;
                    if !g.is_nan() && !(whole(g) && whole(g / mp)) {
                        failure = Some((j, g, mp));
                        break;
                    }
                    let s = mem_states(v);
                    let m = per_gpu(&s, v(6) as u8, opt(g), mp, opt(v(10)));
                    for (col, x) in outs.iter_mut().zip(memory_row(&m)) {
                        col[j] = x;
                    }
                }
                drop(ops);
                for (col, &r) in outs.into_iter().zip(o) {
                    self.vectors[p.slot[r]] = col;
                }
                if let Some((j, g, mp)) = failure {
                    let m = if whole(g) {
                        format!("gpus: got {g}, expected a multiple of tensor × pipeline parallel ({mp})")
                    } else {
                        format!("gpus: got {}, expected a whole number from 1 to 4.5e15", g.shown())
                    };
                    return Err(self.err(index0 + j as u64, m));
                }
            }
            OpSpec::Model { stage, i, o } => {
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let mut ins = [0.0f64; 32];
                let mut res = [0.0f64; 16];
                let mut failure = None;
                // Operands resolved once: (vector slot, or the scalar value).
                let operands: Vec<(usize, f64)> = i.iter().map(|&r| (p.slot[r], self.scalars[r])).collect();
                for (q, &(slot, v)) in operands.iter().enumerate() {
                    if slot == usize::MAX {
                        ins[q] = v;
                    }
                }
                let varying: Vec<(usize, usize)> =
                    operands.iter().enumerate().filter(|(_, (s, _))| *s != usize::MAX).map(|(q, (s, _))| (q, *s)).collect();
                for j in 0..n {
                    for &(q, slot) in &varying {
                        ins[q] = self.vectors[slot][j];
                    }
                    if let Err(m) = stage_eval(*stage, &ins[..i.len()], &mut res[..o.len()]) {
                        failure = Some((j, m));
                        break;
                    }
                    for (q, col) in outs.iter_mut().enumerate() {
                        col[j] = res[q];
                    }
                }
                for (col, &r) in outs.into_iter().zip(o) {
                    self.vectors[p.slot[r]] = col;
                }
                if let Some((j, m)) = failure {
                    return Err(self.err(index0 + j as u64, m));
                }
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn read(&self, r: usize, j: usize) -> f64 {
        match self.p.slot[r] {
            usize::MAX => self.scalars[r],
            s => self.vectors[s][j],
        }
    }
}

/// Append the positions of `x` where `f` holds. Eight at a time with a branch-free test first, so a
/// filter that keeps little costs about one vectorised comparison per point.
#[inline(always)]
/// Keep the positions of `kept` that are also in `cand` (both ascending).
fn intersect(kept: &mut Vec<u32>, cand: &[u32]) {
    let mut c = 0;
    kept.retain(|&j| {
        while c < cand.len() && cand[c] < j {
            c += 1;
        }
        c < cand.len() && cand[c] == j
    });
}

fn keep_where(kept: &mut Vec<u32>, x: &[f64], f: impl Fn(f64) -> bool) {
    let mut chunks = x.chunks_exact(8);
    let mut base = 0u32;
    for chunk in &mut chunks {
        let mut any = false;
        for &v in chunk {
            any |= f(v);
        }
        if any {
            for (k, &v) in chunk.iter().enumerate() {
                if f(v) {
                    kept.push(base + k as u32);
                }
            }
        }
        base += 8;
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        if f(v) {
            kept.push(base + k as u32);
        }
    }
}

/// Strength reduction: a wall clock over a GPU-count axis becomes GPU-hours × 1/(24·GPUs), with the
/// reciprocals computed (and the counts checked) once per axis value instead of once per point.
fn reduce_wall_clock(spec: &mut PlanSpec) -> Result<(), String> {
    let mut column_of = std::collections::HashMap::new();
    for (ai, ax) in spec.axes.iter().enumerate() {
        for (ci, c) in ax.columns.iter().enumerate() {
            column_of.insert(c.reg, (ai, ci));
        }
    }
    let mut recips: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for k in 0..spec.ops.len() {
        let (gh, g, w) = match &spec.ops[k] {
            OpSpec::Model { stage: Stage::Wall, i, o } if i.len() == 2 && o.len() == 1 => (i[0], i[1], o[0]),
            _ => continue,
        };
        let Some(&(ai, ci)) = column_of.get(&g) else { continue };
        let recip = match recips.get(&g) {
            Some(&r) => r,
            None => {
                let values = &spec.axes[ai].columns[ci].values;
                if let Some(bad) = values.iter().find(|&&v| !(v >= 1.0 && v < 9.0e15 && v.fract() == 0.0)) {
                    return Err(format!("gpus: got {}, expected a whole number from 1 to 4.5e15", bad.shown()));
                }
                let r = spec.registers;
                spec.registers += 1;
                let column =
                    AxisColumn { reg: r, values: values.iter().map(|&v| 1.0 / (v * 24.0)).collect(), gen: None };
                spec.axes[ai].columns.push(column);
                recips.insert(g, r);
                r
            }
        };
        spec.ops[k] = OpSpec::Bin { op: BinOp::Mul, a: gh, b: recip, o: w, msg: None };
    }
    Ok(())
}

fn lookup(t: &TableSpec, a: f64, b: f64) -> f64 {
    let rows = t.values.len() / t.cols;
    if a >= 0.0 && b >= 0.0 && (a as usize) < rows && (b as usize) < t.cols {
        t.values[a as usize * t.cols + b as usize]
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Program {
        Program::from_json(json).unwrap()
    }

    /// x in [1, 2, 3] (outer), y in 0..5000 (inner, split in blocks); z = x * y; keep z % 2 == 0 via
    /// floor(z / 2) * 2 == z.
    fn product_plan() -> String {
        let ys: Vec<f64> = (0..5000).map(|v| v as f64).collect();
        format!(
            r#"{{"registers": 8, "consts": [[2, 2.0]],
                "axes": [{{"len": 3, "columns": [{{"reg": 0, "values": [1, 2, 3]}}]}},
                         {{"len": 5000, "columns": [{{"reg": 1, "values": {ys:?}}}]}}],
                "ops": [{{"k": "bin", "op": "mul", "a": 0, "b": 1, "o": 3}},
                        {{"k": "bin", "op": "div", "a": 3, "b": 2, "o": 4}},
                        {{"k": "un", "op": "floor", "a": 4, "o": 5}},
                        {{"k": "bin", "op": "mul", "a": 5, "b": 2, "o": 6}},
                        {{"k": "bin", "op": "eq", "a": 6, "b": 3, "o": 7}}],
                "filters": [7],
                "outputs": [{{"reg": 3, "kind": "f64"}}]}}"#
        )
    }

    struct Collect(Vec<f64>);
    impl Sink for Collect {
        fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], _index0: u64) {
            self.0.extend(kept.iter().map(|&j| columns[0].at(j as usize)));
        }
    }

    #[test]
    fn product_order_filter_and_ranges() {
        let p = plan(&product_plan());
        assert_eq!(p.total(), 15000);
        let mut all = Collect(vec![]);
        p.run(0, p.total(), &mut all).unwrap();
        let expect: Vec<f64> = (1..=3)
            .flat_map(|x| (0..5000).map(move |y| (x * y) as f64))
            .filter(|z| z % 2.0 == 0.0)
            .collect();
        assert_eq!(all.0, expect);
        // Any split of the index range gives the same rows.
        let mut parts = Collect(vec![]);
        for (a, b) in [(0, 7), (7, 4999), (4999, 5001), (5001, 12345), (12345, 15000)] {
            p.run(a, b, &mut parts).unwrap();
        }
        assert_eq!(parts.0, expect);
    }

    #[test]
    fn division_by_zero_names_the_point() {
        let json = r#"{"registers": 3, "axes": [{"len": 4, "columns": [{"reg": 0, "values": [2, 1, 0, 3]}]}],
            "consts": [[1, 1.0]], "messages": ["derive.x = 1 / y"],
            "ops": [{"k": "bin", "op": "div", "a": 1, "b": 0, "o": 2, "msg": 0}],
            "outputs": [{"reg": 2, "kind": "f64"}]}"#;
        let err = plan(json).run(0, 4, &mut Count(0)).unwrap_err();
        assert_eq!(err.index, 2);
        assert!(err.message.contains("derive.x"));
    }

    #[test]
    fn outer_filters_skip_whole_blocks() {
        // keep x >= 2 (outer level): 2 of 3 outer values survive.
        let json = r#"{"registers": 4, "consts": [[2, 2.0]],
            "axes": [{"len": 3, "columns": [{"reg": 0, "values": [1, 2, 3]}]},
                     {"len": 10, "columns": [{"reg": 1, "values": [0,1,2,3,4,5,6,7,8,9]}]}],
            "ops": [{"k": "bin", "op": "ge", "a": 0, "b": 2, "o": 3}],
            "filters": [3], "outputs": [{"reg": 1, "kind": "f64"}]}"#;
        let mut c = Count(0);
        assert_eq!(plan(json).run(0, 30, &mut c).unwrap(), 20);
    }

    /// A sweep with ties and a real front: group g (outer, 2), a (outer, 9), and an inner axis of
    /// 300 positions carrying two random numbers x, y (a noisy anti-diagonal, with ties). Keys:
    /// k1 = x + a, k2 = y - a (vectors), k3 = floor(a / 3) (one value per block, equal in three
    /// blocks). Filter: x != 3.
    fn reduction_plan(ranked: &[usize]) -> Program {
        let mut seed = 12345u64;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) % m) as f64
        };
        // Along an anti-diagonal with noise, on a coarse grid: long fronts, ties in each key.
        let xs: Vec<f64> = (0..300).map(|_| next(40) * 5.0).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 200.0 - x + next(4) * 5.0).collect();
        let json = format!(
            r#"{{"registers": 12, "consts": [[5, 3.0]],
                "axes": [{{"len": 2, "columns": [{{"reg": 0, "values": [0, 1]}}]}},
                         {{"len": 9, "columns": [{{"reg": 1, "values": [0,1,2,3,4,5,6,7,8]}}]}},
                         {{"len": 300, "columns": [{{"reg": 2, "values": {xs:?}}}, {{"reg": 3, "values": {ys:?}}}]}}],
                "ops": [{{"k": "bin", "op": "add", "a": 2, "b": 1, "o": 6}},
                        {{"k": "bin", "op": "sub", "a": 3, "b": 1, "o": 7}},
                        {{"k": "bin", "op": "ne", "a": 2, "b": 5, "o": 8}},
                        {{"k": "bin", "op": "div", "a": 1, "b": 5, "o": 9}},
                        {{"k": "un", "op": "floor", "a": 9, "o": 10}}],
                "filters": [8],
                "outputs": [{{"reg": 0, "kind": "f64"}}, {{"reg": 6, "kind": "f64"}}, {{"reg": 7, "kind": "f64"}},
                            {{"reg": 10, "kind": "f64"}}],
                "ranked": {ranked:?}}}"#
        );
        plan(&json)
    }

    struct Rows(Vec<(u64, Vec<f64>)>);
    impl Sink for Rows {
        fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
            for &j in kept {
                self.0.push((index0 + j as u64, columns.iter().map(|c| c.at(j as usize)).collect()));
            }
        }
    }

    #[test]
    fn pruned_reductions_match_brute_force() {
        let all = {
            let mut r = Rows(vec![]);
            reduction_plan(&[]).run(0, 5400, &mut r).unwrap();
            r.0
        };
        let splits: [&[u64]; 4] = [&[0, 5400], &[0, 1, 299, 300, 2000, 5400], &[0, 4000, 5400], &[0, 2700, 5400]];
        for keys in [vec![(1, false), (2, false)], vec![(1, false), (2, true)], vec![(1, false), (2, false), (3, true)],
                     vec![(3, false), (1, false)]] {
            // Brute force: per group, the rows no other row dominates, by (first key, index).
            let key = |row: &[f64]| -> Vec<f64> { keys.iter().map(|&(c, m)| if m { -row[c] } else { row[c] }).collect() };
            let mut expect = vec![];
            for g in [0.0, 1.0] {
                let members: Vec<_> = all.iter().filter(|(_, r)| r[0] == g).collect();
                let mut front: Vec<_> = members
                    .iter()
                    .filter(|(_, r)| !members.iter().any(|(_, o)| dominates(&key(o), &key(r))))
                    .map(|(i, r)| (key(r)[0], *i))
                    .collect();
                front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                expect.extend(front.into_iter().map(|(_, i)| i));
            }
            let ranked: Vec<usize> = vec![0, 6, 7, 10];
            let p = reduction_plan(&ranked);
            for cuts in splits {
                let mut total = Pareto::new(keys.clone(), vec![0]);
                for w in cuts.windows(2) {
                    let mut part = Pareto::new(keys.clone(), vec![0]);
                    p.run(w[0], w[1], &mut part).unwrap();
                    total.merge(part);
                }
                let got: Vec<u64> = total.finish().into_iter().map(|c| c.index).collect();
                assert_eq!(got, expect, "keys {keys:?}, cuts {cuts:?}");
            }
        }
        for (key, maximise) in [(1, false), (2, true), (3, false), (3, true)] {
            let mut expect = vec![];
            for g in [0.0, 1.0] {
                let mut members: Vec<_> = all
                    .iter()
                    .filter(|(_, r)| r[0] == g)
                    .map(|(i, r)| (if maximise { -r[key] } else { r[key] }, *i))
                    .collect();
                members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                expect.extend(members.into_iter().take(7).map(|(_, i)| i));
            }
            let p = reduction_plan(&[0, 6, 7, 10]);
            for cuts in splits {
                let mut total = TopK::new(7, key, maximise, vec![0]);
                for w in cuts.windows(2) {
                    let mut part = TopK::new(7, key, maximise, vec![0]);
                    p.run(w[0], w[1], &mut part).unwrap();
                    total.merge(part);
                }
                let got: Vec<u64> = total.finish().into_iter().map(|c| c.index).collect();
                assert_eq!(got, expect, "key {key}, cuts {cuts:?}");
            }
        }
    }

    #[test]
    fn two_column_fronts_match_brute_force() {
        let mut seed = 99u64;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) % m) as f64
        };
        for trial in 0..200 {
            let n = 1 + (trial * 7) % 300;
            let grid = 1 + trial as u64 % 50; // coarse grids make ties
            let pts: Vec<Vec<f64>> = (0..n)
                .map(|_| {
                    let x = next(grid);
                    vec![x, (grid as f64 - x) + next(1 + grid / 5)]
                })
                .collect();
            let mut front = Pareto::new(vec![(0, false), (1, false)], vec![]);
            for (i, k) in pts.iter().enumerate() {
                front.offer(vec![], k.clone(), i as u64, || k.clone());
            }
            let mut got: Vec<u64> = front.finish().into_iter().map(|c| c.index).collect();
            got.sort();
            let expect: Vec<u64> = (0..n)
                .filter(|&i| !pts.iter().any(|o| dominates(o, &pts[i])))
                .map(|i| i as u64)
                .collect();
            assert_eq!(got, expect, "trial {trial}");
        }
    }

    #[test]
    fn bad_plans_are_rejected() {
        assert!(Program::from_json(r#"{"registers": 1, "axes": [], "ops": [], "outputs": [{"reg": 0, "kind": "f64"}]}"#).is_err());
        assert!(Program::from_json("{").is_err());
    }

    #[test]
    fn all_finite_finds_every_non_finite_value_at_every_position() {
        let specials = [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN];
        let ordinary = [0.0, -0.0, 5e-324, -5e-324, f64::MAX, f64::MIN, 1.0, -2.5e300, f64::MIN_POSITIVE];
        for n in [0usize, 1, 3, 4, 5, 8, 13, 4096] {
            let base: Vec<f64> = (0..n).map(|i| ordinary[i % ordinary.len()]).collect();
            assert!(all_finite(&base));
            for j in 0..n.min(13) {
                for &x in &specials {
                    let mut v = base.clone();
                    v[j] = x;
                    assert!(!all_finite(&v), "n={n} j={j} x={x}");
                }
            }
        }
    }

    #[test]
    fn checked_ops_name_the_reason_and_pass_missing_values() {
        assert_eq!(checked(Some(BinOp::Div), None, 1.0, 0.0, f64::INFINITY), Some("division by zero"));
        assert_eq!(checked(Some(BinOp::Div), None, 0.0, 0.0, f64::NAN), Some("division by zero"));
        assert_eq!(checked(Some(BinOp::Div), None, 3.0, 1e-308, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
        assert_eq!(checked(Some(BinOp::Pow), None, -1e-200, -2.0, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
        assert_eq!(checked(Some(BinOp::Pow), None, 0.0, -1.0, f64::INFINITY), Some("zero to a negative power"));
        assert_eq!(checked(Some(BinOp::Pow), None, -8.0, 0.5, f64::NAN), Some("a negative number to a fractional power"));
        assert_eq!(checked(None, Some(UnOp::Log), -1.0, 0.0, f64::NAN), Some("log of a number <= 0"));
        assert_eq!(checked(None, Some(UnOp::Sqrt), -1.0, 0.0, f64::NAN), Some("square root of a negative number"));
        assert_eq!(checked(Some(BinOp::Mul), None, 1e308, 10.0, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
        assert_eq!(checked(Some(BinOp::Add), None, f64::NAN, 1.0, f64::NAN), None); // a missing value passes
        assert_eq!(checked(Some(BinOp::Mul), None, 2.0, 3.0, 6.0), None);
        assert!(bin_checked(BinOp::Min, f64::NAN, 1.0).is_nan() && bin(BinOp::Min, f64::NAN, 1.0) == 1.0);
    }
}
