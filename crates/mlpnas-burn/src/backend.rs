//! Backend selection by name: the only place that creates Burn devices.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// A Burn backend to train on, named in config (`backend = "ndarray"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Backend {
    /// burn-ndarray on the CPU (always available).
    Ndarray,
}

impl Backend {
    /// Names accepted in config.
    pub const NAMES: &'static [&'static str] = &["ndarray"];

    /// The plain (inference) device of this backend.
    pub fn device(self) -> Device {
        match self {
            #[allow(deprecated)] // burn-ndarray is the user's named CPU backend
            Backend::Ndarray => Device::ndarray(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Ndarray => "ndarray",
        })
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
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
