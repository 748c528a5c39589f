//! Deterministic randomness for agents: SplitMix64 and the few distributions scenarios use.
//!
//! Every run owns its generator, seeded from `(seed, run index)` by [`run_seed`], so a run's
//! result does not depend on which thread ran it or in which order.

use zengzhi_core::workload::SplitMix64;

use crate::scenario::Dist;

/// The seed of Monte-Carlo run `run` (0-based) of a simulation seeded with `seed`.
pub fn run_seed(seed: u64, run: u32) -> u64 {
    let mut mix = SplitMix64::new(seed ^ u64::from(run).wrapping_add(1).wrapping_mul(0xA076_1D64_78BD_642F));
    mix.next_u64()
}

/// A generator with float helpers.
#[derive(Debug, Clone)]
pub struct Rng {
    bits: SplitMix64,
    /// The second deviate of the last Box–Muller pair, not yet used.
    spare_normal: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { bits: SplitMix64::new(seed), spare_normal: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.bits.next_u64()
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits.below(n)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.unit() < p)
    }

    /// A standard normal deviate (Box–Muller; each pair gives two).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        let r = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare_normal = Some(r * sin);
        r * cos
    }

    /// A Poisson count with mean `lambda` (exact below 30, normal approximation above).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut k = 0;
            let mut p = self.unit();
            while p > limit {
                k += 1;
                p *= self.unit();
            }
            return k;
        }
        (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64
    }

    /// A draw from `dist` (checked by the scenario loader), clamped to its `min` / `max`.
    pub fn draw(&mut self, dist: &Dist) -> f64 {
        let v = match dist.dist.as_str() {
            "fixed" => dist.value.unwrap_or(0.0),
            "uniform" => {
                let (lo, hi) = (dist.min.unwrap_or(0.0), dist.max.unwrap_or(0.0));
                lo + (hi - lo) * self.unit()
            }
            "lognormal" => dist.median.unwrap_or(0.0) * (dist.sigma.unwrap_or(0.0) * self.normal()).exp(),
            "exponential" => -dist.mean.unwrap_or(0.0) * (1.0 - self.unit()).ln(),
            _ => 0.0,
        };
        v.max(dist.min.unwrap_or(0.0)).min(dist.max.unwrap_or(f64::INFINITY))
    }

    /// A money draw in fen, at least 0.01 and at most the engine's argument limit.
    pub fn draw_fen(&mut self, dist: &Dist) -> i64 {
        let fen = (self.draw(dist) * 100.0).round();
        (fen as i64).clamp(1, zengzhi_core::num::MAX_MONEY_ARG_FEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_asked_moments() {
        let mut rng = Rng::new(5);
        let n = 200_000;
        let normals: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|z| (z - mean) * (z - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "mean {mean}, variance {var}");
        let lambda = 4.5;
        let mean = (0..n).map(|_| rng.poisson(lambda) as f64).sum::<f64>() / n as f64;
        assert!((mean - lambda).abs() < 0.03, "poisson mean {mean}");
        let big = (0..n).map(|_| rng.poisson(400.0) as f64).sum::<f64>() / n as f64;
        assert!((big - 400.0).abs() < 0.5, "poisson mean {big}");
        let d = Dist { dist: "uniform".into(), min: Some(10.0), max: Some(20.0), ..Dist::fixed(0.0) };
        assert!((0..1000).map(|_| rng.draw(&d)).all(|x| (10.0..=20.0).contains(&x)));
        let e = Dist { dist: "exponential".into(), mean: Some(50.0), ..Dist::fixed(0.0) };
        let mean = (0..n).map(|_| rng.draw(&e)).sum::<f64>() / n as f64;
        assert!((mean - 50.0).abs() < 0.5, "exponential mean {mean}");
    }

    #[test]
    fn run_seeds_differ_by_run_and_by_seed() {
        assert_ne!(run_seed(1, 0), run_seed(1, 1));
        assert_ne!(run_seed(1, 0), run_seed(2, 0));
        assert_eq!(run_seed(9, 3), run_seed(9, 3));
    }
}
