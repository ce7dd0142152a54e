//! [`DataSpec`]: the parsed form of a data spec string (`builtin:NAME`, `file.csv`,
//! `x.npy:y.npy`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::DataError;

/// Where a data set comes from.
///
/// Parsed from a spec string:
///
/// * `builtin:NAME` — a data set compiled into the binary (see [`crate::builtin_names`]);
/// * `X.npy:Y.npy` — a feature array and a label array (split on the `:` that ends the first
///   `.npy` path, so absolute and Windows paths work);
/// * anything else — a CSV file with a header row (`,`, `;` or tab separated).
///
/// Relative paths are resolved against a base directory with [`DataSpec::resolve`].
///
/// In a config it is the string form (`source = "wine.csv"`), parsed once when the config is
/// read: a malformed spec is a config error with its line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DataSpec {
    /// A built-in data set, by name.
    Builtin(String),
    /// A CSV file.
    Csv(PathBuf),
    /// A pair of NPY files: features and labels.
    Npy {
        /// Features, shape `[N, ...]`.
        x: PathBuf,
        /// Labels, shape `[N]` or `[N, 1]`.
        y: PathBuf,
    },
}

const BUILTIN_PREFIX: &str = "builtin:";

fn has_ext(s: &str, ext: &str) -> bool {
    let n = s.len();
    n > ext.len() && s.is_char_boundary(n - ext.len()) && s[n - ext.len()..].eq_ignore_ascii_case(ext)
}

impl FromStr for DataSpec {
    type Err = DataError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| DataError::Spec { spec: spec.to_string(), reason: reason.to_string() };
        let s = spec.trim();
        if s.is_empty() {
            return Err(err("empty; expected builtin:NAME, a .csv file or X.npy:Y.npy"));
        }
        if let Some(name) = s.strip_prefix(BUILTIN_PREFIX) {
            let name = name.trim();
            if name.is_empty() {
                return Err(err("missing built-in name after \"builtin:\""));
            }
            return Ok(Self::Builtin(name.to_string()));
        }
        if has_ext(s, ".npy") {
            // The first `:` whose left side is an .npy path splits the pair.
            for (i, _) in s.match_indices(':') {
                let (x, y) = (&s[..i], &s[i + 1..]);
                if has_ext(x, ".npy") {
                    return Ok(Self::Npy { x: PathBuf::from(x), y: PathBuf::from(y) });
                }
            }
            return Err(err("an NPY data spec needs two files: FEATURES.npy:LABELS.npy"));
        }
        if has_ext(s, ".npz") {
            return Err(err(".npz archives are not supported; save two arrays as X.npy:Y.npy"));
        }
        Ok(Self::Csv(PathBuf::from(s)))
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin(name) => write!(f, "{BUILTIN_PREFIX}{name}"),
            Self::Csv(p) => write!(f, "{}", p.display()),
            Self::Npy { x, y } => write!(f, "{}:{}", x.display(), y.display()),
        }
    }
}

/// `path` resolved against `base` (unchanged when absolute or when `base` is empty or `.`).
fn resolve_path(path: &Path, base: &Path) -> PathBuf {
    if path.is_absolute() || base.as_os_str().is_empty() || base == Path::new(".") {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

impl TryFrom<String> for DataSpec {
    type Error = DataError;
    fn try_from(s: String) -> Result<Self, DataError> {
        s.parse()
    }
}

impl From<DataSpec> for String {
    fn from(s: DataSpec) -> String {
        s.to_string()
    }
}

impl Default for DataSpec {
    /// `builtin:iris`.
    fn default() -> Self {
        Self::Builtin("iris".into())
    }
}

impl DataSpec {
    /// The same spec with file paths made absolute against `base_dir` (what a run directory
    /// records, so that the run reads the same files from anywhere).
    pub fn absolute(&self, base_dir: &Path) -> DataSpec {
        let abs = |p: &Path| {
            let joined = if p.is_absolute() { p.to_path_buf() } else { base_dir.join(p) };
            std::path::absolute(&joined).unwrap_or(joined)
        };
        match self {
            Self::Builtin(name) => Self::Builtin(name.clone()),
            Self::Csv(p) => Self::Csv(abs(p)),
            Self::Npy { x, y } => Self::Npy { x: abs(x), y: abs(y) },
        }
    }

    /// The same spec with relative file paths resolved against `base_dir` (e.g. the directory of
    /// the config file that names them).
    pub fn resolve(&self, base_dir: &Path) -> DataSpec {
        match self {
            Self::Builtin(name) => Self::Builtin(name.clone()),
            Self::Csv(p) => Self::Csv(resolve_path(p, base_dir)),
            Self::Npy { x, y } => Self::Npy { x: resolve_path(x, base_dir), y: resolve_path(y, base_dir) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DataSpec {
        s.parse().expect("should succeed")
    }

    #[test]
    fn parses_each_kind() {
        assert_eq!(parse("builtin:iris"), DataSpec::Builtin("iris".into()));
        assert_eq!(parse("data/wine.csv"), DataSpec::Csv("data/wine.csv".into()));
        assert_eq!(parse("table.tsv"), DataSpec::Csv("table.tsv".into()));
        assert_eq!(parse("x.npy:y.npy"), DataSpec::Npy { x: "x.npy".into(), y: "y.npy".into() });
        assert_eq!(parse("/d/a:b/x.NPY:/d/y.npy"), DataSpec::Npy { x: "/d/a:b/x.NPY".into(), y: "/d/y.npy".into() });
        assert_eq!(parse(r"C:\d\x.npy:C:\d\y.npy"), DataSpec::Npy { x: r"C:\d\x.npy".into(), y: r"C:\d\y.npy".into() });
        assert_eq!(parse("builtin:iris").to_string(), "builtin:iris");
        assert_eq!(parse("x.npy:y.npy").to_string(), "x.npy:y.npy");
    }

    #[test]
    fn rejects_bad_specs() {
        for (s, want) in [
            ("", "empty"),
            ("builtin:", "missing built-in name"),
            ("y.npy", "needs two files"),
            ("a.npz", ".npz archives"),
        ] {
            let e = s.parse::<DataSpec>().expect_err("should fail").to_string();
            assert!(e.contains(want), "{s}: {e}");
            assert!(e.starts_with("data spec"), "{e}");
        }
    }

    #[test]
    fn resolves_relative_paths_only() {
        let base = Path::new("/cfg");
        assert_eq!(parse("w.csv").resolve(base), DataSpec::Csv("/cfg/w.csv".into()));
        assert_eq!(parse("/abs/w.csv").resolve(base), DataSpec::Csv("/abs/w.csv".into()));
        assert_eq!(parse("w.csv").resolve(Path::new(".")), DataSpec::Csv("w.csv".into()));
        assert_eq!(
            parse("x.npy:/a/y.npy").resolve(base),
            DataSpec::Npy { x: "/cfg/x.npy".into(), y: "/a/y.npy".into() }
        );
        assert_eq!(parse("builtin:iris").resolve(base), DataSpec::Builtin("iris".into()));
    }
}
