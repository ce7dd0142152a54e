//! Deterministic seed derivation: every random stream of a search comes from its one seed.
//!
//! Streams are separated by a label and an index through SplitMix64, so that adding a new stream
//! never shifts the others (the split, the controller and each trial draw independently).

/// One SplitMix64 step: a well-mixed 64-bit function of `x`.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Derives the seed of stream `label` number `index` from the search seed `base`.
pub fn derive(base: u64, label: &str, index: u64) -> u64 {
    let mut h = splitmix64(base);
    for b in label.bytes() {
        h = splitmix64(h ^ u64::from(b));
    }
    splitmix64(h ^ index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_are_stable() {
        assert_eq!(derive(1, "trial", 0), derive(1, "trial", 0));
        assert_ne!(derive(1, "trial", 0), derive(1, "trial", 1));
        assert_ne!(derive(1, "trial", 0), derive(1, "split", 0));
        assert_ne!(derive(1, "trial", 0), derive(2, "trial", 0));
    }
}
