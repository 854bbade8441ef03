//! The two tests behind `compare`'s verdicts, on plain numbers: the Mann–Whitney U rank
//! test for latencies (normal approximation with the tie correction) and the two-proportion
//! z-test for error rates, both two-sided; and the normal tail they share.

/// Result of a two-sample test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The standardised statistic (positive: the second sample is larger).
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// `erfc(x)` with a fractional error below 1.2e-7 everywhere (Chebyshev fit of
/// `exp(-x²)·t·P(t)`, `t = 1 / (1 + x/2)`).
#[must_use]
pub fn erfc(x: f64) -> f64 {
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

/// Two-sided p-value of a standard normal statistic.
#[must_use]
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Mann–Whitney U test of `a` against `b`, both sorted ascending: `z > 0` when values of `b`
/// tend to be larger. Ranks are computed in one merge pass; ties get their mean rank and
/// the variance is corrected for them. `None` when either sample is empty or every value
/// is tied (no variance).
#[must_use]
pub fn mann_whitney(a: &[u32], b: &[u32]) -> Option<TestResult> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let n = n1 + n2;
    let (mut i, mut j) = (0usize, 0usize);
    let mut rank_sum_b = 0.0;
    let mut tie_term = 0.0;
    let mut next_rank = 1.0;
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => (*x).min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        let start_i = i;
        while a.get(i) == Some(&v) {
            i += 1;
        }
        let start_j = j;
        while b.get(j) == Some(&v) {
            j += 1;
        }
        let (ta, tb) = ((i - start_i) as f64, (j - start_j) as f64);
        let t = ta + tb;
        let mean_rank = next_rank + (t - 1.0) / 2.0;
        rank_sum_b += tb * mean_rank;
        tie_term += t * t * t - t;
        next_rank += t;
    }
    let u_b = rank_sum_b - n2 * (n2 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let z = (u_b - mean) / var.sqrt();
    Some(TestResult { z, p: two_sided_p(z) })
}

/// Two-proportion z-test (pooled) of `x1` in `n1` against `x2` in `n2`: `z > 0` when the
/// second proportion is larger. `None` when a sample is empty; `p = 1` when both
/// proportions are 0 or both are 1.
#[must_use]
pub fn two_proportions(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<TestResult> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se <= 0.0 || se.is_nan() {
        return Some(TestResult { z: 0.0, p: 1.0 });
    }
    let z = (p2 - p1) / se;
    Some(TestResult { z, p: two_sided_p(z) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-7);
        assert!((two_sided_p(1.959_964) - 0.05).abs() < 1e-6);
        assert!((two_sided_p(2.575_829) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn mann_whitney_matches_a_hand_computed_case() {
        // a = 1 2 3 4, b = 5 6 7 8: U_b = 16 (all of b above all of a), mean 8,
        // var = 16/12 * 9 = 12, z = 8 / sqrt(12)
        let r = mann_whitney(&[1, 2, 3, 4], &[5, 6, 7, 8]).unwrap_or(TestResult { z: 0.0, p: 1.0 });
        assert!((r.z - 8.0 / 12f64.sqrt()).abs() < 1e-12);
        assert!(r.p < 0.03 && r.p > 0.02);
    }

    #[test]
    fn mann_whitney_corrects_for_ties_and_is_symmetric() {
        // ranks: 1 1 2 | 2 3 3 → values 1,1 ranks 1.5; 2,2 ranks 3.5; 3,3 ranks 5.5
        let a = [1, 1, 2];
        let b = [2, 3, 3];
        let r = mann_whitney(&a, &b).unwrap_or(TestResult { z: 0.0, p: 1.0 });
        // rank sum b = 3.5 + 5.5 + 5.5 = 14.5, U_b = 14.5 - 6 = 8.5, mean 4.5,
        // var = 9/12 * (7 - (6+6+6)/30) = 0.75 * 6.4 = 4.8
        assert!((r.z - 4.0 / 4.8f64.sqrt()).abs() < 1e-12);
        let back = mann_whitney(&b, &a).unwrap_or(TestResult { z: 0.0, p: 1.0 });
        assert!((back.z + r.z).abs() < 1e-12);
        assert!(mann_whitney(&[5, 5], &[5, 5, 5]).is_none());
        assert!(mann_whitney(&[], &[1]).is_none());
    }

    #[test]
    fn identical_samples_give_z_zero() {
        let v: Vec<u32> = (0..1000).map(|i| i * 7 % 301).collect::<Vec<_>>();
        let mut s = v.clone();
        s.sort_unstable();
        let r = mann_whitney(&s, &s).unwrap_or(TestResult { z: 1.0, p: 0.0 });
        assert!(r.z.abs() < 1e-12);
        assert!((r.p - 1.0).abs() < 1e-6);
    }

    #[test]
    fn two_proportions_matches_a_hand_computed_case() {
        // 10/100 vs 20/100: pooled 0.15, se = sqrt(0.15*0.85*0.02) = 0.050498, z = 1.98
        let r = two_proportions(10, 100, 20, 100).unwrap_or(TestResult { z: 0.0, p: 1.0 });
        assert!((r.z - 0.1 / (0.15f64 * 0.85 * 0.02).sqrt()).abs() < 1e-12);
        assert!(r.p < 0.05 && r.p > 0.04);
        assert_eq!(two_proportions(0, 50, 0, 60).map(|r| r.p), Some(1.0));
        assert!(two_proportions(0, 0, 1, 2).is_none());
    }
}
