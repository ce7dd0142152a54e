//! Backend selection by name: the only place that creates Burn devices.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// A Burn backend to train on, named in config (`backend = "flex"`).
///
/// Both are pure-Rust CPU backends compiled into every build. `flex` is the default: it trains
/// the reference workload about twice as fast as `ndarray` (BENCHMARKS.md), and it is the CPU
/// backend Burn maintains (burn-ndarray is deprecated since 0.22).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Backend {
    /// burn-flex on the CPU (the default).
    #[default]
    Flex,
    /// burn-ndarray on the CPU.
    Ndarray,
}

impl Backend {
    /// Names accepted in config.
    pub const NAMES: &'static [&'static str] = &["flex", "ndarray"];

    /// The plain (inference) device of this backend.
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            #[allow(deprecated)] // burn-ndarray is the user's named CPU backend
            Backend::Ndarray => Device::ndarray(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
        })
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flex" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            other => Err(format!("unknown backend {other:?} (this build has: {})", Self::NAMES.join(", "))),
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
