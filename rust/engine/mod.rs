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

mod ir;
mod kernels;
pub mod parallel;
mod passes;
mod schedule;
mod sink;
mod stages;
mod worker;
#[cfg(test)]
mod tests;

pub use ir::*;
pub(crate) use kernels::*;
pub(crate) use passes::*;
pub use schedule::*;
pub use sink::*;
pub use stages::*;
pub(crate) use worker::*;


pub(crate) use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use serde::Deserialize;

pub(crate) use crate::model::estimate::{money, point_flops, positive, utilisation, wall_clock_days, whole_at_least_one};
pub(crate) use crate::model::memory::{per_gpu, states, States};
pub(crate) use crate::model::types::{
    Architecture, Attention, BaseWeights, Convention, Logits, Mode, Optimizer, Point, Precision, Recompute, Shown, Trainable, Utilisation,
};


/// Most points evaluated together as vectors.
pub const BLOCK: usize = 4096;
/// Inner axes are added until a block has at least this many points: longer blocks amortise the
/// outer work, shorter ones keep more of the work at outer (hoisted) levels.
pub const MIN_BLOCK: usize = 64;

