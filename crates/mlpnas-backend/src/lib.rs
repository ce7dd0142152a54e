//! mlpnas-backend: Burn backends selected by name, the only place that creates Burn devices.
//!
//! Shared by the trainer plugin (`trainer-burn`) and the REINFORCE controller, which both run on
//! a backend named in config; neither names a Burn device type in its config.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// A Burn backend to train on, named in config (`backend = "flex"`).
///
/// `flex` and `ndarray` are pure-Rust CPU backends compiled into every build. `flex` is the
/// default: it trains the reference workload about twice as fast as `ndarray` (BENCHMARKS.md),
/// and it is the CPU backend Burn maintains (burn-ndarray is deprecated since 0.22).
///
/// `tch-cpu` and `tch-cuda:N` run on LibTorch (burn-tch), compiled in only with the cargo
/// feature `tch`. Their names parse in every build, so that a build without the feature can say
/// what to rebuild with: [`Backend::check`] (called when a config is validated) refuses them
/// there, and refuses `tch-cuda:N` where LibTorch has no CUDA device `N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Backend {
    /// burn-flex on the CPU (the default).
    #[default]
    Flex,
    /// burn-ndarray on the CPU.
    Ndarray,
    /// LibTorch on the CPU (feature `tch`).
    TchCpu,
    /// LibTorch on CUDA device `N` (feature `tch`, and a LibTorch built with CUDA).
    TchCuda(usize),
}

/// The environment variable that names the backend the test suites run on (`.ci/run` sets
/// `tch-cpu` for its LibTorch stage). Read only here: [`Backend::under_test`].
pub const TEST_BACKEND_VAR: &str = "MLPNAS_TEST_BACKEND";

/// What a build without the `tch` feature says about a LibTorch backend.
const REBUILD: &str = "needs LibTorch, and this mlpnas was built without it: rebuild with `--features tch` \
     (README, \"LibTorch backend\")";

impl Backend {
    /// Names accepted in config (`N` is a CUDA device index).
    pub const NAMES: &'static [&'static str] = &["flex", "ndarray", "tch-cpu", "tch-cuda:N"];

    /// Whether this build has the LibTorch backends (cargo feature `tch`).
    pub const HAS_LIBTORCH: bool = cfg!(feature = "tch");

    /// Parses a backend name and checks that this build and machine can run it
    /// ([`Backend::check`]): what a component's `set_backend` takes.
    pub fn parse_available(name: &str) -> Result<Backend, String> {
        let b: Backend = name.parse()?;
        b.check()?;
        Ok(b)
    }

    /// Every backend this build has, for suites that run on all of them: `flex`, `ndarray`, and
    /// `tch-cpu` with the feature `tch` (CUDA devices are machine-specific and never listed).
    pub fn compiled() -> Vec<Backend> {
        let mut v = vec![Backend::Flex, Backend::Ndarray];
        if Self::HAS_LIBTORCH {
            v.push(Backend::TchCpu);
        }
        v
    }

    /// The backend the test suites are asked to run on ([`TEST_BACKEND_VAR`]), if any; `None`
    /// leaves each component on its own default. The one place tests choose a backend.
    ///
    /// # Panics
    ///
    /// When the variable holds no backend name (a test setup error, said as such).
    pub fn under_test() -> Option<Backend> {
        let name = std::env::var(TEST_BACKEND_VAR).ok()?;
        match name.parse() {
            Ok(b) => Some(b),
            Err(e) => panic!("{TEST_BACKEND_VAR}={name:?}: {e}"),
        }
    }

    /// The backends a conformance suite runs on: the one under test when one is named, else
    /// every backend of this build ([`Backend::compiled`]).
    pub fn for_suites() -> Vec<Backend> {
        Self::under_test().map_or_else(Self::compiled, |b| vec![b])
    }

    /// Whether this backend runs on LibTorch.
    pub fn is_libtorch(self) -> bool {
        matches!(self, Backend::TchCpu | Backend::TchCuda(_))
    }

    /// Checks that this build and this machine can run the backend: the LibTorch backends need
    /// the `tch` feature, and `tch-cuda:N` needs a LibTorch with CUDA and a CUDA device `N`.
    /// The error is one line naming the backend and what to do.
    pub fn check(self) -> Result<(), String> {
        if self.is_libtorch() && !Self::HAS_LIBTORCH {
            return Err(format!("backend \"{self}\" {REBUILD}"));
        }
        #[cfg(feature = "tch")]
        if let Backend::TchCuda(index) = self {
            libtorch::check_cuda(index).map_err(|e| format!("backend \"{self}\": {e}"))?;
        }
        Ok(())
    }

    /// The plain (inference) device of this backend, after [`Backend::check`].
    pub fn device(self) -> Result<Device, String> {
        self.check()?;
        Ok(match self {
            Backend::Flex => Device::flex(),
            #[allow(deprecated)] // burn-ndarray is the user's named CPU backend
            Backend::Ndarray => Device::ndarray(),
            #[cfg(feature = "tch")]
            Backend::TchCpu => {
                libtorch::init_threads();
                #[allow(deprecated)] // burn-tch is the user's named LibTorch backend
                Device::libtorch()
            }
            #[cfg(feature = "tch")]
            Backend::TchCuda(index) => {
                libtorch::init_threads();
                #[allow(deprecated)] // burn-tch is the user's named LibTorch backend
                Device::libtorch_cuda(index)
            }
            #[cfg(not(feature = "tch"))]
            Backend::TchCpu | Backend::TchCuda(_) => unreachable!("refused by check()"),
        })
    }
}

/// LibTorch specifics: CUDA availability and the size of its CPU thread pool.
#[cfg(feature = "tch")]
mod libtorch {
    use std::cell::Cell;
    use std::sync::OnceLock;

    /// Environment variable overriding LibTorch's intra-op threads (see [`init_threads`]).
    pub(super) const THREADS_VAR: &str = "MLPNAS_TORCH_THREADS";

    /// Whether CUDA device `index` is usable, with the reason when it is not.
    pub(super) fn check_cuda(index: usize) -> Result<(), String> {
        // hasCUDART: this LibTorch was built with CUDA (ATen's CUDA hooks are linked in); hasCUDA
        // also needs a driver and a device (a CUDA LibTorch on a machine without a GPU has the
        // first and not the second; measured with the `--full` install).
        if !tch::utils::has_cudart() {
            return Err("this LibTorch has no CUDA support (a CPU-only build); build against a CUDA LibTorch: \
                 `scripts/setup-libtorch --full`, or TORCH_CUDA_VERSION=cu128 with internet (README, \
                 \"LibTorch backend\")"
                .into());
        }
        let count = if tch::utils::has_cuda() { usize::try_from(tch::Cuda::device_count()).unwrap_or(0) } else { 0 };
        if count == 0 {
            return Err("this LibTorch has CUDA support but finds no CUDA device (no GPU, or no NVIDIA driver)".into());
        }
        if index >= count {
            return Err(format!(
                "there is no CUDA device {index}: LibTorch finds {count} (tch-cuda:0 to tch-cuda:{})",
                count - 1
            ));
        }
        Ok(())
    }

    /// Sets LibTorch's intra-op CPU threads for the calling thread, once per thread, before its
    /// first LibTorch operation: 1, or `MLPNAS_TORCH_THREADS` when set to a positive number.
    ///
    /// Per thread, because LibTorch's settings are: OpenMP's and MKL's thread counts belong to
    /// the calling thread, and a new thread only picks up `at::set_num_threads` lazily, after
    /// its first matrix products ran on MKL's default team (results then depend on which thread
    /// ran first: seen as a REINFORCE state that did not replay bit-exactly).
    ///
    /// One thread per training thread by default: the search already runs `search.batch`
    /// trials in parallel, the small nets searched here gain little from intra-op threads, and
    /// OpenMP's spinning teams slow down many times over as soon as anything else uses a core
    /// (README, "LibTorch backend").
    pub(super) fn init_threads() {
        thread_local! {
            static READY: Cell<bool> = const { Cell::new(false) };
        }
        static THREADS: OnceLock<i32> = OnceLock::new();
        READY.with(|ready| {
            if !ready.get() {
                let n = *THREADS.get_or_init(|| {
                    std::env::var(THREADS_VAR)
                        .ok()
                        .and_then(|v| v.trim().parse::<i32>().ok())
                        .filter(|&n| n > 0)
                        .unwrap_or(1)
                });
                tch::set_num_threads(n);
                ready.set(true);
            }
        });
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Flex => f.write_str("flex"),
            Backend::Ndarray => f.write_str("ndarray"),
            Backend::TchCpu => f.write_str("tch-cpu"),
            Backend::TchCuda(i) => write!(f, "tch-cuda:{i}"),
        }
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flex" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            "tch-cpu" => Ok(Backend::TchCpu),
            "tch-cuda" => Err("backend \"tch-cuda\" needs a device index: \"tch-cuda:0\" is the first GPU".into()),
            other => match other.strip_prefix("tch-cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Ok(Backend::TchCuda(i)),
                Some(Err(_)) => {
                    Err(format!("backend {other:?}: the CUDA device index must be a number, e.g. tch-cuda:0"))
                }
                None => Err(format!("unknown backend {other:?} (expected one of: {})", Self::NAMES.join(", "))),
            },
        }
    }
}

impl TryFrom<String> for Backend {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Backend> for String {
    fn from(b: Backend) -> String {
        b.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in [Backend::Flex, Backend::Ndarray, Backend::TchCpu, Backend::TchCuda(0), Backend::TchCuda(3)] {
            assert_eq!(b.to_string().parse::<Backend>(), Ok(b));
        }
        assert_eq!(Backend::default(), Backend::Flex);
        for bad in ["cuda", "tch", "tch-cuda", "tch-cuda:", "tch-cuda:x", "tch-cuda:-1", "Flex"] {
            assert!(bad.parse::<Backend>().is_err(), "{bad}");
        }
    }

    #[test]
    fn pure_rust_backends_are_always_there() {
        for b in [Backend::Flex, Backend::Ndarray] {
            assert_eq!(b.check(), Ok(()));
            assert!(b.device().is_ok());
        }
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn libtorch_backends_name_the_feature_to_build_with() {
        for b in [Backend::TchCpu, Backend::TchCuda(0)] {
            let e = b.check().expect_err("no LibTorch in this build");
            assert!(e.contains(&format!("\"{b}\"")) && e.contains("--features tch"), "{e}");
            assert!(b.device().is_err());
        }
    }

    #[cfg(feature = "tch")]
    #[test]
    fn libtorch_cpu_is_there_and_cuda_is_checked() {
        assert_eq!(Backend::TchCpu.check(), Ok(()));
        assert!(Backend::TchCpu.device().is_ok());
        // No machine has 1000 GPUs: the error names the device, whatever LibTorch this is.
        let e = Backend::TchCuda(1000).check().expect_err("no such device");
        assert!(e.starts_with("backend \"tch-cuda:1000\": "), "{e}");
    }
}
