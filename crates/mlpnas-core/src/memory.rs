//! What this machine can hold, asked before anything large is allocated: a width, a depth, a
//! budget or a data file that would not fit is a one-line error naming the setting and the
//! estimate, never an aborted process (`memory allocation of ... failed`).

/// Bytes of memory available to a new allocation now (`MemAvailable` of `/proc/meminfo`);
/// `None` where the system does not say (then nothing is refused on this ground).
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Bytes to train a network of `params` parameters: the weights, their gradients and the two
/// moments of Adam, `f32` each (activations come on top; this is the floor).
pub fn training_bytes(params: u64) -> u64 {
    params.saturating_mul(16)
}

/// `Err` with a one-line reason when `bytes` (what `what` needs) exceed what is available.
pub fn check_fits(bytes: u64, what: &str) -> Result<(), String> {
    match available_bytes() {
        Some(avail) if bytes > avail => Err(format!(
            "{what} needs about {} of memory, more than the {} this machine has available",
            human(bytes),
            human(avail)
        )),
        _ => Ok(()),
    }
}

/// `bytes` as `12.3 GiB`, `45.6 MiB` or `789 KiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_and_refusals() {
        assert_eq!(training_bytes(1_000), 16_000);
        assert_eq!(training_bytes(u64::MAX), u64::MAX, "saturates");
        assert_eq!(human(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(human(1500), "2 KiB");
        if available_bytes().is_some() {
            let e = check_fits(u64::MAX, "a network of 65536 units").expect_err("too big");
            assert!(e.starts_with("a network of 65536 units needs about") && e.contains("available"), "{e}");
            assert!(check_fits(1024, "a tiny one").is_ok());
        }
    }
}
