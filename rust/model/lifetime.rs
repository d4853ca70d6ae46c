//! A model's whole life (issue 13; Sardana et al. 2023, "Beyond Chinchilla-Optimal: Accounting for
//! Inference in Language Model Scaling Laws", §2): the parameters N and training tokens D that reach
//! a loss with the fewest FLOPs over training and inference, 6·N·D + 2·N·I for I inference tokens,
//! under a parametric fit L(N, D) = E + A/N^α + B/D^β.
//!
//! For a loss ℓ, D(N) = (B / (ℓ − E − A/N^α))^(1/β) on N > N_min = (A/(ℓ − E))^(1/α). The total's
//! derivative is 6·D·(1 − α·A·N^−α / (β·u)) + 2·I with u = ℓ − E − A/N^α: −∞ as N → N_min, and
//! 2·I ≥ 0 at the Chinchilla optimum N_c = ((α+β)·A / (β·(ℓ − E)))^(1/α) (where the first term
//! vanishes). The optimum is its root between them, found by bisection on log N; with no inference
//! it is N_c, the compute-optimal model of the same loss.

use crate::model::types::{out_of_range, ModelError};

/// A parametric loss fit L(N, D) = E + A/N^alpha + B/D^beta.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub e: f64,
    pub a: f64,
    pub b: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl Fit {
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a / n.powf(self.alpha) + self.b / d.powf(self.beta)
    }

    /// The training tokens that reach `loss` with `n` parameters (None: `n` cannot reach it).
    pub fn tokens_for(&self, n: f64, loss: f64) -> Option<f64> {
        let u = loss - self.e - self.a / n.powf(self.alpha);
        (u > 0.0).then(|| (self.b / u).powf(1.0 / self.beta))
    }
}

/// (N, D) reaching `loss` with the fewest training and inference FLOPs for `inference` tokens.
pub fn optimal(fit: &Fit, loss: f64, inference: f64) -> Result<(f64, f64), ModelError> {
    if !(loss > fit.e && loss.is_finite()) {
        return Err(out_of_range("loss", loss, &format!("a loss above the fit's irreducible {}", fit.e)));
    }
    if !(inference >= 0.0 && inference.is_finite()) {
        return Err(out_of_range("inference_tokens", inference, "a number of tokens >= 0"));
    }
    let gap = loss - fit.e;
    let n_c = ((fit.alpha + fit.beta) * fit.a / (fit.beta * gap)).powf(1.0 / fit.alpha);
    let n_min = (fit.a / gap).powf(1.0 / fit.alpha);
    let slope = |n: f64| {
        let u = gap - fit.a / n.powf(fit.alpha);
        let d = (fit.b / u).powf(1.0 / fit.beta);
        6.0 * d * (1.0 - fit.alpha * fit.a / n.powf(fit.alpha) / (fit.beta * u)) + 2.0 * inference
    };
    let n = if inference == 0.0 {
        n_c
    } else {
        let (mut lo, mut hi) = (n_min.ln(), n_c.ln());
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if slope(mid.exp()) > 0.0 { hi = mid } else { lo = mid }
        }
        hi.exp()
    };
    let d = fit.tokens_for(n, loss).ok_or_else(|| out_of_range("loss", loss, "a loss the fit reaches"))?;
    Ok((n, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hoffmann et al. 2022's approach-3 fit as printed (costspec's hoffmann2022).
    const CHINCHILLA: Fit = Fit { e: 1.69, a: 406.4, b: 410.7, alpha: 0.34, beta: 0.28 };

    fn total(n: f64, d: f64, i: f64) -> f64 {
        6.0 * n * d + 2.0 * n * i
    }

    /// Without inference the optimum is the compute-optimal allocation of its own training FLOPs
    /// (eq. 4: N = G·(C/6)^(β/(α+β))).
    #[test]
    fn without_inference_it_is_chinchilla() {
        let f = CHINCHILLA;
        let c: f64 = 5.76e23;
        let g = (f.alpha * f.a / (f.beta * f.b)).powf(1.0 / (f.alpha + f.beta));
        let (n0, d0) = (g * (c / 6.0).powf(f.beta / (f.alpha + f.beta)), (c / 6.0).powf(f.alpha / (f.alpha + f.beta)) / g);
        let (n, d) = optimal(&f, f.loss(n0, d0), 0.0).unwrap();
        assert!((n / n0 - 1.0).abs() < 1e-9 && (d / d0 - 1.0).abs() < 1e-9, "{n} {n0} {d} {d0}");
    }

    /// With inference the optimum reaches the same loss, is a stationary point of the total, beats
    /// its neighbours, and is smaller and trained longer as the demand grows (Sardana et al.).
    #[test]
    fn demand_makes_a_smaller_model_trained_longer() {
        let f = CHINCHILLA;
        let loss = 2.0;
        let (n0, d0) = optimal(&f, loss, 0.0).unwrap();
        let mut last = (n0, d0);
        for i in [1e11, 1e12, 1e13, 1e14] {
            let (n, d) = optimal(&f, loss, i).unwrap();
            assert!((f.loss(n, d) - loss).abs() < 1e-12);
            assert!(n < last.0 && d > last.1, "{i}: {n} {d} after {last:?}");
            for k in [0.99, 1.01] {
                let m = n * k;
                assert!(total(m, f.tokens_for(m, loss).unwrap(), i) > total(n, d, i), "{i} {k}");
            }
            last = (n, d);
        }
    }

    /// Sardana et al.'s own constants (their code's α = 0.336, β = 0.283: Hoffmann et al.'s approach
    /// 3 unrounded) reproduce their figures: the Figure 1 caption's 13B Chinchilla-optimal model
    /// with 2T tokens of inference is beaten by a ~7B model, saving 1.7e22 FLOPs (17%); their
    /// repository's README example, loss 1.947 with 2e12 inference tokens: 2.418e10 parameters on
    /// 2.657e12 tokens, 95.22% of the equal-quality Chinchilla model's total.
    #[test]
    fn sardanas_examples() {
        let f = Fit { alpha: 0.336, beta: 0.283, ..CHINCHILLA };
        // The Chinchilla-optimal 13B: the tokens that minimise 6·N·D at its loss, i.e. eq. 4's D for N.
        let g = (f.alpha * f.a / (f.beta * f.b)).powf(1.0 / (f.alpha + f.beta));
        let d13 = (13e9 / g).powf(f.alpha / f.beta) / g;
        let loss = f.loss(13e9, d13);
        let (n, d) = optimal(&f, loss, 2e12).unwrap();
        let (chinchilla, ours) = (total(13e9, d13, 2e12), total(n, d, 2e12));
        assert!((n / 1e9 - 7.0).abs() < 0.1, "{n}");
        assert!(((chinchilla - ours) / 1.7e22 - 1.0).abs() < 0.02, "{}", chinchilla - ours);
        assert!(((chinchilla - ours) / chinchilla - 0.17).abs() < 0.005);
        let (n, d) = optimal(&f, 1.947, 2e12).unwrap();
        assert!((n / 2.418e10 - 1.0).abs() < 5e-4 && (d / 2.657e12 - 1.0).abs() < 5e-4, "{n} {d}");
        let (n0, d0) = optimal(&f, 1.947, 0.0).unwrap();
        assert!((total(n, d, 2e12) / total(n0, d0, 2e12) - 0.9522).abs() < 5e-5);
    }

    #[test]
    fn a_loss_at_or_below_the_floor_is_refused() {
        assert!(optimal(&CHINCHILLA, 1.69, 1e12).is_err());
        assert!(optimal(&CHINCHILLA, 2.0, -1.0).is_err());
    }
}
