//! Pairing the elements of an expected list with the answer's: the best
//! assignment for a list in any order (Hungarian algorithm), the best
//! alignment for an ordered one (a weighted longest common subsequence, so
//! one dropped element costs one element), and the cheap fallbacks used
//! when the step budget cannot pay for those.

use std::collections::HashMap;

use serde_json::Value;

/// For each expected element, the answer element paired with it, if any.
pub type Pairs = Vec<Option<usize>>;

/// Pairs maximising the total gain, in any order; `gain[i][j]` is `None`
/// where i and j may not be paired.
pub fn assign(gain: &[Vec<Option<i64>>], answers: usize) -> Pairs {
    let expected = gain.len();
    let n = expected.max(answers);
    let best = gain.iter().flatten().flatten().copied().max().unwrap_or(0);
    let cost: Vec<Vec<i64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let g = gain.get(i).and_then(|row| row.get(j)).copied().flatten();
                    best + 1 - g.unwrap_or(-1)
                })
                .collect()
        })
        .collect();
    let columns = hungarian(&cost);
    (0..expected)
        .map(|i| {
            let j = columns[i];
            (j < answers && gain[i][j].is_some()).then_some(j)
        })
        .collect()
}

/// Pairs maximising the total gain without crossing: the order of both
/// lists is kept.
pub fn align(gain: &[Vec<Option<i64>>], answers: usize) -> Pairs {
    let expected = gain.len();
    // best[i][j]: the most gain from expected[i..] and answers[j..].
    let mut best = vec![vec![0i64; answers + 1]; expected + 1];
    for i in (0..expected).rev() {
        for j in (0..answers).rev() {
            let skip = best[i + 1][j].max(best[i][j + 1]);
            let take = gain[i][j].map(|g| g + 1 + best[i + 1][j + 1]);
            best[i][j] = take.map_or(skip, |t| t.max(skip));
        }
    }
    let mut pairs = vec![None; expected];
    let (mut i, mut j) = (0, 0);
    while i < expected && j < answers {
        match gain[i][j] {
            Some(g) if best[i][j] == g + 1 + best[i + 1][j + 1] => {
                pairs[i] = Some(j);
                i += 1;
                j += 1;
            }
            _ if best[i][j] == best[i + 1][j] => i += 1,
            _ => j += 1,
        }
    }
    pairs
}

/// Identical elements paired first, whatever their order, then the rest
/// by position: linear in the elements' size.
pub fn by_equality(expected: &[Value], answers: &[Value]) -> Pairs {
    let mut unpaired: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, value) in answers.iter().enumerate().rev() {
        unpaired.entry(value.to_string()).or_default().push(j);
    }
    let mut pairs: Pairs = expected
        .iter()
        .map(|value| unpaired.get_mut(&value.to_string()).and_then(Vec::pop))
        .collect();
    let mut rest: Vec<usize> = unpaired.into_values().flatten().collect();
    rest.sort_unstable();
    let mut rest = rest.into_iter();
    for pair in pairs.iter_mut().filter(|p| p.is_none()) {
        *pair = rest.next();
    }
    pairs
}

pub fn by_position(expected: usize, answers: usize) -> Pairs {
    (0..expected).map(|i| (i < answers).then_some(i)).collect()
}

/// Minimum-cost perfect matching on a square matrix; returns the column
/// assigned to each row.
fn hungarian(cost: &[Vec<i64>]) -> Vec<usize> {
    let n = cost.len();
    const INF: i64 = i64::MAX / 4;
    let (mut u, mut v) = (vec![0i64; n + 1], vec![0i64; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![INF; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = INF;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_to_col = vec![0; n];
    for j in 1..=n {
        if p[j] > 0 {
            row_to_col[p[j] - 1] = j - 1;
        }
    }
    row_to_col
}

#[cfg(test)]
mod tests {
    use super::*;

    fn equal_gain(e: &[i32], a: &[i32]) -> Vec<Vec<Option<i64>>> {
        e.iter()
            .map(|x| a.iter().map(|y| (x == y).then_some(1)).collect())
            .collect()
    }

    #[test]
    fn an_ordered_list_with_its_first_element_dropped_keeps_the_rest() {
        let (e, a) = ([1, 2, 3, 4, 5], [2, 3, 4, 5]);
        assert_eq!(
            align(&equal_gain(&e, &a), a.len()),
            vec![None, Some(0), Some(1), Some(2), Some(3)]
        );
        let (e, a) = ([1, 2, 3], [3, 2, 1]);
        assert_eq!(
            align(&equal_gain(&e, &a), a.len()).iter().flatten().count(),
            1,
            "reversed, only one can stay in order"
        );
    }

    #[test]
    fn the_assignment_ignores_order_and_leaves_unpairable_alone() {
        let (e, a) = ([1, 2, 3], [3, 9, 1]);
        assert_eq!(
            assign(&equal_gain(&e, &a), a.len()),
            vec![Some(2), None, Some(0)]
        );
    }
}
