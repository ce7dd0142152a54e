//! Label encoding shared by every loader: distinct label strings to class indices.

use std::collections::HashMap;

/// Encodes `values` as class indices.
///
/// Classes are the distinct strings; if every one parses as a finite number they are ordered
/// numerically (ties by string), otherwise lexicographically. Returns `(labels, class_names)`.
pub(crate) fn encode<S: AsRef<str>>(values: &[S]) -> (Vec<u32>, Vec<String>) {
    // First-seen index of each distinct value, then one pass to label rows: O(N) overall.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut raw: Vec<usize> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.as_ref();
        let id = *ids.entry(v).or_insert_with(|| {
            distinct.push(v);
            distinct.len() - 1
        });
        raw.push(id);
    }
    let numeric: Option<Vec<f64>> =
        distinct.iter().map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite())).collect();
    let mut order: Vec<usize> = (0..distinct.len()).collect();
    match &numeric {
        Some(nums) => order.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]).then(distinct[a].cmp(distinct[b]))),
        None => order.sort_by(|&a, &b| distinct[a].cmp(distinct[b])),
    }
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r as u32;
    }
    let labels = raw.iter().map(|&i| rank[i]).collect();
    let class_names = order.iter().map(|&i| distinct[i].to_string()).collect();
    (labels, class_names)
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn numeric_labels_sort_numerically() {
        let (labels, names) = encode(&["10", "9", "3", "10", "-1"]);
        assert_eq!(names, ["-1", "3", "9", "10"]);
        assert_eq!(labels, [3, 2, 1, 3, 0]);
    }

    #[test]
    fn string_labels_sort_lexicographically() {
        let (labels, names) = encode(&["medium", "low", "high", "10", "low"]);
        assert_eq!(names, ["10", "high", "low", "medium"]);
        assert_eq!(labels, [3, 2, 1, 0, 2]);
    }
}
