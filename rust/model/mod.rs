//! The cost model: plain Rust, no PyO3 — FLOPs, utilisation, time, money, energy, memory.

pub mod estimate;
pub mod flops;
pub mod goodput;
pub mod lifetime;
pub mod memory;
pub mod search;
pub mod serve;
pub mod step;
pub mod types;
