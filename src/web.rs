//! The wasm-bindgen surface: conversion only, over [`crate::Session`] for the browser's worker.
//! Values cross as typed objects (serde-wasm-bindgen; their TypeScript types are generated from
//! the Rust ones into www/generated/), images as byte arrays. Every fallible call returns
//! `Result`, which becomes a thrown JavaScript `Error` with a readable message and the error's
//! kind as its `name` (`DataError`, `DeviceError`, ...: [`Error::kind`]); panics are reported
//! through console_error_panic_hook. All readback is asynchronous, as WebGPU requires.

use js_sys::Uint8Array;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

use crate::config::{Config, Overrides};
use crate::session::{Format, Which};
use crate::{Error, Session, checkpoint, data, device};

/// `initThreadPool(n)` in JavaScript: start n Web Workers for rayon (the threaded build only).
#[cfg(target_feature = "atomics")]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A library error as a JavaScript `Error` whose `name` is its kind ([`Error::kind`]), so the page
/// tells a bad input from a failed device without reading the message.
fn js(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name(e.kind());
    error.into()
}

/// A Rust value as a plain JavaScript object (`None` as `null`, as the generated types say).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true))
        .map_err(|e| js(Error::Config(format!("internal: {e}"))))
}

/// A JavaScript object as a Rust value, refused with a message that names what is wrong. It is
/// read whole first (serde-wasm-bindgen looks up only the fields a struct names, so an unknown
/// setting would pass unseen), then as `T`, whose `deny_unknown_fields` then applies.
fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    let refused = |e: &dyn std::fmt::Display| js(Error::Config(format!("invalid {what}: {e}")));
    let whole: serde_json::Value = serde_wasm_bindgen::from_value(value).map_err(|e| refused(&e))?;
    serde_json::from_value(whole).map_err(|e| refused(&e))
}

async fn create_device(backend: &str) -> Result<burn::tensor::Device, JsValue> {
    match backend {
        "cpu" => Ok(device::cpu()),
        "webgpu" => device::webgpu().await.map_err(js),
        "remote" => REMOTE.with(|d| d.borrow().clone()).ok_or_else(|| {
            js(Error::Device("no remote device: connect to a `multigrid serve` server first (connectRemote)".into()))
        }),
        _ => Err(js(Error::Config(format!("unknown backend '{backend}': use cpu, webgpu or remote")))),
    }
}

thread_local! {
    /// The device of the server this worker connected to ([`connect_remote`]).
    static REMOTE: std::cell::RefCell<Option<burn::tensor::Device>> = const { std::cell::RefCell::new(None) };
}

/// Connect this worker to device 0 of a `multigrid serve --transport iroh` server, at `address`
/// (`iroh:ID` through n0's public relays, or `iroh:ID?relay=URL`) with its token
/// ([`device::remote`]); afterwards the backend "remote" names that device. Fails with the reason
/// (unreachable, refused) before anything runs.
#[wasm_bindgen(js_name = connectRemote)]
pub async fn connect_remote(address: &str, token: &str) -> Result<(), JsValue> {
    #[cfg(feature = "browser-remote")]
    {
        let device = device::remote(address, token).await.map_err(js)?;
        REMOTE.with(|d| *d.borrow_mut() = Some(device));
        Ok(())
    }
    #[cfg(not(feature = "browser-remote"))]
    {
        let _ = (address, token);
        Err(js(Error::Device(
            "this build has no remote client (scripts/build-wasm builds it into the single-threaded build)".into(),
        )))
    }
}

/// A training session in the browser ([`crate::Session`]) on one backend.
#[wasm_bindgen(js_name = Session)]
pub struct WebSession {
    session: Session,
    backend: String,
}

#[wasm_bindgen(js_class = Session)]
impl WebSession {
    /// A fresh model from a preset with settings over it, on "cpu", "webgpu" or "remote" (check for a
    /// WebGPU adapter in JavaScript first).
    pub async fn create(
        preset: &str,
        #[wasm_bindgen(unchecked_param_type = "import('../generated/Overrides').Overrides")] overrides: JsValue,
        backend: &str,
        seed: u64,
    ) -> Result<WebSession, JsValue> {
        let overrides: Overrides = from_js(overrides, "settings")?;
        let config = Config::preset(preset).and_then(|c| c.with_overrides(&overrides)).map_err(js)?;
        let device = create_device(backend).await?;
        let session = Session::new(config, seed, &device).map_err(js)?;
        Ok(WebSession { session, backend: backend.into() })
    }

    /// A model from checkpoint bytes (.bpk), on "cpu", "webgpu" or "remote". A damaged file is
    /// refused.
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub async fn from_checkpoint(bytes: &[u8], backend: &str) -> Result<WebSession, JsValue> {
        let device = create_device(backend).await?;
        let session = Session::from_checkpoint(bytes, &device).map_err(js)?;
        Ok(WebSession { session, backend: backend.into() })
    }

    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    pub fn iteration(&self) -> u64 {
        self.session.iteration()
    }

    /// The model's configuration, scales, iteration, image count and chain length.
    #[wasm_bindgen(unchecked_return_type = "import('../generated/Summary').Summary")]
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        to_js(&self.session.summary())
    }

    /// Apply settings that keep the nets; returns the configuration as it is now.
    #[wasm_bindgen(unchecked_return_type = "import('../generated/Config').Config")]
    pub fn apply(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "import('../generated/Overrides').Overrides")] overrides: JsValue,
    ) -> Result<JsValue, JsValue> {
        let overrides: Overrides = from_js(overrides, "settings")?;
        to_js(self.session.apply(&overrides).map_err(js)?)
    }

    #[wasm_bindgen(js_name = imageCount)]
    pub fn image_count(&self) -> usize {
        self.session.images().len()
    }

    /// Add an observed image from RGBA pixels (as a canvas gives them).
    #[wasm_bindgen(js_name = addImageRgba)]
    pub fn add_image_rgba(&mut self, name: &str, rgba: &[u8], width: u32, height: u32) -> Result<(), JsValue> {
        self.session.add_rgba(name, rgba, width, height).map_err(js)
    }

    /// Add an observed image from an encoded file (PNG, JPEG, GIF, BMP, WebP, TIFF).
    #[wasm_bindgen(js_name = addImageFile)]
    pub fn add_image_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), JsValue> {
        self.session.add_file(name, bytes).map_err(js)
    }

    #[wasm_bindgen(js_name = clearImages)]
    pub fn clear_images(&mut self) {
        self.session.clear_images();
    }

    /// One guarded learning iteration ([`crate::Session::step`]); with `frame_every` > 0 the
    /// chain is kept every that many Langevin steps for [`WebSession::read_shown`].
    #[wasm_bindgen(unchecked_return_type = "import('../generated/Step').Step")]
    pub async fn step(&mut self, frame_every: usize) -> Result<JsValue, JsValue> {
        to_js(&self.session.step(frame_every).await.map_err(js)?)
    }

    /// Synthesize `n` images by the model's sampling (no learning).
    pub async fn sample(&mut self, n: usize, seed: u64, frame_every: usize) -> Result<(), JsValue> {
        self.session.sample(n, seed, frame_every).await.map_err(js)
    }

    /// Show the observed pyramid of the first `n` observed images (before any learning).
    #[wasm_bindgen(js_name = showObserved)]
    pub fn show_observed(&mut self, n: usize) -> Result<(), JsValue> {
        self.session.show_observed(n).map_err(js)
    }

    /// Recover the occluded pixels of an RGBA image given its mask (one byte per pixel,
    /// non-zero = occluded); returns the mean absolute error over them, in grey levels.
    pub async fn inpaint(
        &mut self,
        rgba: &[u8],
        mask: &[u8],
        width: u32,
        height: u32,
        frame_every: usize,
    ) -> Result<f32, JsValue> {
        let image = data::CanvasPixels { bytes: rgba, width, height };
        self.session.inpaint(image, mask, frame_every).await.map_err(js)
    }

    /// RGBA of what the last iteration, sample or recovery left to show, read back in one
    /// transaction: the observed images and, with `synthesized`, the synthesized ones, one
    /// array per scale, coarse to fine; with `frames`, the kept Langevin frames.
    #[wasm_bindgen(js_name = readShown)]
    pub async fn read_shown(&self, synthesized: bool, frames: bool) -> Result<ShownImages, JsValue> {
        let shown = self.session.read_shown(synthesized, frames).await.map_err(js)?;
        let arrays = |v: Vec<Vec<u8>>| v.iter().map(|b| Uint8Array::from(b.as_slice())).collect();
        Ok(ShownImages {
            observed: arrays(shown.observed),
            synthesized: arrays(shown.synthesized),
            frames: shown
                .frames
                .into_iter()
                .map(|(grid, step, rgba)| LangevinFrame { grid: grid as u32, step: step as u32, rgba })
                .collect(),
        })
    }

    /// f(I) of the shown images under each grid's net, per scale coarse to fine.
    #[wasm_bindgen(unchecked_return_type = "number[][]")]
    pub async fn energies(
        &self,
        #[wasm_bindgen(unchecked_param_type = "import('../generated/Which').Which")] which: JsValue,
    ) -> Result<JsValue, JsValue> {
        let which: Which = from_js(which, "images to read")?;
        to_js(&self.session.energies(which).await.map_err(js)?)
    }

    /// f(I) of every kept Langevin frame's images, in the order of [`WebSession::read_shown`].
    #[wasm_bindgen(js_name = frameEnergies, unchecked_return_type = "number[][]")]
    pub async fn frame_energies(&self) -> Result<JsValue, JsValue> {
        to_js(&self.session.frame_energies().await.map_err(js)?)
    }

    /// The observed image nearest to synthesized image `index` at scale `scale`, or `undefined`
    /// when there are no observed images.
    #[wasm_bindgen(js_name = nearestObserved)]
    pub async fn nearest_observed(&mut self, scale: usize, index: usize) -> Result<Option<NearestObserved>, JsValue> {
        let nearest = self.session.nearest(scale, index).await.map_err(js)?;
        Ok(nearest.map(|n| NearestObserved { index: n.index as u32, name: n.name, rms: n.rms, rgba: n.rgba }))
    }

    /// The model as a file: "bpk" (with the Adam state) or "safetensors".
    pub async fn export(
        &self,
        #[wasm_bindgen(unchecked_param_type = "import('../generated/Format').Format")] format: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let format: Format = from_js(format, "format")?;
        Ok(Uint8Array::from(self.session.export(format).await.map_err(js)?.as_slice()))
    }
}

/// What [`WebSession::read_shown`] reads: RGBA per scale of the observed and synthesized images,
/// and the kept Langevin frames.
#[wasm_bindgen(getter_with_clone)]
pub struct ShownImages {
    pub observed: Vec<Uint8Array>,
    pub synthesized: Vec<Uint8Array>,
    pub frames: Vec<LangevinFrame>,
}

/// A kept Langevin frame: its grid (index into the scales), the step after which it was kept,
/// and the batch's RGBA at that grid.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone)]
pub struct LangevinFrame {
    pub grid: u32,
    pub step: u32,
    pub rgba: Vec<u8>,
}

/// The observed image nearest a synthesized one: its index and name, the root mean squared
/// difference in grey levels, and its RGBA at that grid.
#[wasm_bindgen(getter_with_clone)]
pub struct NearestObserved {
    pub index: u32,
    pub name: String,
    pub rms: f32,
    pub rgba: Vec<u8>,
}

/// Check that a checkpoint file is usable and return its configuration (without building a
/// model), so the page can refuse a bad file and keep its current model.
#[wasm_bindgen(js_name = checkpointConfig, unchecked_return_type = "import('../generated/Config').Config")]
pub fn checkpoint_config(bytes: &[u8]) -> Result<JsValue, JsValue> {
    to_js(&checkpoint::read_config(bytes).map_err(js)?)
}

/// The size at which the browser should decode an image file: its own, or smaller where it is
/// large ([`data::decode_size`]); refused over the decoding limits (a decompression bomb) before
/// the browser decodes it. Empty where this crate does not know the format (the browser may
/// still decode it, at its own size).
#[wasm_bindgen(js_name = decodeSize)]
pub fn decode_size(bytes: &[u8]) -> Result<Vec<u32>, JsValue> {
    Ok(data::decode_size(bytes).map_err(js)?.map(|(w, h)| vec![w, h]).unwrap_or_default())
}

/// Time forward, Langevin step and update of one grid of a preset's nets at a batch size on a
/// backend ("cpu", "webgpu" or "remote"), as `multigrid bench` does.
#[wasm_bindgen(unchecked_return_type = "import('../generated/Row').Row")]
pub async fn bench(preset: &str, grid: usize, batch: usize, reps: usize, backend: &str) -> Result<JsValue, JsValue> {
    let config = Config::preset(preset).map_err(js)?;
    let device = create_device(backend).await?;
    to_js(&device::pooled(|| crate::bench::time_grid(&config, grid, batch, reps, &device)).await.map_err(js)?)
}

/// A preset's configuration.
#[wasm_bindgen(js_name = presetConfig, unchecked_return_type = "import('../generated/Config').Config")]
pub fn preset_config(name: &str) -> Result<JsValue, JsValue> {
    to_js(&Config::preset(name).map_err(js)?)
}

/// An occlusion mask for a `size` × `size` image, as the command line makes them
/// ([`crate::inpaint::MaskKind`]: "centre" or "random:FRACTION"): one byte per pixel,
/// 1 = occluded.
#[wasm_bindgen(js_name = occlusionMask)]
pub fn occlusion_mask(kind: &str, size: usize, seed: u64) -> Result<Vec<u8>, JsValue> {
    crate::inpaint::occlusion_mask(kind, size, seed).map_err(js)
}
