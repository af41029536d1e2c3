//! Weights interop with PyTorch: `.safetensors` files whose tensor names and layout follow the
//! reference implementation (`grid{S}.conv.{i}.weight` [out, in, k, k], `grid{S}.bn.{i}.weight`,
//! `grid{S}.fc.weight` [1, features], ... float32, NCHW). Exported files also carry the
//! configuration, so they re-import without flags, and a checksum of their contents
//! ([`crate::integrity`]), so a damaged file is refused.

use std::collections::HashMap;

use burn::prelude::*;
use safetensors::serialize;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::checkpoint::{HostTensors, nets_from_host, parameters_to_host, tensor_name};
use crate::config::{Config, Norm};
use crate::integrity::{self, Integrity};
use crate::learner::Learner;
use crate::{Error, Result};

const KEY_CONFIG: &str = "multigrid.config";

/// Every grid's parameters as a safetensors file (PyTorch layout).
pub async fn export_safetensors(learner: &Learner) -> Result<Vec<u8>> {
    let host = parameters_to_host(learner).await?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = host
        .into_iter()
        .map(|(name, (shape, values))| (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| Error::Checkpoint(format!("safetensors export: {e}")))?;
    let metadata = HashMap::from([
        (KEY_CONFIG.to_string(), learner.config.to_json()),
        ("norm".to_string(), learner.config.norm.name().to_string()),
        (integrity::KEY.to_string(), integrity::PLACEHOLDER.to_string()),
    ]);
    let bytes = serialize(views, Some(metadata)).map_err(|e| Error::Checkpoint(format!("safetensors export: {e}")))?;
    integrity::seal(bytes)
}

/// Verify the checksum of a safetensors file, where it carries one (PyTorch's files do not): under
/// its key, or under any key whose value looks like one (a damaged key name does not make a
/// file carry none).
pub fn verify_safetensors(bytes: &[u8]) -> Result<Integrity> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Checkpoint(format!("not a readable safetensors file ({e})")))?;
    let info = metadata.metadata().clone().unwrap_or_default();
    let stored = info.get(integrity::KEY).or_else(|| info.values().find(|v| v.starts_with(integrity::PREFIX)));
    integrity::verify(bytes, stored.map(String::as_str))
}

/// The configuration an imported file is read with: the one it carries, else `fallback` with
/// the normalisation the file's tensors (or its `norm` metadata) show.
pub fn import_config(bytes: &[u8], fallback: Config) -> Result<Config> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Checkpoint(format!("not a readable safetensors file ({e})")))?;
    let info = metadata.metadata().clone().unwrap_or_default();
    if let Some(json) = info.get(KEY_CONFIG) {
        return Config::from_json(json);
    }
    let mut config = fallback;
    let has_bn = metadata.tensors().keys().any(|k| k.contains(".bn."));
    config.norm = match info.get("norm").map(String::as_str) {
        Some("batch") => Norm::Batch,
        Some("none") => Norm::None,
        _ if has_bn => Norm::Batch,
        _ => Norm::None,
    };
    Ok(config)
}

/// Named f32 tensors of a safetensors file (other dtypes are refused by name).
pub fn read_safetensors(bytes: &[u8]) -> Result<HostTensors> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Checkpoint(format!("not a readable safetensors file ({e})")))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != Dtype::F32 {
                return Err(Error::Checkpoint(format!("tensor '{name}' is {:?}; float32 is expected", view.dtype())));
            }
            let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            Ok((name, (view.shape().to_vec(), values)))
        })
        .collect()
}

/// A fresh learner (iteration 0, new Adam state) whose nets hold the weights of a
/// PyTorch-layout safetensors file; `fallback` gives the architecture when the file has none.
/// A file that carries a checksum is verified first, and its tensors are checked against the
/// architecture before the model is built (so the nets a file asks for are no larger than the
/// weights it holds).
pub fn import_safetensors(bytes: &[u8], fallback: Config, seed: u64, device: &Device) -> Result<(Learner, Integrity)> {
    let integrity = verify_safetensors(bytes)?;
    let config = import_config(bytes, fallback)?;
    config.validate()?;
    let tensors = read_safetensors(bytes)?;
    let nets = nets_from_host(&config, &tensors, &device.clone().inner(), "safetensors file")?;
    let mut learner = Learner::new(config, seed, device)?;
    learner.nets = nets;
    Ok((learner, integrity))
}

/// Input images of a reference fixture for one grid (`grid{S}.x`), if present.
pub fn fixture_input(tensors: &HostTensors, size: usize) -> Option<(Vec<usize>, Vec<f32>)> {
    tensors.get(&tensor_name(size, "x")).cloned()
}
