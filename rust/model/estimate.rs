//! One point of the cost model: FLOPs → GPU-hours → wall clock, cost, energy, emissions, memory.

use crate::model::flops::{forward_flops, training_flops_per_token};
use crate::model::memory::memory;
use crate::model::types::{out_of_range, Architecture, Convention, Mode, ModelError, Outputs, Point, Trainable, Utilisation};

pub fn positive(field: &str, x: f64) -> Result<(), ModelError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(out_of_range(field, x, "a finite number > 0"))
    }
}

/// Above this a float no longer holds every whole number (2^52): a count beyond it is not a count.
pub const MAX_WHOLE: f64 = 4503599627370496.0;

pub fn whole_at_least_one(field: &str, x: f64) -> Result<(), ModelError> {
    if x.is_finite() && (1.0..MAX_WHOLE).contains(&x) && x.fract() == 0.0 {
        Ok(())
    } else {
        Err(out_of_range(field, x, "a whole number from 1 to 4.5e15"))
    }
}

/// LoRA adapters of rank r on the query and value projections of every layer: each adapter on
/// a d_in × d_out matrix has r·(d_in + d_out) parameters (Hu et al. 2021, §4 and §7.1).
pub fn lora_params(arch: &Architecture, rank: f64) -> Result<f64, ModelError> {
    let missing: Vec<String> = ["layers", "d_model", "heads"]
        .iter()
        .filter(|f| arch.get(f).is_none())
        .map(|f| f.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ModelError::MissingArchitecture { what: "LoRA by rank".into(), missing });
    }
    let (l, h, heads) = (arch.layers.unwrap(), arch.d_model.unwrap(), arch.heads.unwrap());
    let q = arch.head_dim_or_derived().unwrap();
    let kv = arch.kv_heads.unwrap_or(heads);
    Ok(l * rank * ((h + heads * q) + (h + kv * q)))
}

/// Architecture fields are counts (whole numbers >= 1); a model has no more key/value heads than
/// heads, and routes each token to no more experts than it has.
pub fn check_architecture(a: &Architecture) -> Result<(), ModelError> {
    for f in Architecture::FIELDS {
        if let Some(x) = a.get(f) {
            whole_at_least_one(f, x)?;
        }
    }
    if let (Some(kv), Some(h)) = (a.kv_heads, a.heads) {
        if kv > h {
            return Err(out_of_range("kv_heads", kv, &format!("at most heads ({h})")));
        }
    }
    if let (Some(k), Some(e)) = (a.experts_per_token, a.experts) {
        if k > e {
            return Err(out_of_range("experts_per_token", k, &format!("at most experts ({e})")));
        }
    }
    Ok(())
}

pub fn check(p: &Point) -> Result<(), ModelError> {
    positive("params", p.params)?;
    positive("active_params", p.active_params)?;
    if p.active_params > p.params * (1.0 + 1e-12) {
        return Err(out_of_range("active_params", p.active_params, "at most params"));
    }
    positive("tokens", p.tokens)?;
    positive("peak_tflops", p.peak_tflops)?;
    check_architecture(&p.arch)?;
    match p.utilisation {
        Utilisation::Mfu(m) if !(m > 0.0 && m <= 1.0) => return Err(out_of_range("mfu", m, "a fraction in (0, 1]")),
        Utilisation::GpuHours(h) => positive("gpu_hours", h)?,
        Utilisation::WallClockDays(d) => {
            positive("wall_clock_days", d)?;
            if p.gpus.is_none() {
                return Err(out_of_range("gpus", "nothing", "a GPU count to go with wall_clock_days"));
            }
        }
        _ => {}
    }
    whole_at_least_one("tensor_parallel", p.tensor_parallel)?;
    whole_at_least_one("pipeline_parallel", p.pipeline_parallel)?;
    whole_at_least_one("micro_batch", p.micro_batch)?;
    if p.zero_stage > 3 {
        return Err(out_of_range("zero", p.zero_stage, "0, 1, 2 or 3"));
    }
    whole_at_least_one("context_parallel", p.context_parallel)?;
    if let Some(g) = p.gpus {
        whole_at_least_one("gpus", g)?;
        let group = crate::model::memory::lcm(p.context_parallel, p.expert_parallel);
        let mp = p.tensor_parallel * p.pipeline_parallel * group;
        if (g / mp).fract() != 0.0 {
            return Err(out_of_range("gpus", g, &multiple_of(mp, group)));
        }
    }
    for (field, v) in [("usd_per_gpu_hour", p.usd_per_gpu_hour), ("grid_kg_co2e_per_kwh", p.grid_kg_co2e_per_kwh)] {
        if let Some(x) = v {
            if !(x.is_finite() && x >= 0.0) {
                return Err(out_of_range(field, x, "a finite number >= 0"));
            }
        }
    }
    if let Some(w) = p.watts {
        positive("watts", w)?;
    }
    if let Some(m) = p.gpu_memory_gb {
        positive("gpu_memory_gb", m)?;
    }
    if !(p.pue.is_finite() && p.pue >= 1.0) {
        return Err(out_of_range("pue", p.pue, "a number >= 1"));
    }
    Ok(())
}

/// Parameters that receive gradients: all of them, or the LoRA adapters.
pub fn trainable_params(p: &Point) -> Result<f64, ModelError> {
    match (p.mode, p.lora) {
        (Mode::Lora, Some(Trainable::Rank(r))) => {
            positive("lora_rank", r)?;
            finite(lora_params(&p.arch, r)?, "lora_rank", r, "the LoRA parameters")
        }
        (Mode::Lora, Some(Trainable::Fraction(f))) => {
            if !(f > 0.0 && f <= 1.0) {
                return Err(out_of_range("lora_fraction", f, "a fraction in (0, 1]"));
            }
            Ok(f * p.params)
        }
        (Mode::Lora, None) => {
            Err(out_of_range("lora", "nothing", "a LoRA rank or a trainable fraction in mode 'lora'"))
        }
        _ => Ok(p.params),
    }
}

/// `x` when it is finite, else an error blaming the input `field` (given `given`): an output past
/// the float range (±1.8e308) is never reported as `inf`, nor as "no value".
pub fn finite(x: f64, field: &str, given: f64, what: &str) -> Result<f64, ModelError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(out_of_range(field, given, &format!("a value that keeps {what} within the float range (±1.8e308)")))
    }
}

/// FLOPs of a point: (trainable params, model FLOPs per token, model FLOPs, hardware FLOPs).
pub fn point_flops(p: &Point) -> Result<(f64, f64, f64, f64), ModelError> {
    let trainable = trainable_params(p)?;
    let fwd = forward_flops(p.convention, p.active_params, &p.arch)?;
    let (model_pt, hardware_pt) = training_flops_per_token(&fwd, p.mode, trainable, p.recompute, &p.arch)?;
    // Past the float range: blame what sets the FLOPs per token (the parameters, the LoRA rank, or
    // the architecture under the palm and megatron counts) or the tokens, whichever is larger.
    let (per_token, per_token_given) = match (p.mode, p.lora) {
        (Mode::Lora, Some(Trainable::Rank(r))) => ("lora_rank", r),
        _ if p.convention == Convention::SixND => ("params", p.params),
        _ => ("architecture", p.params),
    };
    finite(hardware_pt, per_token, per_token_given, "the FLOPs per token")?;
    let (blame, given) = if hardware_pt > p.tokens { (per_token, per_token_given) } else { ("tokens", p.tokens) };
    let model = finite(model_pt * p.tokens, blame, given, "the model FLOPs")?;
    let hardware = finite(hardware_pt * p.tokens, blame, given, "the hardware FLOPs")?;
    if !(model > 0.0) {
        // 1e-200 parameters on 1e-200 tokens: FLOPs that round to 0 make every ratio 0/0
        return Err(out_of_range("tokens", p.tokens, "a token count whose model FLOPs do not round to 0"));
    }
    Ok((trainable, model_pt, model, hardware))
}

/// GPU-hours = C / (peak × MFU) / 3600, or the inverse for a published run: (mfu, gpu_hours).
/// An implied MFU above 1 is an error: no run beats the dense peak.
pub fn utilisation(
    model_flops: f64,
    peak_tflops: f64,
    util: Utilisation,
    gpus: Option<f64>,
) -> Result<(f64, f64), ModelError> {
    let peak = peak_tflops * 1e12;
    let (mfu, gpu_hours) = match util {
        Utilisation::Mfu(m) => (m, model_flops / (peak * m) / 3600.0),
        Utilisation::GpuHours(h) => (model_flops / (h * 3600.0 * peak), h),
        Utilisation::WallClockDays(d) => {
            let h = d * 24.0 * gpus.unwrap_or(f64::NAN);
            (model_flops / (h * 3600.0 * peak), h)
        }
    };
    match util {
        Utilisation::Mfu(m) => {
            finite(gpu_hours, "mfu", m, "the GPU-hours")?;
        }
        Utilisation::WallClockDays(d) => {
            finite(gpu_hours, "wall_clock_days", d, "the GPU-hours")?;
        }
        Utilisation::GpuHours(_) => {}
    }
    if !(mfu > 0.0) {
        let (field, given) = match util {
            Utilisation::WallClockDays(d) => ("wall_clock_days", d),
            _ => ("gpu_hours", gpu_hours),
        };
        return Err(out_of_range(field, given, "a duration implying an MFU above 0 (this one rounds it to 0)"));
    }
    if mfu > 1.0 {
        let (field, given) = match util {
            Utilisation::WallClockDays(d) => ("wall_clock_days", d),
            _ => ("gpu_hours", gpu_hours),
        };
        return Err(out_of_range(
            field,
            given,
            &format!(
                "a duration implying an MFU of at most 1 (this implies {}): the run cannot beat the GPU's dense \
                 peak; check the precision, the GPU and the token count",
                if mfu < 1e6 { format!("{mfu:.3}") } else { format!("{mfu:.3e}") }
            ),
        ));
    }
    Ok((mfu, gpu_hours))
}

/// Wall-clock days = GPU-hours / GPUs / 24.
#[inline]
pub fn wall_clock_days(gpu_hours: f64, gpus: f64) -> f64 {
    gpu_hours / (gpus * 24.0)
}

/// (cost US$, energy kWh, emissions kg CO2e): GPU-hours × price; GPU-hours × watts × PUE;
/// energy × grid intensity. A result past the float range blames the input that took it there.
#[inline]
pub fn money(
    gpu_hours: f64,
    usd_per_gpu_hour: Option<f64>,
    watts: Option<f64>,
    pue: f64,
    grid_kg_co2e_per_kwh: Option<f64>,
) -> Result<(Option<f64>, Option<f64>, Option<f64>), ModelError> {
    let cost = usd_per_gpu_hour.map(|usd| finite(gpu_hours * usd, "usd_per_gpu_hour", usd, "the cost")).transpose()?;
    let energy = watts
        .map(|w| {
            finite(gpu_hours * w, "watts", w, "the energy")?;
            finite(gpu_hours * w / 1000.0 * pue, "pue", pue, "the energy")
        })
        .transpose()?;
    let co2 = energy
        .zip(grid_kg_co2e_per_kwh)
        .map(|(e, g)| finite(e * g, "grid_kg_co2e_per_kwh", g, "the emissions"))
        .transpose()?;
    Ok((cost, energy, co2))
}

/// Memory past the float range blames what took it there: the activations (the micro-batch,
/// with the architecture), else the model states (the parameters).
pub fn memory_finite(m: &crate::model::types::Memory, p: &Point) -> Result<(), ModelError> {
    if let Some(a) = m.activations_gb {
        activations_finite(a, p)?;
    }
    finite(m.total_gb, "params", p.params, "the memory per GPU")?;
    Ok(())
}

/// Activation memory (s·b·h·L·(34 + 5·a·s/h)/t) past the float range blames its largest factor.
pub fn activations_finite(gb: f64, p: &Point) -> Result<f64, ModelError> {
    let factors = [
        ("micro_batch", p.micro_batch),
        ("architecture.seq_len", p.arch.seq_len.unwrap_or(0.0)),
        ("architecture.d_model", p.arch.d_model.unwrap_or(0.0)),
        ("architecture.layers", p.arch.layers.unwrap_or(0.0)),
        ("architecture.heads", p.arch.heads.unwrap_or(0.0)),
    ];
    let (field, given) = factors.iter().copied().fold(factors[0], |m, f| if f.1 > m.1 { f } else { m });
    finite(gb, field, given, "the activation memory")
}

/// What a GPU count must be a multiple of.
pub fn multiple_of(mp: f64, group: f64) -> String {
    if group > 1.0 {
        format!("a multiple of tensor × pipeline parallel × lcm(context, expert parallel) ({mp})")
    } else {
        format!("a multiple of tensor × pipeline parallel ({mp})")
    }
}

/// Evaluate the cost model at one point.
pub fn estimate(p: &Point) -> Result<Outputs, ModelError> {
    check(p)?;
    let (trainable, model_pt, model_flops, hardware_flops) = point_flops(p)?;
    let (mfu, gpu_hours) = utilisation(model_flops, p.peak_tflops, p.utilisation, p.gpus)?;
    let (cost_usd, energy_kwh, co2e_kg) = money(gpu_hours, p.usd_per_gpu_hour, p.watts, p.pue, p.grid_kg_co2e_per_kwh)?;
    let memory = memory(p, trainable);
    memory_finite(&memory, p)?;
    Ok(Outputs {
        trainable_params: trainable,
        model_flops_per_token: model_pt,
        model_flops,
        hardware_flops,
        peak_tflops: p.peak_tflops,
        mfu,
        hfu: mfu * hardware_flops / model_flops,
        gpu_hours,
        wall_clock_days: p.gpus.map(|g| wall_clock_days(gpu_hours, g)),
        cost_usd,
        energy_kwh,
        co2e_kg,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::*;

    fn base() -> Point {
        Point {
            params: 70e9,
            active_params: 70e9,
            tokens: 2e12,
            peak_tflops: 312.0,
            utilisation: Utilisation::GpuHours(1_720_320.0),
            usd_per_gpu_hour: Some(2.0),
            watts: Some(400.0),
            pue: 1.1,
            grid_kg_co2e_per_kwh: Some(0.385),
            gpu_memory_gb: Some(80.0),
            zero_stage: 3,
            ..Point::default()
        }
    }

    #[test]
    fn llama2_70b_carbon_and_mfu() {
        let o = estimate(&base()).unwrap();
        // Llama 2 paper, Table 2: 1,720,320 GPU-hours, 400 W, PUE 1.1, 0.385 kg/kWh -> 291.42 t.
        assert!((o.co2e_kg.unwrap() / 1000.0 - 291.42).abs() < 0.005);
        assert!((o.mfu - 0.4347).abs() < 0.001, "{}", o.mfu);
        assert!(o.cost_usd.unwrap() > 3.4e6);
    }

    #[test]
    fn mfu_round_trips() {
        let o = estimate(&base()).unwrap();
        let mut p = base();
        p.utilisation = Utilisation::Mfu(o.mfu);
        let back = estimate(&p).unwrap();
        assert!((back.gpu_hours / 1_720_320.0 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_mfu_is_an_error() {
        let mut p = base();
        p.utilisation = Utilisation::Mfu(1.5);
        assert!(estimate(&p).unwrap_err().to_string().contains("mfu"));
        p.utilisation = Utilisation::GpuHours(10.0);
        assert!(estimate(&p).unwrap_err().to_string().contains("implies"));
    }

    #[test]
    fn gpus_must_divide_by_model_parallel() {
        let mut p = base();
        p.gpus = Some(100.0);
        p.tensor_parallel = 8.0;
        assert!(estimate(&p).unwrap_err().to_string().contains("multiple"));
    }

    #[test]
    fn min_gpus_fits_exactly() {
        // (model states only: the memory model on an architecture without activations)
        use crate::model::memory::memory;
        let mut p = base();
        p.arch = crate::model::memory::tests::states_only();
        p.gpus = Some(16.0);
        let m = memory(&p, p.params);
        // 70e9 × 16 bytes fully sharded over dp: 1120 GB / 80 GB = 14 GPUs.
        assert_eq!(m.min_gpus, Some(14.0));
        assert_eq!(m.fits, Some(true));
        p.gpus = Some(14.0);
        assert_eq!(memory(&p, p.params).fits, Some(true));
        p.gpus = Some(13.0);
        assert_eq!(memory(&p, p.params).fits, Some(false));
    }

    #[test]
    fn a_model_filling_the_memory_exactly_fits_at_its_min_gpus() {
        // 10e9 × 16 bytes over TP 2 without ZeRO: 80 GB per GPU on an 80 GB GPU, at any count
        // (found by the solver's round-trip test: fits said yes, min_gpus said never).
        let mut p = base();
        p.params = 10e9;
        p.active_params = 10e9;
        p.arch = crate::model::memory::tests::states_only();
        p.zero_stage = 0;
        p.tensor_parallel = 2.0;
        p.gpus = Some(2.0);
        let m = crate::model::memory::memory(&p, p.params);
        assert_eq!((m.fits, m.min_gpus, m.total_gb), (Some(true), Some(2.0), 80.0));
        p.params = 10.001e9;
        p.active_params = p.params;
        let m = crate::model::memory::memory(&p, p.params);
        assert_eq!((m.fits, m.min_gpus), (Some(false), None));
    }
}
