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

/// Why labels with these (sorted) `class_names` over `rows` rows look like a continuous target
/// rather than classes: numbers that are not whole, or nearly one distinct value per row. Taken
/// as classes, such a target would make hundreds of classes and every reward would be 0: a
/// classification refuses it and names `--task regression`.
pub(crate) fn continuous(class_names: &[String], rows: usize) -> Option<String> {
    let nums: Vec<f64> =
        class_names.iter().map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite())).collect::<Option<_>>()?;
    let fractional = nums.iter().find(|x| x.fract() != 0.0);
    let many = class_names.len() > 20 && class_names.len() * 2 > rows;
    if fractional.is_none() && !many {
        return None;
    }
    let why = match fractional {
        Some(x) => format!("values such as {x} are not whole numbers"),
        None => format!("{} distinct values in {rows} rows", class_names.len()),
    };
    Some(format!(
        "the label looks continuous ({why}): to predict the number, use --task regression (search.task = \
         \"regression\"); to classify ranges of it, bin it into a few classes first, or choose the label \
         with --label"
    ))
}

/// A regression's target values: each label cell as a number; the first that is not one is
/// returned as `Err((row, cell))`.
pub(crate) fn targets<S: AsRef<str>>(values: &[S]) -> Result<Vec<f32>, (usize, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.as_ref();
            v.trim().parse::<f32>().ok().filter(|x| x.is_finite()).ok_or_else(|| (i, v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{continuous, encode, targets};

    #[test]
    fn targets_are_numbers() {
        assert_eq!(targets(&["1.5", " -2", "3e2"]), Ok(vec![1.5, -2.0, 300.0]));
        assert_eq!(targets(&["1.5", "high"]), Err((1, "high".to_string())));
        assert_eq!(targets(&["inf"]), Err((0, "inf".to_string())));
    }

    #[test]
    fn continuous_labels_are_recognised() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(continuous(&names(&["0", "1", "2"]), 100).is_none());
        assert!(continuous(&names(&["low", "high"]), 10).is_none());
        assert!(continuous(&names(&["3.0", "4.0"]), 10).is_none(), "whole numbers written as floats are classes");
        assert!(continuous(&names(&["0.5", "1.0"]), 10).expect("fraction").contains("0.5"));
        let many: Vec<String> = (0..598).map(|i| i.to_string()).collect();
        assert!(continuous(&many, 600).expect("distinct").contains("598 distinct values in 600 rows"));
        let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert!(continuous(&ten, 1797).is_none(), "digits: 10 classes");
    }

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
