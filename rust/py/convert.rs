//! Python dictionaries to cost-model points and outputs back, and the one-point estimate.


use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::model::estimate;
use crate::model::types::{
    Architecture, Convention, Mode, Optimizer, Outputs, Point, Precision, Recompute, Trainable, Utilisation,
};

use super::errors::{model_error, ModelError};


const POINT_KEYS: &[&str] = &[
    "params", "active_params", "tokens", "architecture", "convention", "recompute", "mode", "lora_rank",
    "lora_fraction", "precision", "peak_tflops", "mfu", "gpu_hours", "wall_clock_days", "gpus",
    "usd_per_gpu_hour", "watts", "pue", "grid_kg_co2e_per_kwh", "gpu_memory_gb", "optimizer", "zero",
    "tensor_parallel", "pipeline_parallel", "micro_batch",
];

/// Reads one point out of a dictionary, rejecting unknown keys.
struct Reader<'a, 'py> {
    d: &'a Bound<'py, PyDict>,
}

impl<'py> Reader<'_, 'py> {
    fn opt(&self, key: &str) -> PyResult<Option<f64>> {
        match self.d.get_item(key)? {
            Some(v) if !v.is_none() => Ok(Some(
                v.extract::<f64>()
                    .map_err(|_| ModelError::new_err((format!("{key}: expected a number, got {v}"), key.to_string())))?,
            )),
            _ => Ok(None),
        }
    }
    fn num(&self, key: &str) -> PyResult<f64> {
        self.opt(key)?
            .ok_or_else(|| ModelError::new_err((format!("{key}: required, got nothing"), key.to_string())))
    }
    fn or(&self, key: &str, default: f64) -> PyResult<f64> {
        Ok(self.opt(key)?.unwrap_or(default))
    }
    fn choice<T>(&self, key: &str, default: T, parse: fn(&str) -> Option<T>, names: &[&str]) -> PyResult<T> {
        match self.d.get_item(key)? {
            Some(v) if !v.is_none() => {
                let s: String = v.extract()?;
                parse(&s).ok_or_else(|| {
                    ModelError::new_err((format!("{key}: got {s:?}, expected one of {}", names.join(", ")), key.to_string()))
                })
            }
            _ => Ok(default),
        }
    }
}

fn read_architecture(v: Option<Bound<'_, PyAny>>) -> PyResult<Architecture> {
    let mut arch = Architecture::default();
    let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(arch) };
    let d = v.cast::<PyDict>().map_err(|_| ModelError::new_err(("architecture: expected a mapping", "architecture")))?;
    for (k, val) in d.iter() {
        let key: String = k.extract()?;
        if key == "gated_mlp" {
            arch.gated_mlp = val.is_truthy()?;
            continue;
        }
        let x = if val.is_none() { None } else { Some(val.extract::<f64>()?) };
        if !arch.set(&key, x) {
            return Err(ModelError::new_err((format!("architecture: unknown field {key:?}"), "architecture")));
        }
    }
    Ok(arch)
}

fn read_point(d: &Bound<'_, PyDict>) -> PyResult<Point> {
    for k in d.keys() {
        let key: String = k.extract()?;
        if !POINT_KEYS.contains(&key.as_str()) {
            return Err(ModelError::new_err((format!("unknown input {key:?}"), key)));
        }
    }
    let r = Reader { d };
    let params = r.num("params")?;
    let utilisation = match (r.opt("mfu")?, r.opt("gpu_hours")?, r.opt("wall_clock_days")?) {
        (Some(m), None, None) => Utilisation::Mfu(m),
        (None, Some(h), None) => Utilisation::GpuHours(h),
        (None, None, Some(w)) => Utilisation::WallClockDays(w),
        _ => {
            return Err(ModelError::new_err((
                "give exactly one of mfu, gpu_hours, wall_clock_days",
                "mfu",
            )))
        }
    };
    let lora = match (r.opt("lora_rank")?, r.opt("lora_fraction")?) {
        (Some(rank), None) => Some(Trainable::Rank(rank)),
        (None, Some(f)) => Some(Trainable::Fraction(f)),
        (None, None) => None,
        _ => return Err(ModelError::new_err(("give lora_rank or lora_fraction, not both", "lora_rank"))),
    };
    let zero = r.num("zero")?; // (no default here: costspec.estimate passes the registry's)
    if !(0.0..=3.0).contains(&zero) || zero.fract() != 0.0 {
        return Err(ModelError::new_err((format!("zero: got {zero}, expected 0, 1, 2 or 3"), "zero")));
    }
    Ok(Point {
        params,
        active_params: r.or("active_params", params)?,
        tokens: r.num("tokens")?,
        arch: read_architecture(d.get_item("architecture")?)?,
        convention: r.choice("convention", Convention::SixND, Convention::parse, Convention::NAMES)?,
        recompute: r.choice("recompute", Recompute::None, Recompute::parse, Recompute::NAMES)?,
        mode: r.choice("mode", Mode::Pretrain, Mode::parse, Mode::NAMES)?,
        lora,
        precision: r.choice("precision", Precision::Bf16, Precision::parse, Precision::NAMES)?,
        peak_tflops: r.num("peak_tflops")?,
        utilisation,
        gpus: r.opt("gpus")?,
        usd_per_gpu_hour: r.opt("usd_per_gpu_hour")?,
        watts: r.opt("watts")?,
        pue: r.or("pue", 1.0)?,
        grid_kg_co2e_per_kwh: r.opt("grid_kg_co2e_per_kwh")?,
        gpu_memory_gb: r.opt("gpu_memory_gb")?,
        optimizer: r.choice("optimizer", Optimizer::Adam, Optimizer::parse, Optimizer::NAMES)?,
        zero_stage: zero as u8,
        tensor_parallel: r.or("tensor_parallel", 1.0)?,
        pipeline_parallel: r.or("pipeline_parallel", 1.0)?,
        micro_batch: r.or("micro_batch", 1.0)?,
    })
}

fn outputs_dict<'py>(py: Python<'py>, o: &Outputs) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("trainable_params", o.trainable_params)?;
    d.set_item("model_flops_per_token", o.model_flops_per_token)?;
    d.set_item("model_flops", o.model_flops)?;
    d.set_item("hardware_flops", o.hardware_flops)?;
    d.set_item("peak_tflops", o.peak_tflops)?;
    d.set_item("mfu", o.mfu)?;
    d.set_item("hfu", o.hfu)?;
    d.set_item("gpu_hours", o.gpu_hours)?;
    d.set_item("wall_clock_days", o.wall_clock_days)?;
    d.set_item("cost_usd", o.cost_usd)?;
    d.set_item("energy_kwh", o.energy_kwh)?;
    d.set_item("co2e_kg", o.co2e_kg)?;
    let m = &o.memory;
    d.set_item("weights_gb", m.weights_gb)?;
    d.set_item("gradients_gb", m.gradients_gb)?;
    d.set_item("optimizer_gb", m.optimizer_gb)?;
    d.set_item("activations_gb", m.activations_gb)?;
    d.set_item("memory_gb_per_gpu", m.total_gb)?;
    d.set_item("data_parallel", m.data_parallel)?;
    d.set_item("fits", m.fits)?;
    d.set_item("min_gpus", m.min_gpus)?;
    Ok(d)
}

/// estimate(point: dict) -> dict
///
/// Evaluates the cost model at one fully resolved point (catalog names already looked up).
#[pyfunction(name = "estimate")]
pub(crate) fn py_estimate<'py>(py: Python<'py>, point: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let p = read_point(point)?;
    let out = py.detach(|| estimate::estimate(&p)).map_err(model_error)?;
    outputs_dict(py, &out)
}

