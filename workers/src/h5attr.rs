//! HDF5 attributes — strings (variable-length UTF-8, what h5py reads as
//! `str`), 64-bit integers (scalars and 1-D arrays) and floats — the one set of helpers every
//! store uses; errors name the file.

use crate::store_error::StoreError;
use hdf5::types::VarLenUnicode;
use std::path::Path;
use std::str::FromStr;

/// Maps an HDF5 error to a [`StoreError`] naming the file.
pub fn h5err(path: &Path) -> impl Fn(hdf5::Error) -> StoreError + '_ {
    move |source| StoreError::Hdf5 {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes attribute `name` = `v` (a string with a NUL is an error).
pub fn write_str(loc: &hdf5::Location, name: &str, v: &str, path: &Path) -> Result<(), StoreError> {
    let s = VarLenUnicode::from_str(v).map_err(|e| StoreError::Invalid {
        path: path.to_path_buf(),
        msg: format!("attribute {name}: {e}"),
    })?;
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&s))
        .map_err(h5err(path))
}

pub fn write_int(loc: &hdf5::Location, name: &str, v: i64, path: &Path) -> Result<(), StoreError> {
    loc.new_attr::<i64>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(h5err(path))
}

/// Writes attribute `name` = `v` as a 1-D array of 64-bit integers.
pub fn write_ints(
    loc: &hdf5::Location,
    name: &str,
    v: &[i64],
    path: &Path,
) -> Result<(), StoreError> {
    loc.new_attr::<i64>()
        .shape(v.len())
        .create(name)
        .and_then(|a| a.write_raw(v))
        .map_err(h5err(path))
}

/// Reads a 1-D integer array attribute; `None` when the object has none.
pub fn read_ints(
    loc: &hdf5::Location,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<i64>>, StoreError> {
    if !loc
        .attr_names()
        .map_err(h5err(path))?
        .iter()
        .any(|n| n == name)
    {
        return Ok(None);
    }
    loc.attr(name)
        .and_then(|a| a.read_raw())
        .map(Some)
        .map_err(h5err(path))
}

/// Reads a string attribute; `None` when the object has none.
pub fn read_str_opt(
    loc: &hdf5::Location,
    name: &str,
    path: &Path,
) -> Result<Option<String>, StoreError> {
    if !loc
        .attr_names()
        .map_err(h5err(path))?
        .iter()
        .any(|n| n == name)
    {
        return Ok(None);
    }
    read_str(loc, name, path).map(Some)
}

pub fn write_float(
    loc: &hdf5::Location,
    name: &str,
    v: f64,
    path: &Path,
) -> Result<(), StoreError> {
    loc.new_attr::<f64>()
        .shape(())
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(h5err(path))
}

pub fn read_str(loc: &hdf5::Location, name: &str, path: &Path) -> Result<String, StoreError> {
    let v: VarLenUnicode = loc
        .attr(name)
        .and_then(|a| a.read_scalar())
        .map_err(h5err(path))?;
    Ok(v.as_str().to_string())
}

pub fn read_int(loc: &hdf5::Location, name: &str, path: &Path) -> Result<i64, StoreError> {
    loc.attr(name)
        .and_then(|a| a.read_scalar())
        .map_err(h5err(path))
}

pub fn read_float(loc: &hdf5::Location, name: &str, path: &Path) -> Result<f64, StoreError> {
    loc.attr(name)
        .and_then(|a| a.read_scalar())
        .map_err(h5err(path))
}
