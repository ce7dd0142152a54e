//! Matrix products of the closed-form path, with large ones computed as two column halves that
//! an idle core can take one of.
//!
//! Why: a search with `workers = 2` runs its trials in batches of 2, and a batch lasts as long as
//! its slower trial (results depend on the batch only). Trial times are heavy-tailed (a 512-unit
//! pair of layers trains ~40x longer than a small net), so the thread whose trial ended first sits
//! idle while the other multiplies large matrices: that, not contention, capped `workers = 2` at
//! ~1.25x (BENCHMARKS.md). Here a product of at least [`SPLIT_MIN`] multiply-adds is always
//! computed as `[a·b₁ | a·b₂]` (`b`'s columns in two halves, then concatenated); when fewer
//! trainings run than the machine has cores, the two halves run on two threads (`rayon::join`),
//! otherwise one after the other on the caller's thread.
//!
//! Determinism: the split does not depend on timing or on who is idle, only on the shapes, and
//! each output element is the same dot product whichever thread computes it, so a trial's
//! results are the same bits with and without a helper (tested).

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::Tensor;

/// Products of at least this many multiply-adds (`m·n·k`) are split. Measured on the workload's
/// shapes (BENCHMARKS.md): from 8M up, two threads win (1.2x to 1.7x); at 4M they lose to the
/// hand-off.
pub(crate) const SPLIT_MIN: usize = 8 << 20;

/// Trainings running in this process now (closed-form path, CPU backends).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts a running training for as long as it lives.
pub(crate) struct Active(());

impl Active {
    /// Registers a training.
    pub(crate) fn enter() -> Self {
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a core is idle: fewer trainings run than there are cores.
fn core_idle() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    ACTIVE.load(Ordering::Relaxed) < cores
}

/// `a · b` (`[m, k] · [k, n]`); split in column halves when large and `split` is set (CPU
/// backends: on LibTorch the library threads itself).
pub(crate) fn product(a: Tensor<2>, b: Tensor<2>, split: bool) -> Tensor<2> {
    let ([m, k], [_, n]) = (a.dims(), b.dims());
    if !split || n < 2 || m.saturating_mul(n).saturating_mul(k) < SPLIT_MIN {
        return a.matmul(b);
    }
    let h = n / 2;
    let (left, right) = (b.clone().slice([0..k, 0..h]), b.slice([0..k, h..n]));
    let a2 = a.clone();
    let (l, r) = if core_idle() {
        rayon::join(move || a.matmul(left), move || a2.matmul(right))
    } else {
        (a.matmul(left), a2.matmul(right))
    };
    Tensor::cat(vec![l, r], 1)
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;
    use mlpnas_backend::Backend;
    use rand::Rng;

    use super::*;

    fn random(r: &mut mlpnas_core::seed::SeedRng, shape: [usize; 2], device: &burn::tensor::Device) -> Tensor<2> {
        let v: Vec<f32> = (0..shape[0] * shape[1]).map(|_| r.random_range(-1.0f32..1.0)).collect();
        Tensor::<2>::from_data(TensorData::new(v, shape), device)
    }

    fn bits(t: Tensor<2>) -> Vec<u32> {
        t.into_data().try_to_vec::<f32>().expect("f32").into_iter().map(f32::to_bits).collect()
    }

    /// The split product equals the whole product bit for bit, with a helper thread and without,
    /// for the products of the workload's large nets (forward, weight gradient, input gradient,
    /// validation) and odd sizes.
    #[test]
    fn split_products_are_the_same_bits_with_and_without_a_helper() {
        let shapes = [(32, 1024, 512), (1024, 32, 512), (32, 512, 1024), (490, 512, 512), (33, 777, 513)];
        for backend in Backend::for_suites().into_iter().filter(|b| !b.is_libtorch()) {
            let device = backend.device().expect("device");
            let mut r = mlpnas_core::seed::rng(3);
            for (m, k, n) in shapes {
                assert!(m * k * n >= SPLIT_MIN, "{m}x{k}x{n} is not split");
                let (a, b) = (random(&mut r, [m, k], &device), random(&mut r, [k, n], &device));
                let whole = bits(a.clone().matmul(b.clone()));
                // A core is idle (unless other tests train now): the halves may run on two threads.
                assert_eq!(bits(product(a.clone(), b.clone(), true)), whole, "{backend} {m}x{k}x{n} helped");
                let busy: Vec<Active> = (0..64).map(|_| Active::enter()).collect();
                assert!(!core_idle());
                assert_eq!(bits(product(a, b, true)), whole, "{backend} {m}x{k}x{n} alone");
                drop(busy);
            }
        }
    }
}
