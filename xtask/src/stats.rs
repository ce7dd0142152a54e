//! Statistics of a comparison: spread over seeds, a seeded bootstrap confidence interval of a mean,
//! and the Wilcoxon signed-rank test of paired differences.
//!
//! `mean`, ranks and Spearman's correlation come from `mlpnas_core::stats`; what is here is only
//! what the comparison adds. The random generator is a self-contained SplitMix64 so that a bootstrap
//! interval depends on its seed alone, not on the version of a random-number crate.

use mlpnas_core::stats::{mean, ranks};

/// Sample standard deviation (divisor n - 1); `None` for fewer than two values.
pub fn sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// The `q`-quantile (0..=1) of `xs` with linear interpolation between order statistics (R's type 7,
/// numpy's default); `None` when empty.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    Some(quantile_sorted(&v, q))
}

fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// SplitMix64: tiny, fast, and fully determined by its seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// A two-sided percentile bootstrap interval of the mean.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BootstrapCi {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

/// Percentile bootstrap confidence interval of the mean of `xs`: `resamples` resamples with
/// replacement drawn from a generator seeded with `seed`. `None` when `xs` is empty.
pub fn bootstrap_mean_ci(xs: &[f64], level: f64, resamples: usize, seed: u64) -> Option<BootstrapCi> {
    if xs.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let n = xs.len();
    let mut means: Vec<f64> =
        (0..resamples).map(|_| (0..n).map(|_| xs[rng.below(n)]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Some(BootstrapCi {
        low: quantile_sorted(&means, alpha),
        high: quantile_sorted(&means, 1.0 - alpha),
        level,
        resamples,
        seed,
    })
}

/// The outcome of a Wilcoxon signed-rank test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Wilcoxon {
    /// Sum of the ranks of the positive differences.
    pub w_plus: f64,
    /// Non-zero differences (zeros are dropped, Wilcoxon's convention).
    pub n: usize,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether `p_value` is exact (enumerated) rather than the normal approximation.
    pub exact: bool,
}

/// Above this many non-zero differences the normal approximation replaces the exact distribution.
const EXACT_MAX: usize = 60;

/// Wilcoxon signed-rank test of `diffs` against a median of zero, two-sided. Zero differences are
/// dropped; tied absolute values share their mean rank. For up to 60 non-zero differences the
/// p-value is exact (the permutation distribution of the signs, ties included); beyond, the normal
/// approximation with tie correction. With no non-zero difference the p-value is 1.
pub fn wilcoxon_signed_rank(diffs: &[f64]) -> Wilcoxon {
    let nz: Vec<f64> = diffs.iter().copied().filter(|d| *d != 0.0).collect();
    let n = nz.len();
    if n == 0 {
        return Wilcoxon { w_plus: 0.0, n: 0, p_value: 1.0, exact: true };
    }
    let abs: Vec<f64> = nz.iter().map(|d| d.abs()).collect();
    let r = ranks(&abs);
    let w_plus: f64 = nz.iter().zip(&r).filter(|(d, _)| **d > 0.0).map(|(_, r)| r).sum();
    let total: f64 = r.iter().sum();
    let centre = total / 2.0;
    if n <= EXACT_MAX {
        // Tie-averaged ranks are multiples of 1/2: count sign assignments over doubled ranks.
        let doubled: Vec<usize> = r.iter().map(|x| (x * 2.0).round() as usize).collect();
        let max: usize = doubled.iter().sum();
        let mut counts = vec![0.0f64; max + 1];
        counts[0] = 1.0;
        for &d in &doubled {
            for s in (d..=max).rev() {
                counts[s] += counts[s - d];
            }
        }
        let all: f64 = counts.iter().sum();
        let obs = (w_plus - centre).abs() * 2.0;
        let tail: f64 = counts
            .iter()
            .enumerate()
            .filter(|(s, _)| (*s as f64 - centre * 2.0).abs() >= obs - 1e-9)
            .map(|(_, c)| c)
            .sum();
        return Wilcoxon { w_plus, n, p_value: (tail / all).min(1.0), exact: true };
    }
    // Normal approximation: variance sum(r^2)/4 accounts for ties.
    let var: f64 = r.iter().map(|x| x * x).sum::<f64>() / 4.0;
    let z = (w_plus - centre).abs() / var.sqrt();
    Wilcoxon { w_plus, n, p_value: erfc(z / std::f64::consts::SQRT_2).min(1.0), exact: false }
}

/// Complementary error function (Numerical Recipes' `erfcc`, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn spread_and_quantiles() {
        // sd of 2,4,4,4,5,5,7,9 with n-1: sqrt(32/7)
        assert!(close(sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap_or(0.0), (32.0f64 / 7.0).sqrt()));
        assert_eq!(sd(&[1.0]), None);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.0), Some(1.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 1.0), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn generator_is_deterministic_and_in_range() {
        let a: Vec<u64> = {
            let mut g = SplitMix64::new(7);
            (0..4).map(|_| g.next_u64()).collect()
        };
        let mut g = SplitMix64::new(7);
        assert_eq!(a, (0..4).map(|_| g.next_u64()).collect::<Vec<_>>());
        // Reference value of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut g = SplitMix64::new(1);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[g.below(5)] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn bootstrap_contains_the_mean_and_depends_only_on_its_seed() {
        let d = [0.010, 0.020, -0.005, 0.015, 0.012];
        let m = mean(&d).unwrap_or(f64::NAN);
        let ci = bootstrap_mean_ci(&d, 0.95, 10_000, 42).expect("non-empty");
        assert!(ci.low < m && m < ci.high, "{ci:?} should contain {m}");
        assert!(ci.low >= -0.005 && ci.high <= 0.020, "within the data's range: {ci:?}");
        assert_eq!(Some(ci), bootstrap_mean_ci(&d, 0.95, 10_000, 42));
        assert_ne!(Some(ci), bootstrap_mean_ci(&d, 0.95, 10_000, 43));
        // Constant differences: the interval collapses onto the constant.
        let c = bootstrap_mean_ci(&[0.5; 4], 0.95, 1000, 1).expect("non-empty");
        assert!(close(c.low, 0.5) && close(c.high, 0.5));
        assert_eq!(bootstrap_mean_ci(&[], 0.95, 1000, 1), None);
    }

    #[test]
    fn wilcoxon_known_values() {
        // scipy.stats.wilcoxon([1, 2, 3, 4, 5]): W+ = 15, exact two-sided p = 2/32.
        let w = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((w.w_plus, w.n, w.exact), (15.0, 5, true));
        assert!(close(w.p_value, 0.0625));
        // scipy.stats.wilcoxon([1, -2, 3, 4, 5]): W+ = 13, p = 0.1875 (6 of 32 assignments as extreme).
        let w = wilcoxon_signed_rank(&[1.0, -2.0, 3.0, 4.0, 5.0]);
        assert_eq!(w.w_plus, 13.0);
        assert!(close(w.p_value, 0.1875));
        // Zeros dropped: same as [1, 2, 3, 4, 5].
        assert!(close(wilcoxon_signed_rank(&[0.0, 1.0, 2.0, 3.0, 0.0, 4.0, 5.0]).p_value, 0.0625));
        // Symmetric differences: no evidence at all.
        assert!(close(wilcoxon_signed_rank(&[1.0, -1.0, 2.0, -2.0]).p_value, 1.0));
        assert_eq!(wilcoxon_signed_rank(&[0.0, 0.0]).p_value, 1.0);
        // Ties: |d| = 1,1,2 -> ranks 1.5,1.5,3, all positive: W+ = 6, only 2 of 8 assignments as extreme.
        assert!(close(wilcoxon_signed_rank(&[1.0, 1.0, 2.0]).p_value, 0.25));
    }

    #[test]
    fn wilcoxon_normal_approximation_for_many_pairs() {
        // 80 differences, all positive: z = sqrt(3n(n+1)/(2n+1)) = 8.7, p far below 1e-10.
        let d: Vec<f64> = (1..=80).map(f64::from).collect();
        let w = wilcoxon_signed_rank(&d);
        assert!(!w.exact);
        assert!(w.p_value < 1e-10);
        // Signs -,-,+,+ in blocks of four: W+ = 1660 against 1620 expected, sd 208.5, z = 0.19, p = 0.85.
        let d: Vec<f64> =
            (1..=80).map(|i| if i % 4 == 0 || i % 4 == 3 { f64::from(i) } else { -f64::from(i) }).collect();
        let p = wilcoxon_signed_rank(&d).p_value;
        assert!((p - 0.8478).abs() < 1e-3, "{p}");
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207_050_285_1).abs() < 1e-7);
    }
}
