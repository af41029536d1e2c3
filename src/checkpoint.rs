//! Checkpoints in Burn's burnpack format (`.bpk`): every grid's parameters (named and laid out
//! as in PyTorch, see [`crate::energy::parameter_specs`]), the Adam state, the configuration, the
//! iteration count, the random generator and the persistent chains, with a format version.
//! Reading checks everything and answers a wrong, truncated or foreign file with an error.
//! The file carries a SHA-256 of its contents ([`crate::integrity`]): a changed byte is refused.
//! A file without one is refused too, whatever its format field says: format 1 (before
//! checksums) is no longer read.

use std::collections::BTreeMap;

use burn::optim::{AdamState, AdaptiveMomentumState};
use burn::prelude::*;
use burn::store::burn_pack::{self, Reader, Writer};
use burn::tensor::{Bytes, DType};
use rand_chacha::ChaCha8Rng;

use crate::config::Config;
use crate::device::read_all;
use crate::energy::{EnergyNet, FlatParam, parameter_specs};
use crate::integrity;
use crate::learner::Learner;
use crate::{Error, Result};

/// Bumped whenever the layout of a checkpoint changes. 2: a checksum of the contents is required.
pub const FORMAT_VERSION: u32 = 2;
const KEY_FORMAT: &str = "multigrid.format";
const KEY_CONFIG: &str = "multigrid.config";
const KEY_ITERATION: &str = "multigrid.iteration";
const KEY_RNG: &str = "multigrid.rng";
const KEY_ADAM_TIME: &str = "multigrid.adam_time";
const PCD_CHAINS: &str = "pcd.chains";
const COLOURS: &str = "observed.colours";

/// The checkpoint name of a grid's parameter, e.g. `grid16.conv.0.weight`.
pub fn tensor_name(size: usize, param: &str) -> String {
    format!("grid{size}.{param}")
}

/// Named host tensors: shape and f32 values.
pub type HostTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Every net's parameters as host tensors (PyTorch names and layout).
pub async fn parameters_to_host(learner: &Learner) -> Result<HostTensors> {
    let mut names = Vec::new();
    let mut tensors = Vec::new();
    for (net, grid) in learner.nets.iter().zip(&learner.config.grids) {
        for (spec, (value, _)) in parameter_specs(grid, learner.config.norm).into_iter().zip(net.flat_parameters()) {
            names.push((tensor_name(grid.size, &spec.name), spec.shape));
            tensors.push(value);
        }
    }
    let values = read_all(tensors).await?;
    Ok(names.into_iter().zip(values).map(|((n, s), v)| (n, (s, v))).collect())
}

/// Build every grid's net for `config` from named tensors, checking each name and shape.
pub fn nets_from_host(config: &Config, tensors: &HostTensors, device: &Device, source: &str) -> Result<Vec<EnergyNet>> {
    config
        .grids
        .iter()
        .map(|grid| {
            let values = parameter_specs(grid, config.norm)
                .iter()
                .map(|spec| {
                    let name = tensor_name(grid.size, &spec.name);
                    let (shape, values) = tensors.get(&name).ok_or_else(|| {
                        Error::Checkpoint(format!(
                            "{source} has no tensor '{name}': it was written for another architecture or normalisation"
                        ))
                    })?;
                    if *shape != spec.shape || values.len() != spec.numel() {
                        return Err(Error::Checkpoint(format!(
                            "{source}: tensor '{name}' has shape {shape:?} but this architecture needs {:?}",
                            spec.shape
                        )));
                    }
                    if values.iter().any(|v| !v.is_finite()) {
                        return Err(Error::Checkpoint(format!(
                            "{source}: tensor '{name}' holds NaN or infinite values"
                        )));
                    }
                    let t = Tensor::from_data(TensorData::new(values.clone(), [values.len()]), device);
                    Ok((t, burn::module::ParamId::new()))
                })
                .collect::<Result<Vec<FlatParam>>>()?;
            Ok(EnergyNet::build(grid, config.norm, values))
        })
        .collect()
}

fn pack_tensor(name: String, shape: Vec<usize>, values: Vec<f32>) -> burn_pack::Tensor {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    burn_pack::Tensor::new(name, DType::F32, shape, None, Bytes::from_bytes_vec(bytes))
}

/// Serialise a learner. The Adam state is included when `with_optimizer` (it doubles the size;
/// without it a resumed run restarts Adam's moments).
pub async fn to_bytes(learner: &Learner, with_optimizer: bool) -> Result<Vec<u8>> {
    let mut host = parameters_to_host(learner).await?;
    let mut adam_time = BTreeMap::new();
    if with_optimizer {
        let mut names = Vec::new();
        let mut tensors = Vec::new();
        for ((grid, states), net) in learner.config.grids.iter().zip(&learner.optimizer.states).zip(&learner.nets) {
            let specs = parameter_specs(grid, learner.config.norm);
            for ((spec, state), (value, _)) in specs.iter().zip(states).zip(net.flat_parameters()) {
                let Some(state) = state else { continue };
                let name = format!("adam.{}", tensor_name(grid.size, &spec.name));
                adam_time.insert(name.clone(), state.momentum.time);
                let n = value.dims()[0];
                names.push((format!("{name}.moment_1"), n));
                names.push((format!("{name}.moment_2"), n));
                tensors.push(state.momentum.moment_1.clone());
                tensors.push(state.momentum.moment_2.clone());
            }
        }
        for ((name, n), values) in names.into_iter().zip(read_all(tensors).await?) {
            host.insert(name, (vec![n], values));
        }
    }
    for (name, tensor) in [(PCD_CHAINS, &learner.persistent), (COLOURS, &learner.colours)] {
        if let Some(t) = tensor {
            host.insert(name.into(), (t.dims().to_vec(), read_all(vec![t.clone()]).await?.remove(0)));
        }
    }
    let tensors = host.into_iter().map(|(name, (shape, values))| pack_tensor(name, shape, values)).collect();
    let writer = Writer::new(tensors)
        .with_metadata(KEY_FORMAT, &FORMAT_VERSION.to_string())
        .with_metadata(KEY_CONFIG, &learner.config.to_json())
        .with_metadata(KEY_ITERATION, &learner.iteration.to_string())
        .with_metadata(KEY_RNG, &json(&learner.rng))
        .with_metadata(KEY_ADAM_TIME, &json(&adam_time))
        .with_metadata(integrity::KEY, integrity::PLACEHOLDER);
    let bytes = writer.into_bytes().map_err(|e| Error::Checkpoint(format!("could not serialise: {e}")))?;
    integrity::seal(bytes.to_vec())
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// The configuration stored in a checkpoint, without building the model; the file's contents
/// are verified as when it is loaded.
pub fn read_config(bytes: &[u8]) -> Result<Config> {
    config_of(&open(bytes)?)
}

/// Parse the container, verify the checksum it carries (whatever its format field says: a file
/// without one is refused), then check the format version.
fn open(bytes: &[u8]) -> Result<Reader> {
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        Error::Checkpoint(format!("not a readable burnpack file ({e}); it is truncated, corrupt or of another format"))
    })?;
    let format = reader.metadata().get(KEY_FORMAT).ok_or_else(|| {
        Error::Checkpoint("this burnpack file is not a multigrid checkpoint (it has no multigrid.format entry)".into())
    })?;
    let Some(stored) = reader.metadata().get(integrity::KEY) else {
        return Err(Error::Checkpoint(format!(
            "this checkpoint carries no checksum (format {format}): it is damaged, or older than format \
             {FORMAT_VERSION}, which this build needs; it was not loaded"
        )));
    };
    integrity::verify(bytes, Some(stored))?;
    match format.parse::<u32>() {
        Ok(FORMAT_VERSION) => Ok(reader),
        _ => Err(Error::Checkpoint(format!(
            "checkpoint format version {format:?} cannot be read by this build, which reads version {FORMAT_VERSION}"
        ))),
    }
}

fn config_of(reader: &Reader) -> Result<Config> {
    let json = reader.metadata().get(KEY_CONFIG).ok_or_else(|| Error::Checkpoint("no configuration stored".into()))?;
    Config::from_json(json).map_err(|e| Error::Checkpoint(format!("stored configuration is invalid: {e}")))
}

fn parse_meta<T: serde::de::DeserializeOwned>(reader: &Reader, key: &str) -> Result<T> {
    let text = reader.metadata().get(key).ok_or_else(|| Error::Checkpoint(format!("missing '{key}'")))?;
    serde_json::from_str(text).map_err(|e| Error::Checkpoint(format!("'{key}' is unreadable: {e}")))
}

/// Read named f32 tensors from a pack, rejecting any other dtype or a size that does not add up.
fn host_tensors(reader: Reader) -> Result<HostTensors> {
    let tensors = reader.into_tensors().map_err(|e| Error::Checkpoint(format!("corrupt tensor data: {e}")))?;
    tensors
        .into_iter()
        .map(|t| {
            let (name, dtype, shape, _, bytes) =
                t.into_parts().map_err(|e| Error::Checkpoint(format!("corrupt tensor data: {e}")))?;
            let shape: Vec<usize> = shape.to_vec();
            if dtype != DType::F32 || bytes.len() != 4 * shape.iter().product::<usize>() {
                return Err(Error::Checkpoint(format!("tensor '{name}' is not float32 of shape {shape:?}")));
            }
            let values = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            Ok((name, (shape, values)))
        })
        .collect()
}

/// Rebuild a learner from checkpoint bytes onto `device`, after verifying them.
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Learner> {
    let reader = open(bytes)?;
    let config = config_of(&reader)?;
    let iteration: u64 = parse_meta(&reader, KEY_ITERATION)?;
    let rng: ChaCha8Rng = parse_meta(&reader, KEY_RNG)?;
    let adam_time: BTreeMap<String, usize> = parse_meta(&reader, KEY_ADAM_TIME)?;
    let host = host_tensors(reader)?;

    let device = device.clone().inner();
    let nets = nets_from_host(&config, &host, &device, "checkpoint")?;
    let mut learner = Learner::from_parts(config, nets, rng, &device);
    learner.iteration = iteration;

    let to_device = |name: &str, shape: &[usize]| -> Option<Tensor<1>> {
        let (s, v) = host.get(name)?;
        (s.as_slice() == shape).then(|| Tensor::from_data(TensorData::new(v.clone(), [v.len()]), &device))
    };
    for (k, grid) in learner.config.grids.iter().enumerate() {
        for (i, spec) in parameter_specs(grid, learner.config.norm).iter().enumerate() {
            let name = format!("adam.{}", tensor_name(grid.size, &spec.name));
            let Some(&time) = adam_time.get(&name) else { continue };
            let shape = [spec.numel()];
            match (to_device(&format!("{name}.moment_1"), &shape), to_device(&format!("{name}.moment_2"), &shape)) {
                (Some(m1), Some(m2)) => {
                    learner.optimizer.states[k][i] = Some(AdamState::new(AdaptiveMomentumState::new(time, m1, m2)))
                }
                _ => return Err(Error::Checkpoint(format!("Adam state of '{name}' is missing or misshapen"))),
            }
        }
    }
    // Image tensors [n, 3, side, side] with n ≥ 1 (the side given, or the finest grid's).
    let images = |name: &str, side: usize| -> Result<Option<Tensor<4>>> {
        let Some((s, v)) = host.get(name) else { return Ok(None) };
        if s.len() != 4 || s[0] == 0 || s[1] != 3 || s[2] != side || s[3] != side || v.iter().any(|x| !x.is_finite()) {
            return Err(Error::Checkpoint(format!(
                "'{name}' has shape {s:?} (or values that are not finite); [n ≥ 1, 3, {side}, {side}] is expected"
            )));
        }
        Ok(Some(Tensor::<4>::from_data(TensorData::new(v.clone(), [s[0], s[1], s[2], s[3]]), &device)))
    };
    learner.persistent = images(PCD_CHAINS, learner.config.image_size())?;
    learner.colours = images(COLOURS, 1)?;
    Ok(learner)
}

/// Write a checkpoint file atomically (a crash mid-write leaves the previous file intact).
#[cfg(not(target_arch = "wasm32"))]
pub fn save(learner: &Learner, path: &std::path::Path) -> Result<()> {
    let bytes = crate::device::block_on(to_bytes(learner, true))?;
    let tmp = path.with_extension("bpk.partial");
    std::fs::write(&tmp, &bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Load a checkpoint file.
#[cfg(not(target_arch = "wasm32"))]
pub fn load(path: &std::path::Path, device: &Device) -> Result<Learner> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    from_bytes(&bytes, device).map_err(|e| {
        Error::Checkpoint(format!("{}: {}", path.display(), e.to_string().trim_start_matches("checkpoint: ")))
    })
}
