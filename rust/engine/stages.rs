//! Cost-model stages: their register layouts, and thin adapters from registers (NaN = absent) to
//! the cost model in `model::estimate` and `model::memory`.

use super::*;

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



pub(crate) fn opt(x: f64) -> Option<f64> {
    if x.is_nan() {
        None
    } else {
        Some(x)
    }
}

pub(crate) fn pick<T: Copy>(names: &[T], x: f64, what: &str) -> Result<T, String> {
    if x >= 0.0 && (x as usize) < names.len() && x.fract() == 0.0 {
        Ok(names[x as usize])
    } else {
        Err(format!("{what}: bad category index {x}"))
    }
}

pub(crate) const CONVENTIONS: [Convention; 3] = [Convention::SixND, Convention::Palm, Convention::Megatron];
pub(crate) const MODES: [Mode; 3] = [Mode::Pretrain, Mode::Finetune, Mode::Lora];
pub(crate) const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];
pub(crate) const PRECISIONS: [Precision; 6] =
    [Precision::Fp32, Precision::Tf32, Precision::Bf16, Precision::Fp16, Precision::Fp8, Precision::Fp4];
pub(crate) const OPTIMIZERS: [Optimizer; 3] = [Optimizer::Adam, Optimizer::Adam8bit, Optimizer::Sgd];

/// Model states of a memory stage from its inputs (the `MEM_GPU_IN` layout).
#[inline(always)]
pub(crate) fn mem_states(v: impl Fn(usize) -> f64) -> States {
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
pub(crate) fn memory_row(m: &crate::model::types::Memory) -> [f64; 7] {
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
pub(crate) fn whole(x: f64) -> bool {
    const ROUND: f64 = 4503599627370496.0;
    x >= 1.0 && x < ROUND && (x + ROUND) - ROUND == x
}

pub(crate) fn stage_eval(stage: Stage, i: &[f64], o: &mut [f64]) -> Result<(), String> {
    let e = |err: crate::model::types::ModelError| err.to_string();
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
            crate::model::estimate::check_architecture(&p.arch).map_err(e)?;
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
                crate::model::estimate::activations_finite(a, &p).map_err(e)?;
            }
            for x in [s.weights, s.grads, s.optim, s.shardable, s.fixed] {
                crate::model::estimate::finite(x, "params", p.params, "the memory per GPU").map_err(e)?;
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

