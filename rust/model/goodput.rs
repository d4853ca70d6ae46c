//! Goodput (issue 12): time lost to interruptions, checkpoints and restarts, as the effective
//! training time ratio (ETTR) of a job on N GPUs. Daly 2006 (FGCS 22(3)) for exponentially
//! distributed interruptions: with job MTBF M, checkpoint cost δ, restart cost R and checkpoint
//! interval τ, a solve time T_s takes T_w = M·e^{R/M}·(e^{(τ+δ)/M} − 1)·T_s/τ, minimised near
//! τ_opt = √(2δM)·[1 + (1/3)√(δ/2M) + (1/9)(δ/2M)] − δ (τ_opt = M when δ ≥ 2M); ETTR = T_s/T_w.

/// GPU-hours between unexpected job interruptions per GPU: Llama 3 405B's 419 in 54 days on up
/// to 16,384 H100s (Grattafiori et al. 2024, §3.3.4, Table 5): 54 × 24 × 16,384 / 419.
pub const GPU_MTBF_HOURS: f64 = 54.0 * 24.0 * 16384.0 / 419.0;
/// Checkpoint write bandwidth per GPU, bytes/s: BLOOM-176B wrote 2.3 TB in about 40 s from 384
/// GPUs (0.15 GB/s each; bigscience tr11 README); Llama 3's Tectonic sustains 2 TB/s for 16,384
/// (0.12 GB/s each).
pub const CHECKPOINT_BYTES_PER_S_PER_GPU: f64 = 0.15e9;
/// Minutes from an interruption to training again (detection, rescheduling, initialisation,
/// checkpoint load): Daly's test cases use 10; Meta reports 5–20 for its clusters (Kokolis et al.
/// 2024), MegaScale under 10 to detect plus under 15 to catch up.
pub const RESTART_MINUTES: f64 = 10.0;
/// Bytes per parameter of a checkpoint: 16-bit weights and the fp32 master copy and two Adam
/// moments (2 + 12; BLOOM's 2.3 TB for 176B is 13 bytes per parameter).
pub const CHECKPOINT_BYTES_PER_PARAM: f64 = 14.0;

/// Daly's optimal checkpoint interval τ for checkpoint cost `delta` and MTBF `m` (seconds).
pub fn daly_interval(delta: f64, m: f64) -> f64 {
    if delta >= 2.0 * m {
        return m;
    }
    let x = delta / (2.0 * m);
    (2.0 * delta * m).sqrt() * (1.0 + x.sqrt() / 3.0 + x / 9.0) - delta
}

/// The effective training time ratio T_s/T_w at interval `tau` (Daly 2006, eq. for T_w).
pub fn ettr(tau: f64, delta: f64, restart: f64, m: f64) -> f64 {
    tau / (m * (restart / m).exp() * ((tau + delta) / m).exp_m1())
}

/// The goodput of a job: (ETTR, checkpoint interval in seconds, job MTBF in seconds).
pub fn goodput(gpus: f64, checkpoint_bytes: f64, gpu_mtbf_hours: f64, storage_bytes_per_s: f64, restart_s: f64)
               -> (f64, f64, f64) {
    let m = gpu_mtbf_hours * 3600.0 / gpus;
    let delta = checkpoint_bytes / storage_bytes_per_s;
    let tau = daly_interval(delta, m);
    (ettr(tau, delta, restart_s, m), tau, m)
}

/// With the checkpoint bandwidth proportional to the GPU count (the default), the ratio factors:
/// with u = δ/M (the same for every count) and T = τ/M, ETTR = T / expm1(T + u) · e^{−R/M}, where
/// R/M = R·N/(3600·gpu_mtbf_hours) carries the count alone. This is the first factor, and T, for a
/// checkpoint of `bytes` (the compiler hoists it out of the inner loop over counts).
pub fn shape(bytes: f64, gpu_mtbf_hours: f64) -> (f64, f64) {
    let u = bytes / (CHECKPOINT_BYTES_PER_S_PER_GPU * gpu_mtbf_hours * 3600.0);
    let t = if u >= 2.0 { 1.0 } else { (2.0 * u).sqrt() * (1.0 + (u / 2.0).sqrt() / 3.0 + u / 18.0) - u };
    (t / (t + u).exp_m1(), t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dalys_published_test_cases() {
        // Daly 2006, figure captions: δ = 5 min, R = 10 min; M = 24 h, 6 h, 15 min.
        let (d, r) = (300.0, 600.0);
        for (m_min, tau_min, eff) in [(24.0 * 60.0, 117.0, 0.913), (6.0 * 60.0, 57.0, 0.819), (15.0, 9.1, 0.200)] {
            let m = m_min * 60.0;
            let tau = daly_interval(d, m);
            assert!((tau / 60.0 - tau_min).abs() < 0.5, "M={m_min} min: τ={} min", tau / 60.0);
            let e = ettr(tau, d, r, m);
            assert!((e - eff).abs() < 0.0015, "M={m_min} min: ETTR={e}");
        }
    }

    #[test]
    fn the_factored_ratio_is_the_ratio() {
        for (gpus, params) in [(1.0, 7e9), (64.0, 7e9), (2048.0, 70e9), (16384.0, 405e9), (8.0, 1e12)] {
            let bytes = params * CHECKPOINT_BYTES_PER_PARAM;
            let (r, tau, m) = goodput(gpus, bytes, GPU_MTBF_HOURS, gpus * CHECKPOINT_BYTES_PER_S_PER_GPU, RESTART_MINUTES * 60.0);
            let (a, t) = shape(bytes, GPU_MTBF_HOURS);
            let factored = a * (-RESTART_MINUTES * 60.0 * gpus / (3600.0 * GPU_MTBF_HOURS)).exp();
            assert!((factored / r - 1.0).abs() < 1e-12, "{gpus} {params}: {factored} vs {r}");
            assert!((t * m / tau - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn llama_3s_rate_and_ratio() {
        // 16,384 GPUs: one interruption every 3.09 h; Meta reports > 90% effective training time.
        let (e, _, m) = goodput(16384.0, 405e9 * 14.0, GPU_MTBF_HOURS, 16384.0 * CHECKPOINT_BYTES_PER_S_PER_GPU, 600.0);
        assert!((m / 3600.0 - 3.09).abs() < 0.01, "{}", m / 3600.0);
        assert!(e > 0.90 && e < 0.95, "{e}");
    }
}
