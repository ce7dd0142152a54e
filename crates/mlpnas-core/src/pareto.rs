//! Multi-objective search (`search.objectives`): what is built on each trial's values of the
//! run's [`Criterion`]s ([`Scored`], in [`crate::TrialRecord::objectives`]): dominance, the Pareto front, non-dominated sorting with crowding distance
//! (NSGA-II; what evolution and TPE rank by) and the hypervolume (the one number that compares
//! two fronts).
//!
//! Every function here works on *oriented* vectors: each criterion turned so that larger is
//! better ([`Criterion::oriented`], [`TrialRecord::oriented`]), so a value to minimise is
//! negated. Records keep the values as measured (`params` is a count, never negative), each
//! with its criterion's name.

use std::cmp::Ordering;

use crate::criterion::{Criterion, Scored};
use crate::trial::TrialRecord;

/// The values of `criteria` for the trial `r` (its reward and parameter count as recorded),
/// `seconds` being the recorded training time of what it measured ([`crate::Measured::seconds`];
/// a run asks for `seconds` only where its trainer records them).
pub fn scores(criteria: &[Criterion], r: &TrialRecord, seconds: Option<f64>) -> Vec<Scored> {
    criteria
        .iter()
        .map(|&name| {
            let value = match name {
                Criterion::Reward => r.reward,
                Criterion::Params => r.params as f64,
                Criterion::Seconds => seconds.unwrap_or(0.0),
            };
            Scored { name, value }
        })
        .collect()
}

/// Whether `a` dominates `b` (oriented vectors of one length): at least as good everywhere and
/// better somewhere. Equal vectors do not dominate each other.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        better |= x > y;
    }
    better
}

/// The indices of `points` (oriented) that no other point dominates, in index order.
pub fn front(points: &[Vec<f64>]) -> Vec<usize> {
    (0..points.len()).filter(|&i| !points.iter().any(|q| dominates(q, &points[i]))).collect()
}

/// Non-dominated sorting (Deb et al. 2002): each point's front number, 0 for the Pareto front,
/// 1 for the front of what remains without it, and so on.
pub fn ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let n = points.len();
    let mut rank = vec![usize::MAX; n];
    let mut left: Vec<usize> = (0..n).collect();
    let mut r = 0;
    while !left.is_empty() {
        let (now, later): (Vec<usize>, Vec<usize>) =
            left.iter().partition(|&&i| !left.iter().any(|&j| dominates(&points[j], &points[i])));
        for &i in &now {
            rank[i] = r;
        }
        left = later;
        r += 1;
    }
    rank
}

/// The crowding distance of each of `members` (indices into `points`, one front) within it: the
/// sum over criteria of the gap between its two neighbours, normalised by the front's range;
/// the extremes of each criterion get infinity (NSGA-II keeps them first).
pub fn crowding(points: &[Vec<f64>], members: &[usize]) -> Vec<f64> {
    let mut d = vec![0.0; members.len()];
    let dims = members.first().map_or(0, |&m| points[m].len());
    // The front's values of each criterion, by member.
    let columns = (0..dims).map(|k| members.iter().map(|&m| points[m][k]).collect::<Vec<f64>>());
    for v in columns {
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let (Some(&lo), Some(&hi)) = (order.first(), order.last()) else { continue };
        let range = v[hi] - v[lo];
        d[lo] = f64::INFINITY;
        d[hi] = f64::INFINITY;
        if range <= 0.0 {
            continue;
        }
        for w in order.windows(3) {
            d[w[1]] += (v[w[2]] - v[w[0]]) / range;
        }
    }
    d
}

/// All of `points` ordered best first by NSGA-II's crowded comparison: lower front number, then
/// larger crowding distance within the front, then index (deterministic).
pub fn crowded_order(points: &[Vec<f64>]) -> Vec<usize> {
    let rank = ranks(points);
    let mut distance = vec![0.0; points.len()];
    for r in 0..=rank.iter().copied().max().unwrap_or(0) {
        let members: Vec<usize> = (0..points.len()).filter(|&i| rank[i] == r).collect();
        for (m, c) in members.iter().zip(crowding(points, &members)) {
            distance[*m] = c;
        }
    }
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        rank[a]
            .cmp(&rank[b])
            .then_with(|| distance[b].partial_cmp(&distance[a]).unwrap_or(Ordering::Equal))
            .then(a.cmp(&b))
    });
    order
}

/// The hypervolume of `points` (oriented) above `reference`: the measure of the region that
/// some point dominates and that dominates `reference`. Points not better than the reference in
/// every criterion add nothing. Exact, by slicing along the last criterion (fine for the few
/// criteria and hundreds of points of a search).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<&Vec<f64>> = points.iter().filter(|p| p.iter().zip(reference).all(|(x, r)| x > r)).collect();
    slice_volume(&inside, reference)
}

fn slice_volume(points: &[&Vec<f64>], reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() || d == 0 {
        return 0.0;
    }
    if d == 1 {
        return points.iter().map(|p| p[0]).fold(f64::NEG_INFINITY, f64::max) - reference[0];
    }
    // Slabs between consecutive values of the last criterion, best first: the points at or
    // above a slab's top cover it with the volume of their projection.
    let mut tops: Vec<f64> = points.iter().map(|p| p[d - 1]).collect();
    tops.sort_by(|a, b| b.total_cmp(a));
    tops.dedup();
    let mut volume = 0.0;
    for (i, &top) in tops.iter().enumerate() {
        let bottom = tops.get(i + 1).copied().unwrap_or(reference[d - 1]);
        let above: Vec<Vec<f64>> = points.iter().filter(|p| p[d - 1] >= top).map(|p| p[..d - 1].to_vec()).collect();
        let above: Vec<&Vec<f64>> = above.iter().collect();
        volume += slice_volume(&above, &reference[..d - 1]) * (top - bottom);
    }
    volume
}

/// The trials of `records` on the run's Pareto front: among successful trials of the search
/// (no re-evaluations) that trained the most epochs (as [`crate::top_n`] compares only those),
/// those whose objective values no other such trial dominates, in trial order. Empty for a
/// single-objective run.
pub fn pareto_front(records: &[TrialRecord]) -> Vec<&TrialRecord> {
    let eligible: Vec<&TrialRecord> = records
        .iter()
        .filter(|r| r.rescore_of.is_none() && r.status == crate::TrialStatus::Ok && !r.objectives.is_empty())
        .collect();
    let longest = eligible.iter().map(|r| r.rungs.last().map_or(usize::MAX, |g| g.epochs)).max().unwrap_or(0);
    let eligible: Vec<&TrialRecord> =
        eligible.into_iter().filter(|r| r.rungs.last().map_or(usize::MAX, |g| g.epochs) == longest).collect();
    let points: Vec<Vec<f64>> = eligible.iter().map(|r| r.oriented()).collect();
    front(&points).into_iter().map(|i| eligible[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hypervolume_of_known_sets() {
        let r = [0.0, 0.0];
        assert_eq!(hypervolume(&[vec![1.0, 1.0]], &r), 1.0);
        // Two rectangles overlapping in [0,1]x[0,1]: 2 + 2 - 1.
        assert_eq!(hypervolume(&[vec![2.0, 1.0], vec![1.0, 2.0]], &r), 3.0);
        // A dominated point adds nothing; one outside the reference adds nothing.
        assert_eq!(hypervolume(&[vec![2.0, 1.0], vec![1.0, 2.0], vec![0.5, 0.5], vec![3.0, -1.0]], &r), 3.0);
        // A staircase: (1,3), (2,2), (3,1) over (0,0): 3 + 2 + 1.
        assert_eq!(hypervolume(&[vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]], &r), 6.0);
        // Another reference point; three criteria: a unit cube and a 2x1x1 box overlapping.
        assert_eq!(hypervolume(&[vec![1.0, 1.0]], &[-1.0, 0.5]), 1.0);
        assert_eq!(hypervolume(&[vec![1.0, 1.0, 1.0], vec![2.0, 1.0, 1.0]], &[0.0, 0.0, 0.0]), 2.0);
        assert_eq!(hypervolume(&[vec![2.0, 1.0, 1.0], vec![1.0, 2.0, 2.0]], &[0.0, 0.0, 0.0]), 2.0 + 4.0 - 1.0);
        assert_eq!(hypervolume(&[], &r), 0.0);
    }

    #[test]
    fn crowding_keeps_the_extremes_and_measures_the_gaps() {
        let p = vec![vec![0.0, 4.0], vec![1.0, 3.0], vec![3.0, 1.0], vec![4.0, 0.0]];
        let d = crowding(&p, &[0, 1, 2, 3]);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // Point 1: neighbours 0 and 2 span 3 of 4 in each criterion.
        assert!((d[1] - 1.5).abs() < 1e-12 && (d[2] - 1.5).abs() < 1e-12, "{d:?}");
        let p = vec![vec![1.0, 1.0], vec![0.0, 0.0], vec![2.0, 0.0], vec![0.0, 2.0]];
        assert_eq!(ranks(&p), vec![0, 1, 0, 0]);
        assert_eq!(crowded_order(&p)[3], 1, "the dominated point comes last");
    }

    fn points() -> impl Strategy<Value = Vec<Vec<f64>>> {
        (1usize..4)
            .prop_flat_map(|d| prop::collection::vec(prop::collection::vec(-5i32..5, d), 0..30))
            .prop_map(|v| v.into_iter().map(|p| p.into_iter().map(f64::from).collect()).collect())
    }

    proptest! {
        /// No member of the front is dominated by any point, and every point no other point
        /// dominates is a member.
        #[test]
        fn the_front_is_exactly_the_non_dominated(p in points()) {
            let f = front(&p);
            for &i in &f {
                prop_assert!(!p.iter().any(|q| dominates(q, &p[i])));
            }
            for i in 0..p.len() {
                if !p.iter().any(|q| dominates(q, &p[i])) {
                    prop_assert!(f.contains(&i));
                }
            }
            let r = ranks(&p);
            prop_assert_eq!(f, (0..p.len()).filter(|&i| r[i] == 0).collect::<Vec<_>>());
            // A point of a later front is dominated by one of the front before it.
            for i in 0..p.len() {
                if r[i] > 0 {
                    prop_assert!((0..p.len()).any(|j| r[j] == r[i] - 1 && dominates(&p[j], &p[i])));
                }
            }
        }

        /// The hypervolume is that of the front alone, never shrinks when a point is added,
        /// and in 2-D equals a grid count of the dominated cells (integer points).
        #[test]
        fn hypervolume_is_the_fronts_and_monotone(p in points(), extra in prop::collection::vec(-5i32..5, 3)) {
            let Some(d) = p.first().map(Vec::len) else { return Ok(()) };
            let reference = vec![-6.0; d];
            let all = hypervolume(&p, &reference);
            let f: Vec<Vec<f64>> = front(&p).into_iter().map(|i| p[i].clone()).collect();
            prop_assert!((all - hypervolume(&f, &reference)).abs() < 1e-9);
            let mut more = p.clone();
            more.push(extra[..d].iter().map(|&x| f64::from(x)).collect());
            prop_assert!(hypervolume(&more, &reference) >= all - 1e-9);
            if d == 2 {
                let mut cells = 0.0;
                for x in -6..5 {
                    for y in -6..5 {
                        // The unit cell [x, x+1] x [y, y+1] is dominated by a point above it.
                        if p.iter().any(|q| q[0] >= f64::from(x + 1) && q[1] >= f64::from(y + 1)) {
                            cells += 1.0;
                        }
                    }
                }
                prop_assert!((all - cells).abs() < 1e-9, "{} vs {} cells", all, cells);
            }
        }
    }
}
