//! Cost-model stages: their register layouts, and thin adapters from registers (NaN = absent) to
//! the cost model in `model::estimate` and `model::memory`.

use super::*;

/// Cost-model stages; their register layouts are the `*In` / `*Out` enums below.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Flops,
    Time,
    Wall,
    Money,
    MemStates,
    MemGpu,
    Step,
    /// The step model's checks alone, its columns left null: a step whose columns nothing reads
    /// (`Program::new` turns such a `Step` into it), so that its input errors are still reported
    /// without computing a step per point.
    #[serde(skip_deserializing)]
    StepCheck,
    Goodput,
    GoodputShape,
    Search,
    ServeLayout,
    ServeBatch,
    ServeRate,
    Lifetime,
}

/// A stage's register layout by name: `layout!(FlopsIn { params, tokens })` defines an enum
/// whose variants index a stage's input (or output) slice (`i[FlopsIn::tokens]`), and `NAMES`,
/// the names the compiler lays registers out by (`stage_layouts()`).
macro_rules! layout {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum $name { $($field),* }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
        }

        impl std::ops::Index<$name> for [f64] {
            type Output = f64;
            #[inline(always)]
            fn index(&self, k: $name) -> &f64 {
                &self[k as usize]
            }
        }

        impl std::ops::IndexMut<$name> for [f64] {
            #[inline(always)]
            fn index_mut(&mut self, k: $name) -> &mut f64 {
                &mut self[k as usize]
            }
        }
    };
}

layout!(FlopsIn {
    params, active_params, tokens, layers, d_model, heads, kv_heads, head_dim, ffn_dim, vocab, seq_len, experts,
    experts_per_token, gated_mlp, convention, mode, recompute, lora_rank, lora_fraction,
});
layout!(FlopsOut { trainable_params, model_flops_per_token, model_flops, hardware_flops });
layout!(TimeIn { model_flops, hardware_flops, peak_tflops, util_kind, util_value, gpus });
layout!(TimeOut { mfu, hfu, gpu_hours });
layout!(WallIn { gpu_hours, gpus });
layout!(WallOut { wall_clock_days });
layout!(MoneyIn { gpu_hours, usd_per_gpu_hour, watts, pue, grid_kg_co2e_per_kwh });
layout!(MoneyOut { cost_usd, energy_kwh, co2e_kg });
layout!(MemStatesIn {
    params, active_params, trainable_params, layers, d_model, heads, kv_heads, head_dim, ffn_dim, vocab, seq_len, experts,
    experts_per_token, gated_mlp, precision, optimizer, zero, tensor_parallel, sequence_parallel, pipeline_parallel,
    context_parallel, expert_parallel, micro_batch, recompute, attention, logits, mode, base_weights, gpu_memory_gb, arch_given,
    framework_gb, allocator_share, dropout, interleave, lora_dropout, paged_optimizer,
});
layout!(MemStatesOut {
    state_weights, state_grads, state_optim, state_weights_all, state_grads_all, state_optim_all, state_activations,
    state_logits, state_overhead, state_shardable, state_fixed, min_gpus, memory_basis,
});
layout!(MemGpuIn {
    state_weights, state_grads, state_optim, state_weights_all, state_grads_all, state_optim_all, state_activations,
    state_logits, state_overhead, state_shardable, state_fixed, zero, gpus, tensor_parallel, pipeline_parallel,
    context_parallel, expert_parallel, gpu_memory_gb, min_gpus,
});
layout!(MemGpuOut {
    weights_gb, gradients_gb, optimizer_gb, activations_gb, logits_gb, overhead_gb, memory_gb_per_gpu, data_parallel,
    fits,
});

layout!(StepIn {
    params, active_params, trainable_params, layers, d_model, heads, kv_heads, head_dim, ffn_dim, vocab, seq_len, experts,
    experts_per_token, gated_mlp, mode, recompute, attention, precision, model_flops_per_token, peak_tflops, gpus,
    tensor_parallel, pipeline_parallel, context_parallel, expert_parallel, sequence_parallel, micro_batch, interleave,
    zero, global_batch_tokens, scale_up_domain, scale_up_gb_per_s, scale_out_gbps, hbm_tbps, tp_within_domain,
    peak16_tflops,
});
layout!(StepOut {
    step_time_s, tokens_per_s, mfu, grad_accum, global_batch_tokens, bubble_fraction, comm_exposed_fraction,
    compute_s, memory_bound_s, tp_comm_s, ep_comm_s, cp_comm_s, pp_comm_s, dp_comm_s, optimizer_s, bubble_s,
});

layout!(GoodputIn {
    gpus, params, trainable_params, mode, gpu_mtbf_hours, checkpoint_gb_per_s, restart_minutes, goodput, util_kind,
    gpu_hours, mfu, hfu, solving,
});
layout!(GoodputOut { ettr, checkpoint_interval_min, interruptions, gpu_hours, mfu, hfu, mfu_average });

layout!(GoodputShapeIn { params, trainable_params, mode });
layout!(GoodputShapeOut { factor, interval_over_mtbf });

layout!(SearchIn {
    params, active_params, trainable_params, layers, d_model, heads, kv_heads, head_dim, ffn_dim, vocab, seq_len, experts,
    experts_per_token, gated_mlp, mode, attention, logits, base_weights, precision, optimizer, model_flops_per_token,
    peak_tflops, gpu_memory_gb, gpus, global_batch_tokens, scale_up_domain, scale_up_gb_per_s, scale_out_gbps, hbm_tbps,
    sequence_parallel, tensor_parallel, pipeline_parallel, context_parallel, expert_parallel, micro_batch, interleave,
    recompute, zero, tp_within_domain, peak16_tflops, framework_gb, allocator_share, dropout, lora_dropout,
    paged_optimizer,
});
layout!(SearchOut {
    step_time_s, tokens_per_s, mfu, grad_accum, global_batch_tokens, bubble_fraction, comm_exposed_fraction,
    compute_s, memory_bound_s, tp_comm_s, ep_comm_s, cp_comm_s, pp_comm_s, dp_comm_s, optimizer_s, bubble_s,
    tensor_parallel, pipeline_parallel, context_parallel, expert_parallel, micro_batch, interleave, recompute, zero,
    found, candidates,
});

layout!(ServeIn {
    params, active_params, layers, d_model, heads, kv_heads, head_dim, experts, experts_per_token, kv_latent,
    peak_tflops,
    hbm_tbps, gpu_memory_gb, scale_up_gb_per_s, scale_up_domain, scale_out_gbps, tensor_parallel, pipeline_parallel,
    expert_parallel, weights, kv,
    input_tokens, output_tokens, max_batch, mbu, mfu_decode, mfu_prefill, tp_efficiency, kv_fraction, reserved_gb,
    max_tpot_s,
    max_ttft_s,
});
layout!(ServeOut {
    weights_gb_per_gpu, kv_bytes_per_token, kv_gb_per_sequence, max_batch, ttft_s, critical_batch, default_batch,
    read0, read1, math1, comm0, comm1, groups, layout_valid,
});
layout!(ServeBatchIn {
    batch, default_batch, max_batch, read0, read1, math1, comm0, comm1, ttft_s, input_tokens, output_tokens,
    tensor_parallel, pipeline_parallel, groups, max_tpot_s, max_ttft_s, layout_valid,
});
layout!(ServeBatchOut { batch, tpot_s, compute_bound, memory_fits, meets_bounds, fits, decode_s_per_token });
layout!(ServeRateIn { batch, tpot_s, ttft_s, input_tokens, output_tokens, tensor_parallel, pipeline_parallel, groups });
layout!(ServeRateOut { latency_s, output_tokens_per_s, output_tokens_per_s_per_gpu, input_tokens_per_s });

layout!(LifetimeIn { e, a, b, alpha, beta, loss, inference_tokens });
layout!(LifetimeOut { params, tokens });

/// The most registers a stage reads and writes (the workers' scratch sizes; a test checks every layout).
pub(crate) const MAX_STAGE_INPUTS: usize = 48;
pub(crate) const MAX_STAGE_OUTPUTS: usize = 32;

impl Stage {
    pub fn layout(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Stage::Flops => (FlopsIn::NAMES, FlopsOut::NAMES),
            Stage::Time => (TimeIn::NAMES, TimeOut::NAMES),
            Stage::Wall => (WallIn::NAMES, WallOut::NAMES),
            Stage::Money => (MoneyIn::NAMES, MoneyOut::NAMES),
            Stage::MemStates => (MemStatesIn::NAMES, MemStatesOut::NAMES),
            Stage::MemGpu => (MemGpuIn::NAMES, MemGpuOut::NAMES),
            Stage::Step | Stage::StepCheck => (StepIn::NAMES, StepOut::NAMES),
            Stage::Goodput => (GoodputIn::NAMES, GoodputOut::NAMES),
            Stage::Search => (SearchIn::NAMES, SearchOut::NAMES),
            Stage::GoodputShape => (GoodputShapeIn::NAMES, GoodputShapeOut::NAMES),
            Stage::ServeLayout => (ServeIn::NAMES, ServeOut::NAMES),
            Stage::ServeBatch => (ServeBatchIn::NAMES, ServeBatchOut::NAMES),
            Stage::ServeRate => (ServeRateIn::NAMES, ServeRateOut::NAMES),
            Stage::Lifetime => (LifetimeIn::NAMES, LifetimeOut::NAMES),
        }
    }
}



/// The replica a serve_batch stage's inputs describe (None: a layout the model does not serve).
#[inline]
pub(crate) fn serve_replica(i: &[f64]) -> Option<crate::model::serve::Replica> {
    use ServeBatchIn as I;
    (i[I::layout_valid] == 1.0).then(|| crate::model::serve::Replica {
        tensor_parallel: i[I::tensor_parallel],
        pipeline_parallel: i[I::pipeline_parallel],
        groups: i[I::groups],
        input_tokens: i[I::input_tokens],
        output_tokens: i[I::output_tokens],
        weights_bytes_per_gpu: f64::NAN, // (the layout stage's outputs)
        kv_bytes_per_token: f64::NAN,
        max_batch: i[I::max_batch],
        ttft_s: i[I::ttft_s],
        critical_batch: f64::NAN,
        read0: i[I::read0],
        read1: i[I::read1],
        math1: i[I::math1],
        comm0: i[I::comm0],
        comm1: i[I::comm1],
        max_tpot: i[I::max_tpot_s],
        max_ttft: i[I::max_ttft_s],
    })
}

/// The replica a serve_rate stage's inputs describe (what its rates need).
#[inline]
pub(crate) fn serve_rate_replica(i: &[f64]) -> crate::model::serve::Replica {
    use ServeRateIn as I;
    crate::model::serve::Replica {
        tensor_parallel: i[I::tensor_parallel],
        pipeline_parallel: i[I::pipeline_parallel],
        groups: i[I::groups],
        input_tokens: i[I::input_tokens],
        output_tokens: i[I::output_tokens],
        weights_bytes_per_gpu: f64::NAN,
        kv_bytes_per_token: f64::NAN,
        max_batch: f64::NAN,
        ttft_s: i[I::ttft_s],
        critical_batch: f64::NAN,
        read0: f64::NAN,
        read1: f64::NAN,
        math1: f64::NAN,
        comm0: f64::NAN,
        comm1: f64::NAN,
        max_tpot: f64::NAN,
        max_ttft: f64::NAN,
    }
}

/// One serve_batch row: the replica at the batch given (NaN: its default batch).
#[inline]
pub(crate) fn serve_batch_row(r: Option<&crate::model::serve::Replica>, batch: f64, default: f64, o: &mut [f64]) {
    use ServeBatchOut as O;
    let flag = |x: bool| if x { 1.0 } else { 0.0 };
    let served = r.and_then(|r| r.at(if batch.is_nan() { default } else { batch }).ok().map(|s| (r, s)));
    let Some((r, s)) = served else {
        // A layout the model does not serve, or no sequence's cache fits: a row with fits false.
        for x in o[..ServeBatchOut::NAMES.len()].iter_mut() {
            *x = f64::NAN;
        }
        o[O::fits] = 0.0;
        if r.is_some() {
            o[O::memory_fits] = 0.0;
        }
        return;
    };
    if !(s.batch <= r.max_batch) {
        // A batch the memory cannot hold: no figures (as `Replica::columns` writes it).
        for x in o[..ServeBatchOut::NAMES.len()].iter_mut() {
            *x = f64::NAN;
        }
        (o[O::batch], o[O::memory_fits], o[O::fits]) = (s.batch, 0.0, 0.0);
        return;
    }
    o[O::batch] = s.batch;
    o[O::tpot_s] = s.tpot_s;
    o[O::compute_bound] = flag(s.compute_bound);
    o[O::memory_fits] = 1.0;
    o[O::meets_bounds] = flag(s.meets_bounds);
    o[O::fits] = flag(s.meets_bounds);
    o[O::decode_s_per_token] = s.decode_s_per_token;
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

/// The engine's category orders: register value i of a category input is element i. The names,
/// in this order, are what the compiler encodes by (`categories()` exports them to Python).
pub(crate) const CONVENTIONS: [Convention; 3] = [Convention::SixND, Convention::Palm, Convention::Megatron];
pub(crate) const MODES: [Mode; 3] = [Mode::Pretrain, Mode::Finetune, Mode::Lora];
pub(crate) const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];
pub(crate) const PRECISIONS: [Precision; 6] =
    [Precision::Fp32, Precision::Tf32, Precision::Bf16, Precision::Fp16, Precision::Fp8, Precision::Fp4];
pub(crate) const OPTIMIZERS: [Optimizer; 3] = [Optimizer::Adam, Optimizer::Adam8bit, Optimizer::Sgd];
/// Where the activation memory's architecture came from (the `memory_basis` output).
pub(crate) const MEMORY_BASES: [&str; 3] = ["preset", "architecture", "rule"];
/// The largest whole count (2^52): every whole number below it is a float exactly.
pub(crate) const MAX_WHOLE: f64 = 4_503_599_627_370_496.0;
pub(crate) const ATTENTIONS: [Attention; 2] = [Attention::Flash, Attention::Eager];
pub(crate) const LOGITS: [Logits; 2] = [Logits::Full, Logits::Chunked];
pub(crate) const BASE_WEIGHTS: [BaseWeights; 3] = [BaseWeights::Bf16, BaseWeights::Int8, BaseWeights::Nf4];
/// How served weights and KV caches are stored (the serving stage's `weights` and `kv`).
pub(crate) const WIDTHS: [crate::model::serve::Width; 4] = crate::model::serve::Width::ALL;

/// Model states of a memory stage from its inputs (the `MemGpuIn` layout).
#[inline(always)]
pub(crate) fn mem_states(v: impl Fn(MemGpuIn) -> f64) -> States {
    use MemGpuIn as I;
    States {
        weights: v(I::state_weights),
        grads: v(I::state_grads),
        optim: v(I::state_optim),
        weights_all: v(I::state_weights_all),
        grads_all: v(I::state_grads_all),
        optim_all: v(I::state_optim_all),
        activations: opt(v(I::state_activations)),
        logits: v(I::state_logits),
        overhead: v(I::state_overhead),
        rule: false, // (the basis is the states stage's output; per-GPU memory does not need it)
        shardable: v(I::state_shardable),
        fixed: v(I::state_fixed),
        min_gpus: opt(v(I::min_gpus)),
    }
}

/// Per-GPU memory as the `MemGpuOut` registers (NaN = no value; `fits` as 1/0).
#[inline(always)]
pub(crate) fn memory_row(m: &crate::model::types::Memory) -> [f64; MemGpuOut::NAMES.len()] {
    let mut row = [0.0; MemGpuOut::NAMES.len()];
    use MemGpuOut as O;
    row[O::weights_gb] = m.weights_gb;
    row[O::gradients_gb] = m.gradients_gb;
    row[O::optimizer_gb] = m.optimizer_gb;
    row[O::activations_gb] = m.activations_gb.unwrap_or(f64::NAN);
    row[O::logits_gb] = m.logits_gb;
    row[O::overhead_gb] = m.overhead_gb;
    row[O::memory_gb_per_gpu] = m.total_gb;
    row[O::data_parallel] = m.data_parallel.unwrap_or(f64::NAN);
    row[O::fits] = m.fits.map_or(f64::NAN, |f| if f { 1.0 } else { 0.0 });
    row
}

/// The memory model's settings both memory stages take (`training.framework_gb`,
/// `allocator_share`, `dropout`, `lora_dropout`, `paged_optimizer`), set on `p`; the overhead's
/// two numbers checked finite and not negative.
pub(crate) fn memory_settings(p: &mut Point, [framework_gb, allocator_share, dropout, lora_dropout, paged]: [f64; 5])
                              -> Result<(), crate::model::types::ModelError> {
    for (field, x) in [("framework_gb", framework_gb), ("allocator_share", allocator_share)] {
        if !(x.is_finite() && x >= 0.0) {
            return Err(crate::model::types::out_of_range(field, x, "a finite number >= 0"));
        }
    }
    (p.framework_gb, p.allocator_share) = (framework_gb, allocator_share);
    (p.dropout, p.lora_dropout, p.paged_optimizer) = (dropout != 0.0, lora_dropout != 0.0, paged != 0.0);
    Ok(())
}

/// A whole number >= 1, tested without libm's trunc (slow on baseline x86-64, and it keeps loops
/// from vectorising): (x + 2^52) - 2^52 rounds to an integer.
#[inline(always)]
pub(crate) fn whole(x: f64) -> bool {
    const ROUND: f64 = 4503599627370496.0;
    x >= 1.0 && x < ROUND && (x + ROUND) - ROUND == x
}

/// The layout search's allowed values as the model takes them (categories decoded), or why not.
pub(crate) fn search_space(sp: &SearchSpace) -> Result<crate::model::search::Space, String> {
    let degrees = |name: &str, xs: &Option<Vec<f64>>| -> Result<Option<Vec<f64>>, String> {
        if let Some(v) = xs {
            if v.is_empty() || v.len() > 256 || v.iter().any(|&x| !(whole(x) && x >= 1.0)) {
                return Err(format!("search space {name}: expected 1 to 256 whole numbers >= 1, got {v:?}"));
            }
        }
        Ok(xs.clone())
    };
    Ok(crate::model::search::Space {
        tensor: degrees("tensor", &sp.tensor)?,
        pipeline: degrees("pipeline", &sp.pipeline)?,
        context: degrees("context", &sp.context)?,
        expert: degrees("expert", &sp.expert)?,
        micro_batch: degrees("micro_batch", &sp.micro_batch)?,
        interleave: degrees("interleave", &sp.interleave)?,
        recompute: match &sp.recompute {
            Some(v) if v.is_empty() || v.len() > 3 => return Err(format!("search space recompute: expected 1 to 3 values, got {v:?}")),
            Some(v) => Some(v.iter().map(|&x| pick(&RECOMPUTES, x, "search space recompute")).collect::<Result<_, _>>()?),
            None => None,
        },
        zero: match &sp.zero {
            Some(v) if !v.is_empty() && v.len() <= 4 && v.iter().all(|&z| [0.0, 1.0, 2.0, 3.0].contains(&z)) => Some(v.iter().map(|&z| z as u8).collect()),
            Some(v) => return Err(format!("search space zero: expected stages 0 to 3, got {v:?}")),
            None => None,
        },
    })
}

/// A TP wider than the scale-up domain where the user forbids it: the error (None: allowed).
fn tp_beyond_domain(tp: f64, domain: f64, forbidden: f64) -> Option<String> {
    (forbidden != 0.0 && tp > domain).then(|| {
        format!(
            "tensor_parallel: got {tp}, expected at most the scale-up domain's {domain} GPUs (tensor parallelism \
             is kept within a domain: tp_within_domain); give a TP of at most {domain}, or allow TP across domains"
        )
    })
}

pub(crate) fn stage_eval(stage: Stage, space: Option<&SearchSpace>, i: &[f64], o: &mut [f64]) -> Result<(), String> {
    let e = |err: crate::model::types::ModelError| err.to_string();
    match stage {
        Stage::Flops => {
            use {FlopsIn as I, FlopsOut as O};
            let mut p = Point::default();
            p.params = i[I::params];
            p.active_params = if i[I::active_params].is_nan() { p.params } else { i[I::active_params] };
            p.active_params = if i[I::active_params].is_nan() { i[I::params] } else { i[I::active_params] };
            p.tokens = i[I::tokens];
            positive("params", p.params).map_err(e)?;
            positive("active_params", p.active_params).map_err(e)?;
            positive("tokens", p.tokens).map_err(e)?;
            if p.active_params > p.params * (1.0 + 1e-12) {
                return Err(format!("active_params: got {}, expected at most params ({})", p.active_params, p.params));
            }
            // The architecture fields, in Architecture::FIELDS order from `layers` on.
            p.arch = architecture(&i[I::layers as usize..], i[I::gated_mlp]);
            crate::model::estimate::check_architecture(&p.arch).map_err(e)?;
            p.convention = pick(&CONVENTIONS, i[I::convention], "convention")?;
            p.mode = pick(&MODES, i[I::mode], "mode")?;
            p.recompute = pick(&RECOMPUTES, i[I::recompute], "recompute")?;
            p.lora = match (opt(i[I::lora_rank]), opt(i[I::lora_fraction])) {
                (Some(r), _) => Some(Trainable::Rank(r)),
                (None, Some(f)) => Some(Trainable::Fraction(f)),
                _ => None,
            };
            let (t, pt, m, h) = point_flops(&p).map_err(e)?;
            o[O::trainable_params] = t;
            o[O::model_flops_per_token] = pt;
            o[O::model_flops] = m;
            o[O::hardware_flops] = h;
        }
        Stage::Time => {
            use {TimeIn as I, TimeOut as O};
            positive("peak_tflops", i[I::peak_tflops]).map_err(e)?;
            let value = i[I::util_value];
            let kind = i[I::util_kind] as u8;
            if kind == 3 && value.is_nan() {
                // A predicted MFU the layout does not give (no step): no time, cost or energy.
                o[O::mfu] = f64::NAN;
                o[O::hfu] = f64::NAN;
                o[O::gpu_hours] = f64::NAN;
                return Ok(());
            }
            let util = match kind {
                0 | 3 => {
                    if !(value > 0.0 && value <= 1.0) {
                        return Err(format!("mfu: got {value}, expected a fraction in (0, 1]"));
                    }
                    Utilisation::Mfu(value)
                }
                1 => {
                    positive("gpu_hours", value).map_err(e)?;
                    Utilisation::GpuHours(value)
                }
                _ => {
                    positive("wall_clock_days", value).map_err(e)?;
                    Utilisation::WallClockDays(value)
                }
            };
            let (mfu, gh) = utilisation(i[I::model_flops], i[I::peak_tflops], util, opt(i[I::gpus])).map_err(e)?;
            o[O::mfu] = mfu;
            o[O::hfu] = mfu * i[I::hardware_flops] / i[I::model_flops];
            o[O::gpu_hours] = gh;
        }
        Stage::Wall => {
            use {WallIn as I, WallOut as O};
            whole_at_least_one("gpus", i[I::gpus]).map_err(e)?;
            o[O::wall_clock_days] = wall_clock_days(i[I::gpu_hours], i[I::gpus]);
        }
        Stage::Money => {
            use {MoneyIn as I, MoneyOut as O};
            let (price, watts, pue, grid) = (i[I::usd_per_gpu_hour], i[I::watts], i[I::pue], i[I::grid_kg_co2e_per_kwh]);
            if i[I::gpu_hours].is_nan() {
                // (no duration: a predicted step that the layout does not give)
                o[O::cost_usd] = f64::NAN;
                o[O::energy_kwh] = f64::NAN;
                o[O::co2e_kg] = f64::NAN;
                return Ok(());
            }
            if !(pue.is_finite() && pue >= 1.0) {
                return Err(format!("pue: got {pue}, expected a number >= 1"));
            }
            for (name, x) in [("usd_per_gpu_hour", price), ("grid_kg_co2e_per_kwh", grid)] {
                if !x.is_nan() && !(x.is_finite() && x >= 0.0) {
                    return Err(format!("{name}: got {x}, expected a finite number >= 0"));
                }
            }
            if !watts.is_nan() {
                positive("watts", watts).map_err(e)?;
            }
            let (c, en, co2) = money(i[I::gpu_hours], opt(price), opt(watts), pue, opt(grid)).map_err(e)?;
            o[O::cost_usd] = c.unwrap_or(f64::NAN);
            o[O::energy_kwh] = en.unwrap_or(f64::NAN);
            o[O::co2e_kg] = co2.unwrap_or(f64::NAN);
        }
        Stage::MemStates => {
            use {MemStatesIn as I, MemStatesOut as O};
            let mut p = Point::default();
            p.params = i[I::params];
            p.active_params = if i[I::active_params].is_nan() { p.params } else { i[I::active_params] };
            for (name, k) in [
                ("layers", I::layers), ("d_model", I::d_model), ("heads", I::heads), ("kv_heads", I::kv_heads),
                ("head_dim", I::head_dim), ("ffn_dim", I::ffn_dim), ("vocab", I::vocab), ("seq_len", I::seq_len),
                ("experts", I::experts),
                ("experts_per_token", I::experts_per_token),
            ] {
                p.arch.set(name, opt(i[k]));
            }
            p.arch.gated_mlp = i[I::gated_mlp] != 0.0 && !i[I::gated_mlp].is_nan();
            p.attention = pick(&ATTENTIONS, i[I::attention], "attention")?;
            p.logits = pick(&LOGITS, i[I::logits], "logits")?;
            p.base_weights = match opt(i[I::base_weights]) {
                Some(x) => Some(pick(&BASE_WEIGHTS, x, "base_weights")?),
                None => None,
            };
            p.precision = pick(&PRECISIONS, i[I::precision], "precision")?;
            p.optimizer = pick(&OPTIMIZERS, i[I::optimizer], "optimizer")?;
            let zero = i[I::zero];
            if !(0.0..=3.0).contains(&zero) || zero.fract() != 0.0 {
                return Err(format!("zero: got {zero}, expected 0, 1, 2 or 3"));
            }
            p.zero_stage = zero as u8;
            whole_at_least_one("tensor_parallel", i[I::tensor_parallel]).map_err(e)?;
            whole_at_least_one("pipeline_parallel", i[I::pipeline_parallel]).map_err(e)?;
            whole_at_least_one("micro_batch", i[I::micro_batch]).map_err(e)?;
            p.tensor_parallel = i[I::tensor_parallel];
            // Tensor parallelism splits the heads (and the KV heads, or replicates them).
            if let Some(h) = p.arch.heads {
                let (t, kv) = (p.tensor_parallel, p.arch.kv_heads.unwrap_or(h));
                if (h / t).fract() != 0.0 || ((kv / t).fract() != 0.0 && (t / kv).fract() != 0.0) {
                    return Err(format!(
                        "tensor_parallel: got {t}, expected a divisor of the heads ({h}) that divides the KV heads \
                         ({kv}) or that they divide: each rank holds whole heads"
                    ));
                }
            }
            p.sequence_parallel = i[I::sequence_parallel] != 0.0;
            whole_at_least_one("interleave", i[I::interleave]).map_err(e)?;
            p.interleave = i[I::interleave];
            whole_at_least_one("context_parallel", i[I::context_parallel]).map_err(e)?;
            p.context_parallel = i[I::context_parallel];
            whole_at_least_one("expert_parallel", i[I::expert_parallel]).map_err(e)?;
            p.expert_parallel = i[I::expert_parallel];
            if p.expert_parallel > 1.0 {
                match p.arch.experts {
                    Some(x) if (x / p.expert_parallel).fract() == 0.0 => {}
                    Some(x) => {
                        return Err(format!(
                            "expert_parallel: got {}, expected a divisor of the experts ({x}): each rank holds an \
                             equal share",
                            p.expert_parallel
                        ))
                    }
                    None => {
                        return Err(format!(
                            "expert_parallel: got {}, expected 1 for a model without routed experts \
                             (architecture.experts)",
                            p.expert_parallel
                        ))
                    }
                }
                if crate::model::memory::expert_share(&p) == 0.0 {
                    return Err(format!(
                        "expert_parallel: got {}, expected 1: no parameters are in routed experts (active_params \
                         must be below params, and experts_per_token below experts)",
                        p.expert_parallel
                    ));
                }
            }
            // (the given sequence length, or the shape rule's)
            {
                let s = p.arch.seq_len.unwrap_or(crate::model::memory::RULE_SEQ_LEN);
                if (s / p.context_parallel).fract() != 0.0 {
                    return Err(format!(
                        "context_parallel: got {}, expected a divisor of the sequence length ({s}): each rank holds \
                         an equal part",
                        p.context_parallel
                    ));
                }
            }
            p.pipeline_parallel = i[I::pipeline_parallel];
            p.micro_batch = i[I::micro_batch];
            p.recompute = pick(&RECOMPUTES, i[I::recompute], "recompute")?;
            p.mode = pick(&MODES, i[I::mode], "mode")?;
            p.gpu_memory_gb = opt(i[I::gpu_memory_gb]);
            let settings = [I::framework_gb, I::allocator_share, I::dropout, I::lora_dropout, I::paged_optimizer];
            memory_settings(&mut p, settings.map(|k| i[k])).map_err(e)?;
            let s = states(&p, i[I::trainable_params]);
            if let Some(a) = s.activations {
                crate::model::estimate::activations_finite(a, &p).map_err(e)?;
            }
            if !s.overhead.is_finite() {
                // (finite activations, and a framework_gb or share that overflows: name it, not params)
                let (field, x) = if (p.framework_gb * 1e9).is_finite() {
                    ("allocator_share", p.allocator_share)
                } else {
                    ("framework_gb", p.framework_gb)
                };
                return Err(crate::model::types::out_of_range(
                    field,
                    x,
                    "a value that keeps the memory per GPU within the float range",
                )
                .to_string());
            }
            for x in [s.weights, s.grads, s.optim, s.shardable, s.fixed] {
                crate::model::estimate::finite(x, "params", p.params, "the memory per GPU").map_err(e)?;
            }
            o[O::state_weights] = s.weights;
            o[O::state_grads] = s.grads;
            o[O::state_optim] = s.optim;
            o[O::state_weights_all] = s.weights_all;
            o[O::state_grads_all] = s.grads_all;
            o[O::state_optim_all] = s.optim_all;
            o[O::state_activations] = s.activations.unwrap_or(f64::NAN);
            o[O::state_logits] = s.logits;
            o[O::state_overhead] = s.overhead;
            o[O::state_shardable] = s.shardable;
            o[O::state_fixed] = s.fixed;
            if let Some(m) = s.min_gpus {
                if m > MAX_WHOLE {
                    // (counts are whole numbers a float holds exactly; an int64 column cannot say more)
                    return Err(crate::model::types::out_of_range(
                        "params",
                        p.params,
                        "a model whose minimum GPU count is at most 4.5e15 (2^52)",
                    )
                    .to_string());
                }
            }
            o[O::min_gpus] = s.min_gpus.unwrap_or(f64::NAN);
            // MEMORY_BASES: the preset's architecture, one the spec gives, or the shape rule.
            o[O::memory_basis] = if s.rule { 2.0 } else if i[I::arch_given] == 1.0 { 1.0 } else { 0.0 };
        }
        Stage::MemGpu => {
            use MemGpuIn as I;
            let s = mem_states(|q| i[q]);
            let mp = i[I::tensor_parallel] * i[I::pipeline_parallel];
            let cp = i[I::context_parallel];
            let group = crate::model::memory::lcm(cp, i[I::expert_parallel]);
            let gpus = opt(i[I::gpus]);
            if let Some(g) = gpus {
                whole_at_least_one("gpus", g).map_err(e)?;
                if (g / (mp * group)).fract() != 0.0 {
                    return Err(format!("gpus: got {g}, expected {}", crate::model::estimate::multiple_of(mp * group, group)));
                }
            }
            let m = per_gpu(&s, i[I::zero] as u8, gpus, mp, cp, i[I::expert_parallel], opt(i[I::gpu_memory_gb]));
            o[..MemGpuOut::NAMES.len()].copy_from_slice(&memory_row(&m));
        }
        Stage::Goodput => {
            use GoodputIn as I;
            let ratio = goodput_ratio(&|k: GoodputIn| i[k as usize])?;
            goodput_apply(ratio, i[I::util_kind], i[I::gpus], i[I::gpu_hours], i[I::mfu], i[I::hfu], o)?;
        }
        Stage::GoodputShape => {
            // The count-free factor of the default goodput (model::goodput::shape).
            use {GoodputShapeIn as I, GoodputShapeOut as O};
            use crate::model::goodput as g;
            let lora = pick(&MODES, i[I::mode], "mode")? == Mode::Lora;
            let params = if lora { i[I::trainable_params] } else { i[I::params] };
            let (a, t) = g::shape(params * g::CHECKPOINT_BYTES_PER_PARAM, g::GPU_MTBF_HOURS);
            o[O::factor] = a;
            o[O::interval_over_mtbf] = t;
        }
        Stage::Step | Stage::StepCheck => {
            use StepIn as I;
            for x in o[..StepOut::NAMES.len()].iter_mut() {
                *x = f64::NAN;
            }
            // Without a GPU count, or a network figure, there is no step (the columns stay null).
            let gpus = i[I::gpus];
            let Some(net) = network(i[I::scale_up_domain], i[I::scale_up_gb_per_s], i[I::scale_out_gbps], i[I::hbm_tbps],
                                    [gpus, i[I::global_batch_tokens], i[I::peak_tflops]])
            else {
                return Ok(());
            };
            let interleave = i[I::interleave];
            whole_at_least_one("interleave", interleave).map_err(e)?;
            if let Some(m) = tp_beyond_domain(i[I::tensor_parallel], net.domain, i[I::tp_within_domain]) {
                return Err(m);
            }
            positive("global_batch_tokens", i[I::global_batch_tokens]).map_err(e)?;
            let arch = architecture(&i[I::layers as usize..], i[I::gated_mlp]);
            let params = i[I::params];
            let work = crate::model::step::Work {
                params,
                active_params: if i[I::active_params].is_nan() { params } else { i[I::active_params] },
                arch,
                mode: pick(&MODES, i[I::mode], "mode")?,
                trainable_params: i[I::trainable_params],
                recompute: pick(&RECOMPUTES, i[I::recompute], "recompute")?,
                attention: pick(&ATTENTIONS, i[I::attention], "attention")?,
                precision: pick(&PRECISIONS, i[I::precision], "precision")?,
                model_flops_per_token: i[I::model_flops_per_token],
                peak: i[I::peak_tflops] * 1e12,
                peak16: i[I::peak16_tflops] * 1e12,
            };
            let layout = crate::model::step::Layout {
                gpus,
                tensor: i[I::tensor_parallel],
                pipeline: i[I::pipeline_parallel],
                context: i[I::context_parallel],
                expert: i[I::expert_parallel],
                sequence_parallel: i[I::sequence_parallel] != 0.0,
                micro_batch: i[I::micro_batch],
                interleave,
                zero: i[I::zero] as u8,
                global_batch_tokens: i[I::global_batch_tokens],
            };
            // A layout whose ranks outnumber the batch's sequences has no step: null columns (a
            // sweep over GPU counts meets it; estimate says why). Any other input is an error.
            let result = if stage == Stage::StepCheck {
                // (the layers only where they are checked: the shape rule's fit any pipeline, and
                // its layers count only for an interleave)
                let rule = crate::model::step::Shape::by_rule(&work.arch);
                let layers = match (rule, interleave > 1.0) {
                    (false, _) => work.arch.layers.unwrap_or(f64::NAN),
                    (true, true) => crate::model::step::Shape::new(&work).layers,
                    (true, false) => f64::NAN,
                };
                crate::model::step::check_inputs(layers, rule, work.peak, &layout, &net).map(|()| None)
            } else {
                crate::model::step::step(&work, &layout, &net).map(Some)
            };
            match result {
                Ok(Some(st)) => step_row(&st, o),
                Ok(None) => {}
                Err(crate::model::types::ModelError::SmallBatch { .. }) => {}
                Err(crate::model::types::ModelError::OutOfRange { field, .. })
                    if field == "scale_out_gbps" && net.scale_out.is_nan() => {}
                // (a GPU without a scale-out figure beyond its domain: no step; where the step times
                // the run, the rules layer refuses it first)
                Err(err) => return Err(err.to_string()),
            }
        }
        Stage::ServeLayout => {
            use crate::model::serve as sv;
            use {ServeIn as I, ServeOut as O};
            for x in o[..ServeOut::NAMES.len()].iter_mut() {
                *x = f64::NAN;
            }
            let or = |x: f64, default: f64| if x.is_nan() { default } else { x };
            let heads = i[I::heads];
            let model = sv::Model {
                params: i[I::params],
                active_params: or(i[I::active_params], i[I::params]),
                layers: i[I::layers],
                hidden: i[I::d_model],
                heads,
                kv_heads: or(i[I::kv_heads], heads),
                head_dim: or(i[I::head_dim], i[I::d_model] / heads),
                experts: or(i[I::experts], 1.0),
                experts_per_token: or(i[I::experts_per_token], 1.0),
                kv_latent: or(i[I::kv_latent], 0.0),
            };
            for (name, x) in [("params", model.params), ("layers", model.layers), ("d_model", model.hidden),
                              ("heads", heads)] {
                positive(name, x).map_err(e)?;
            }
            let domain = i[I::scale_up_domain];
            let hw = sv::Hardware {
                peak: i[I::peak_tflops] * 1e12,
                hbm: i[I::hbm_tbps] * 1e12,
                memory: i[I::gpu_memory_gb] * 1e9,
                scale_up: i[I::scale_up_gb_per_s] * 1e9,
                domain,
                scale_out: i[I::scale_out_gbps] * 1e9 / 8.0,
            };
            let (tp, pp, ep) = (i[I::tensor_parallel], i[I::pipeline_parallel], i[I::expert_parallel]);
            whole_at_least_one("tensor_parallel", tp).map_err(e)?;
            whole_at_least_one("pipeline_parallel", pp).map_err(e)?;
            whole_at_least_one("expert_parallel", ep).map_err(e)?;
            // A layout the model does not serve is a row with fits false, not an error of the sweep:
            // a TP that does not divide the heads, one wider than the scale-up domain (its
            // all-reduces would cross the scale-out network), a PP that does not divide the layers
            // or whose stages leave the domain without a scale-out figure, a GPU without a peak at
            // the weights' precision or without the bandwidth figures; an EP that is not a divisor of
            // the routed experts dividing TP or a multiple of it (or of a dense model), or whose
            // all-to-alls leave the domain without a scale-out figure.
            // (and a shape that is one: KV heads grouping the query heads, whole heads of a whole
            // width, no more parameters active than there are — the rules refuse fixed ones)
            let valid = (heads / tp).fract() == 0.0
                && (model.layers / pp).fract() == 0.0
                && model.kv_heads <= heads && (heads / model.kv_heads).fract() == 0.0
                && (model.head_dim.fract() == 0.0) && model.active_params <= model.params
                && !(tp > 1.0 && !(tp <= domain && hw.scale_up > 0.0))
                && !(pp > 1.0 && !(tp.max(ep) * pp <= domain && hw.scale_up > 0.0 || hw.scale_out > 0.0))
                && (ep == 1.0 || (model.routed_params() > 0.0 && (model.experts / ep).fract() == 0.0
                    && ((tp / ep).fract() == 0.0 || (ep / tp).fract() == 0.0)
                    && !(ep > tp && !(ep <= domain && hw.scale_up > 0.0 || hw.scale_out > 0.0))))
                && hw.peak > 0.0 && hw.hbm > 0.0 && hw.memory > 0.0;
            o[O::layout_valid] = if valid { 1.0 } else { 0.0 };
            if !valid {
                return Ok(());
            }
            let run = sv::Run {
                tensor_parallel: tp,
                pipeline_parallel: pp,
                expert_parallel: ep,
                weights: pick(&WIDTHS, i[I::weights], "weights")?,
                kv: pick(&WIDTHS, i[I::kv], "kv")?,
                input_tokens: i[I::input_tokens],
                output_tokens: i[I::output_tokens],
                batch: None,
                batch_cap: opt(i[I::max_batch]),
                mbu: or(i[I::mbu], sv::MBU),
                mfu_decode: or(i[I::mfu_decode], sv::MFU_DECODE),
                mfu_prefill: or(i[I::mfu_prefill], sv::MFU_PREFILL),
                tp_efficiency: or(i[I::tp_efficiency], sv::TP_EFFICIENCY),
                kv_fraction: or(i[I::kv_fraction], sv::KV_FRACTION),
                reserved: or(i[I::reserved_gb] * 1e9, sv::RESERVED_BYTES),
                all_reduce_latency: sv::ALL_REDUCE_LATENCY,
                max_tpot: opt(i[I::max_tpot_s]),
                max_ttft: opt(i[I::max_ttft_s]),
            };
            let r = sv::Replica::new(&model, &hw, &run).map_err(e)?;
            o[O::weights_gb_per_gpu] = r.weights_bytes_per_gpu / 1e9;
            o[O::kv_bytes_per_token] = r.kv_bytes_per_token;
            o[O::kv_gb_per_sequence] = r.kv_bytes_per_token * (r.input_tokens + r.output_tokens) / 1e9;
            o[O::max_batch] = r.max_batch;
            o[O::ttft_s] = r.ttft_s;
            // (never compute-bound: no value, not an infinite batch)
            o[O::critical_batch] = if r.critical_batch.is_finite() { r.critical_batch } else { f64::NAN };
            o[O::default_batch] = r.default_batch();
            (o[O::read0], o[O::read1], o[O::math1], o[O::comm0], o[O::comm1]) = (r.read0, r.read1, r.math1, r.comm0, r.comm1);
            o[O::groups] = r.groups;
        }
        Stage::ServeBatch => {
            let r = serve_replica(i);
            serve_batch_row(r.as_ref(), i[ServeBatchIn::batch], i[ServeBatchIn::default_batch], o);
        }
        Stage::ServeRate => {
            let r = serve_rate_replica(i);
            let x = r.rates(i[ServeRateIn::batch], i[ServeRateIn::tpot_s]);
            use ServeRateOut as O;
            (o[O::latency_s], o[O::output_tokens_per_s], o[O::output_tokens_per_s_per_gpu], o[O::input_tokens_per_s]) =
                (x.latency_s, x.output_tokens_per_s, x.output_tokens_per_s_per_gpu, x.input_tokens_per_s);
        }
        Stage::Lifetime => {
            use crate::model::lifetime as lt;
            use {LifetimeIn as I, LifetimeOut as O};
            let fit = lt::Fit { e: i[I::e], a: i[I::a], b: i[I::b], alpha: i[I::alpha], beta: i[I::beta] };
            let loss = i[I::loss];
            let (n, d) = lt::optimal(&fit, loss, i[I::inference_tokens]).map_err(|err| match &err {
                // (the budget's loss is the fit's floor to the last bit: a budget past any model)
                crate::model::types::ModelError::OutOfRange { field, .. } if field == "loss" => format!(
                    "scaling.compute_flops: got a budget whose compute-optimal loss ({loss}) the fit cannot tell \
                     from its floor ({}), expected a smaller budget", fit.e),
                _ => err.to_string(),
            })?;
            o[O::params] = n;
            o[O::tokens] = d;
        }
        Stage::Search => {
            use {SearchIn as I, SearchOut as O};
            for x in o[..SearchOut::NAMES.len()].iter_mut() {
                *x = f64::NAN;
            }
            o[O::found] = 0.0;
            let gpus = i[I::gpus];
            let Some(net) = network(i[I::scale_up_domain], i[I::scale_up_gb_per_s], i[I::scale_out_gbps], i[I::hbm_tbps],
                                    [gpus, i[I::global_batch_tokens], i[I::peak_tflops]])
            else {
                return Ok(());
            };
            whole_at_least_one("gpus", gpus).map_err(e)?;
            positive("global_batch_tokens", i[I::global_batch_tokens]).map_err(e)?;
            let arch = architecture(&i[I::layers as usize..], i[I::gated_mlp]);
            let params = i[I::params];
            let active = if i[I::active_params].is_nan() { params } else { i[I::active_params] };
            let mode = pick(&MODES, i[I::mode], "mode")?;
            let attention = pick(&ATTENTIONS, i[I::attention], "attention")?;
            let precision = pick(&PRECISIONS, i[I::precision], "precision")?;
            let mut base = Point::default();
            base.params = params;
            base.active_params = active;
            base.arch = arch.clone();
            base.mode = mode;
            base.attention = attention;
            base.logits = pick(&LOGITS, i[I::logits], "logits")?;
            base.base_weights = match opt(i[I::base_weights]) {
                Some(x) => Some(pick(&BASE_WEIGHTS, x, "base_weights")?),
                None => None,
            };
            base.precision = precision;
            base.optimizer = pick(&OPTIMIZERS, i[I::optimizer], "optimizer")?;
            base.gpu_memory_gb = opt(i[I::gpu_memory_gb]);
            let settings = [I::framework_gb, I::allocator_share, I::dropout, I::lora_dropout, I::paged_optimizer];
            memory_settings(&mut base, settings.map(|k| i[k])).map_err(e)?;
            let work = crate::model::step::Work {
                params,
                active_params: active,
                arch,
                mode,
                trainable_params: i[I::trainable_params],
                recompute: Recompute::None,
                attention,
                precision,
                model_flops_per_token: i[I::model_flops_per_token],
                peak: i[I::peak_tflops] * 1e12,
                peak16: i[I::peak16_tflops] * 1e12,
            };
            let given = |x: f64| opt(x);
            let fixed = crate::model::search::Fixed {
                tensor: given(i[I::tensor_parallel]),
                pipeline: given(i[I::pipeline_parallel]),
                context: given(i[I::context_parallel]),
                expert: given(i[I::expert_parallel]),
                micro_batch: given(i[I::micro_batch]),
                interleave: given(i[I::interleave]),
                recompute: match opt(i[I::recompute]) {
                    Some(x) => Some(pick(&RECOMPUTES, x, "recompute")?),
                    None => None,
                },
                zero: opt(i[I::zero]).map(|z| z as u8),
            };
            if let Some(t) = fixed.tensor {
                if let Some(m) = tp_beyond_domain(t, net.domain, i[I::tp_within_domain]) {
                    return Err(m);
                }
            }
            let space = space.map_or(&crate::model::search::Space::DEFAULT, |sp| &sp.decoded);
            let within = i[I::tp_within_domain] != 0.0;
            let sp = i[I::sequence_parallel] != 0.0;
            let Some(f) = crate::model::search::search(&base, i[I::trainable_params], &work, &net, gpus,
                                                       i[I::global_batch_tokens], &fixed, space, within, sp)
            else {
                return Ok(());
            };
            step_row(&f.step, &mut o[..StepOut::NAMES.len()]);
            o[O::tensor_parallel] = f.layout.tensor;
            o[O::pipeline_parallel] = f.layout.pipeline;
            o[O::context_parallel] = f.layout.context;
            o[O::expert_parallel] = f.layout.expert;
            o[O::micro_batch] = f.layout.micro_batch;
            o[O::interleave] = f.layout.interleave;
            o[O::recompute] = RECOMPUTES.iter().position(|&r| r == f.recompute).unwrap_or(0) as f64;
            o[O::zero] = f.layout.zero as f64;
            o[O::found] = 1.0;
            o[O::candidates] = f.candidates;
        }
    }
    Ok(())
}

/// The goodput stage's ratio from its inputs (all but the durations): (ETTR or NaN when none is
/// modelled or given, checkpoint interval in minutes or NaN, job MTBF in seconds or NaN).
pub(crate) fn goodput_ratio(v: &dyn Fn(GoodputIn) -> f64) -> Result<(f64, f64, f64), String> {
    use crate::model::goodput as g;
    use GoodputIn as I;
    let e = |err: crate::model::types::ModelError| err.to_string();
    let gpus = v(I::gpus);
    // The ratio: given; else modelled on a GPU count (not while solving: the solver's forms are
    // affine in its unknown); else none (1, and a null column).
    let given = v(I::goodput);
    if !given.is_nan() {
        if !(given > 0.0 && given <= 1.0) {
            return Err(format!("goodput: got {given}, expected a fraction in (0, 1]"));
        }
        return Ok((given, f64::NAN, f64::NAN));
    }
    if gpus.is_nan() || v(I::solving) != 0.0 {
        return Ok((f64::NAN, f64::NAN, f64::NAN));
    }
    let mtbf = if v(I::gpu_mtbf_hours).is_nan() { g::GPU_MTBF_HOURS } else { v(I::gpu_mtbf_hours) };
    positive("gpu_mtbf_hours", mtbf).map_err(e)?;
    let storage = if v(I::checkpoint_gb_per_s).is_nan() {
        g::CHECKPOINT_BYTES_PER_S_PER_GPU * gpus
    } else {
        v(I::checkpoint_gb_per_s) * 1e9
    };
    positive("checkpoint_gb_per_s", storage).map_err(e)?;
    let restart = if v(I::restart_minutes).is_nan() { g::RESTART_MINUTES } else { v(I::restart_minutes) };
    if !(restart.is_finite() && restart >= 0.0) {
        return Err(format!("restart_minutes: got {restart}, expected a finite number >= 0"));
    }
    // LoRA checkpoints its adapters' states only (the base is the base).
    let lora = pick(&MODES, v(I::mode), "mode")? == Mode::Lora;
    let params = if lora { v(I::trainable_params) } else { v(I::params) };
    let bytes = params * g::CHECKPOINT_BYTES_PER_PARAM;
    let (r, tau, m) = g::goodput(gpus, bytes, mtbf, storage, restart * 60.0);
    if !(r > 1e-12) {
        return Err(format!(
            "gpus: got {gpus}, expected a job that makes progress between interruptions: a checkpoint of {bytes:.3e} \
             bytes takes {:.3e} s at {:.3e} GB/s and a restart {restart} min, against {:.4} h between interruptions \
             (modelled goodput {r:.3e}); give a goodput, or a faster checkpoint (checkpoint_gb_per_s), a shorter \
             restart (restart_minutes) or a rarer interruption (gpu_mtbf_hours)",
            bytes / storage,
            storage / 1e9,
            m / 3600.0
        ));
    }
    Ok((r, tau / 60.0, m))
}

/// The goodput stage's outputs from its ratio and a point's duration (`util_kind` as the time
/// stage's): mfu and predicted durations are step rates, so the lost time adds hours; a published
/// total already holds it, and its step MFU is what it implies over the kept time.
#[inline(always)]
pub(crate) fn goodput_apply((ratio, interval_min, mtbf_s): (f64, f64, f64), kind: f64, gpus: f64, hours: f64,
                            mfu: f64, hfu: f64, o: &mut [f64]) -> Result<(), String> {
    use GoodputOut as O;
    let r = if ratio.is_nan() { 1.0 } else { ratio };
    let step_rate = matches!(kind as u8, 0 | 3);
    let (total, step_mfu) = if step_rate { (hours / r, mfu) } else { (hours, mfu / r) };
    if !step_rate && step_mfu > 1.0 {
        let field = if kind as u8 == 2 { "wall_clock_days" } else { "gpu_hours" };
        let given = if kind as u8 == 2 { hours / gpus / 24.0 } else { hours };
        return Err(format!(
            "{field}: got {given}, expected a duration whose steps, after the time lost to interruptions (ETTR \
             {r:.4}), run at an MFU of at most 1 (this implies {step_mfu:.3}); give a goodput (1: none), or check \
             the duration"
        ));
    }
    if !total.is_nan() && !total.is_finite() {
        return Err(crate::model::types::out_of_range(
            "goodput",
            r,
            "a ratio that keeps the GPU-hours within the float range (±1.8e308)",
        )
        .to_string());
    }
    o[O::ettr] = ratio;
    o[O::checkpoint_interval_min] = interval_min;
    o[O::gpu_hours] = total;
    o[O::mfu] = step_mfu;
    o[O::hfu] = if mfu != 0.0 { hfu * step_mfu / mfu } else { hfu };
    o[O::mfu_average] = step_mfu * r;
    // Expected interruptions: the job's wall clock over its MTBF.
    o[O::interruptions] = total / gpus * 3600.0 / mtbf_s;
    Ok(())
}

/// The architecture fields of a stage's input registers, in `Architecture::FIELDS` order from
/// `fields[0]` (NaN: not given), and the gated-MLP flag.
fn architecture(fields: &[f64], gated_mlp: f64) -> Architecture {
    let mut arch = Architecture::default();
    for (k, name) in Architecture::FIELDS.iter().enumerate() {
        arch.set(name, opt(fields[k]));
    }
    arch.gated_mlp = gated_mlp != 0.0 && !gated_mlp.is_nan();
    arch
}

/// The interconnect of the step's inputs (GB/s, Gb/s, TB/s), or None where the step has no value:
/// no GPU count, no network figure (a missing scale-out figure is the step's to judge), no batch
/// or no peak (`needed`).
fn network(domain: f64, up_gb_per_s: f64, out_gbps: f64, hbm_tbps: f64, needed: [f64; 3])
           -> Option<crate::model::step::Network> {
    if [domain, up_gb_per_s, hbm_tbps].iter().chain(&needed).any(|x| x.is_nan()) {
        return None;
    }
    Some(crate::model::step::Network {
        domain,
        scale_up: up_gb_per_s * 1e9,
        scale_out: out_gbps * 1e9 / 8.0,
        hbm: hbm_tbps * 1e12,
    })
}

/// A step's outputs in the `StepOut` order (the first registers of `SearchOut` too).
fn step_row(st: &crate::model::step::Step, o: &mut [f64]) {
    use StepOut as O;
    o[O::step_time_s] = st.step_time_s;
    o[O::tokens_per_s] = st.tokens_per_s;
    o[O::mfu] = st.mfu;
    o[O::grad_accum] = st.grad_accum;
    o[O::global_batch_tokens] = st.global_batch_tokens;
    o[O::bubble_fraction] = st.bubble_fraction;
    o[O::comm_exposed_fraction] = st.comm_exposed_fraction;
    o[O::compute_s] = st.compute_s;
    o[O::memory_bound_s] = st.memory_bound_s;
    o[O::tp_comm_s] = st.tp_comm_s;
    o[O::ep_comm_s] = st.ep_comm_s;
    o[O::cp_comm_s] = st.cp_comm_s;
    o[O::pp_comm_s] = st.pp_comm_s;
    o[O::dp_comm_s] = st.dp_comm_s;
    o[O::optimizer_s] = st.optimizer_s;
    o[O::bubble_s] = st.bubble_s;
}

/// The names of each category input, by stage input name, in the engine's index order.
pub fn categories() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("convention", CONVENTIONS.iter().map(|c| c.name()).collect()),
        ("mode", MODES.iter().map(|c| c.name()).collect()),
        ("recompute", RECOMPUTES.iter().map(|c| c.name()).collect()),
        ("precision", PRECISIONS.iter().map(|c| c.name()).collect()),
        ("optimizer", OPTIMIZERS.iter().map(|c| c.name()).collect()),
        ("attention", ATTENTIONS.iter().map(|c| c.name()).collect()),
        ("logits", LOGITS.iter().map(|c| c.name()).collect()),
        ("base_weights", BASE_WEIGHTS.iter().map(|c| c.name()).collect()),
        ("memory_basis", MEMORY_BASES.to_vec()),
        ("weights", WIDTHS.iter().map(|c| c.name()).collect()),
        ("kv", WIDTHS.iter().map(|c| c.name()).collect()),
    ]
}
