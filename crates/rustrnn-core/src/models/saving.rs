//! The model file: safetensors (weights and optimizer slots as named
//! tensors) with the architecture and training configuration as JSON in its
//! metadata. Only bytes here: the caller does the (atomic) file I/O.
//! Parsing never executes anything and validates every offset and shape.

use crate::error::{Result, RnnError};
use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;

/// A tensor of the file, in either float type.
#[derive(Debug, Clone, PartialEq)]
pub enum FileTensor {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
}

impl FileTensor {
    fn bytes(&self) -> (Dtype, Vec<usize>, Vec<u8>) {
        match self {
            FileTensor::F32(a) => (Dtype::F32, a.shape().to_vec(), a.iter().flat_map(|v| v.to_le_bytes()).collect()),
            FileTensor::F64(a) => (Dtype::F64, a.shape().to_vec(), a.iter().flat_map(|v| v.to_le_bytes()).collect()),
        }
    }
}

/// Serializes `tensors` and `metadata` into safetensors bytes.
pub fn to_bytes(tensors: &[(String, FileTensor)], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let raw: Vec<_> = tensors.iter().map(|(n, t)| (n, t.bytes())).collect();
    let views = raw
        .iter()
        .map(|(n, (d, s, b))| TensorView::new(*d, s.clone(), b).map(|v| (n.to_string(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| RnnError::value(format!("model file: cannot serialize: {e}")))?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| RnnError::value(format!("model file: cannot serialize: {e}")))
}

/// Parses safetensors bytes: the metadata and every tensor (f32 or f64 only).
#[allow(clippy::type_complexity)]
pub fn from_bytes(bytes: &[u8]) -> Result<(HashMap<String, String>, Vec<(String, FileTensor)>)> {
    let bad = |e: String| RnnError::value(format!("not a valid rustrnn model file (truncated or corrupted?): {e}"));
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    names.sort();
    for name in names {
        let t = st.tensor(&name).map_err(|e| bad(e.to_string()))?;
        let shape = t.shape().to_vec();
        let data = t.data();
        let tensor = match t.dtype() {
            Dtype::F32 => FileTensor::F32(array(&shape, data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))))),
            Dtype::F64 => FileTensor::F64(array(&shape, data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))))),
            other => return Err(bad(format!("tensor {name:?} has dtype {other:?}; expected F32 or F64"))),
        };
        out.push((name, tensor));
    }
    Ok((metadata, out))
}

fn array<T>(shape: &[usize], values: impl Iterator<Item = T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), values.collect()).expect("safetensors checked the byte length")
}
