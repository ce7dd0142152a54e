//! [`read_file`]: the one way a data file is read: a regular file only (a device such as
//! `/dev/zero`, a FIFO or a directory is refused before reading a byte), and only one that fits
//! in memory (checked against its size first, [`mlpnas_core::memory`]).

use std::path::Path;

use crate::error::DataError;

/// The bytes of the data file `path` (named `file` in errors).
pub(crate) fn read_file(path: &Path, file: &str) -> Result<Vec<u8>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(file, e))?;
    if !meta.is_file() {
        return Err(DataError::invalid(file, "not a regular file (a device, a pipe or a directory); give a data file"));
    }
    // Loading holds the file and what is parsed from it: twice its size at least.
    mlpnas_core::memory::check_fits(
        meta.len().saturating_mul(2),
        &format!("this {} file", mlpnas_core::memory::human(meta.len())),
    )
    .map_err(|m| DataError::invalid(file, m))?;
    std::fs::read(path).map_err(|e| DataError::io(file, e))
}
