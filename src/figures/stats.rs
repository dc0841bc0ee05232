//! The statistics behind a report's confidence: Wilson intervals for pass
//! rates, a seeded percentile bootstrap over documents for field accuracy.

/// z for a two-sided 95% interval.
pub(super) const Z95: f64 = 1.959_963_984_540_054;
/// Bootstrap resamples (fixed, like the seed: the same runs always give
/// the same report).
const RESAMPLES: usize = 2000;
const SEED: u64 = 0x4d6f_6465_6c50_6963;

/// A small, fixed pseudo-random sequence (SplitMix64): the bootstrap must
/// give the same interval every time the report is read or recomputed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The Wilson score interval (95%) for `successes` of `n`.
pub fn wilson(successes: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

pub(super) fn percentile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A 95% percentile-bootstrap interval of `statistic` over resampled
/// document indices (the same resamples for every call: seeded).
pub(super) fn bootstrap(documents: usize, statistic: impl Fn(&[usize]) -> f64) -> [f64; 2] {
    if documents == 0 {
        return [0.0, 1.0];
    }
    let mut random = SplitMix(SEED);
    let mut sample = vec![0; documents];
    let mut values: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for slot in sample.iter_mut() {
                *slot = random.below(documents);
            }
            statistic(&sample)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    [
        percentile_of_sorted(&values, 0.025),
        percentile_of_sorted(&values, 0.975),
    ]
}

/// Field accuracy over the documents `sample` names (with repeats).
pub(super) fn accuracy_of(per_document: &[(u32, u32)], sample: &[usize]) -> f64 {
    let (matched, total) = sample.iter().fold((0u64, 0u64), |(m, t), &d| {
        (
            m + u64::from(per_document[d].0),
            t + u64::from(per_document[d].1),
        )
    });
    if total == 0 {
        0.0
    } else {
        matched as f64 / total as f64
    }
}

/// The nearest-rank percentile of latencies.
pub(super) fn latency_percentile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}
