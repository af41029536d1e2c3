//! The wasm-bindgen surface: a thin layer over the library for the browser's worker. Every
//! fallible call returns `Result`, which becomes a thrown JavaScript `Error` with a readable
//! message and the error's kind as its `name` (`DataError`, `DeviceError`, ...: [`Error::kind`]);
//! panics are reported through console_error_panic_hook. All readback is asynchronous, as
//! WebGPU requires. No algorithm lives here.

use burn::prelude::*;
use js_sys::{Array, Float32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::config::Config;
use crate::data::{self, ImageSet};
use crate::device::{self, read_all};
use crate::guard::{Guard, Guarded, Rule};
use crate::integrity::{self, Integrity};
use crate::learner::Learner;
use crate::{Error, checkpoint, mosaic};

/// `initThreadPool(n)` in JavaScript: start n Web Workers for rayon (the threaded build only).
#[cfg(target_feature = "atomics")]
pub use wasm_bindgen_rayon::init_thread_pool;

/// Run `work` to completion on the CPU backend's thread pool in the threaded build
/// ([`device::on_pool`]), and in place otherwise.
async fn on_pool<T: Send, F: Future<Output = T>>(work: impl FnOnce() -> F + Send) -> T {
    #[cfg(target_feature = "atomics")]
    return device::on_pool(|| device::block_on(work()));
    #[cfg(not(target_feature = "atomics"))]
    work().await
}

/// Langevin frames kept by a call: (grid index, step, images).
type Frames = Vec<(usize, usize, Tensor<4>)>;

/// A step hook that keeps the chain's images after every `every`-th Langevin step (none when
/// `every` is 0), for [`Trainer::read_shown`].
fn keep_frames(every: usize, frames: &mut Frames) -> impl FnMut(usize, usize, &Tensor<4>) + Send + '_ {
    move |grid, step, x| {
        if every > 0 && (step + 1) % every == 0 {
            frames.push((grid, step, x.clone()));
        }
    }
}

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

/// A model being trained or sampled in the browser, with its observed images.
#[wasm_bindgen]
pub struct Trainer {
    learner: Learner,
    observed: ImageSet,
    observed_tensor: Option<Tensor<4>>,
    /// Images of the last iteration or sample, one tensor per scale (coarse to fine).
    shown_observed: Vec<Tensor<4>>,
    shown_synthesized: Vec<Tensor<4>>,
    /// Langevin frames of the last call.
    frames: Frames,
    backend: String,
    /// Said once about the model's file, e.g. that it carried no checksum.
    warning: Option<String>,
    /// Rolls learning back to the last good state when it diverges (made at the first iteration).
    guard: Option<Guard>,
}

async fn create_device(backend: &str) -> Result<Device, JsValue> {
    match backend {
        "cpu" => Ok(device::cpu()),
        "webgpu" => device::webgpu().await.map_err(js),
        _ => Err(js(Error::Config(format!("unknown backend '{backend}': use cpu or webgpu")))),
    }
}

#[wasm_bindgen]
impl Trainer {
    /// A fresh model from a preset name ("paper", "small", "tiny") or a configuration JSON,
    /// on "cpu" or "webgpu" (check for a WebGPU adapter in JavaScript first).
    pub async fn create(config: &str, backend: &str, seed: u64) -> Result<Trainer, JsValue> {
        let config =
            if config.trim_start().starts_with('{') { Config::from_json(config) } else { Config::preset(config) }
                .map_err(js)?;
        let device = create_device(backend).await?;
        let learner = Learner::new(config, seed, &device).map_err(js)?;
        Ok(Self::wrap(learner, backend, None))
    }

    /// A model from checkpoint bytes (.bpk), on "cpu" or "webgpu". A file whose contents do not
    /// match its checksum is refused; one without a checksum loads with a [`Trainer::warning`].
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub async fn from_checkpoint(bytes: &[u8], backend: &str) -> Result<Trainer, JsValue> {
        let device = create_device(backend).await?;
        let (learner, integrity) = checkpoint::from_bytes(bytes, &device).map_err(js)?;
        let warning = (integrity == Integrity::Unchecked).then(|| integrity::unchecked_warning("this weights file"));
        Ok(Self::wrap(learner, backend, warning))
    }

    fn wrap(learner: Learner, backend: &str, warning: Option<String>) -> Trainer {
        let size = learner.config.image_size();
        Trainer {
            learner,
            observed: ImageSet::new(size),
            observed_tensor: None,
            shown_observed: Vec::new(),
            shown_synthesized: Vec::new(),
            frames: Vec::new(),
            backend: backend.to_string(),
            warning,
            guard: None,
        }
    }

    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// What the page should tell once about the model's file (None: nothing, or already told).
    #[wasm_bindgen(js_name = takeWarning)]
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }

    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        self.learner.config.to_json()
    }

    /// Change settings that keep the nets (Langevin, optimiser, batch size, method).
    /// A change of architecture or scales is refused: create a new trainer for that.
    #[wasm_bindgen(js_name = setConfig)]
    pub fn set_config(&mut self, json: &str) -> Result<(), JsValue> {
        let config = Config::from_json(json).map_err(js)?;
        let old = &self.learner.config;
        if config.grids != old.grids || config.norm != old.norm {
            return Err(js(Error::Config(
                "grids, layers and normalisation are fixed for a model: reset to change them".into(),
            )));
        }
        self.learner.set_config(config);
        Ok(())
    }

    pub fn iteration(&self) -> u64 {
        self.learner.iteration
    }

    #[wasm_bindgen(js_name = imageCount)]
    pub fn image_count(&self) -> usize {
        self.observed.len()
    }

    /// The scales, coarse to fine: 1, then every grid's size ([`Config::scales`]).
    pub fn scales(&self) -> Vec<u32> {
        self.learner.config.scales().into_iter().map(|s| s as u32).collect()
    }

    /// The finest grid's size: images are centre-cropped and resized to it.
    #[wasm_bindgen(js_name = imageSize)]
    pub fn image_size(&self) -> usize {
        self.learner.config.image_size()
    }

    /// Add an observed image from RGBA pixels (as a canvas gives them).
    #[wasm_bindgen(js_name = addImageRgba)]
    pub fn add_image_rgba(&mut self, name: &str, rgba: &[u8], width: u32, height: u32) -> Result<(), JsValue> {
        let pixels = data::from_rgba(rgba, width, height, self.image_size())
            .map_err(|e| js(Error::Data(format!("{name}: {e}"))))?;
        self.push_image(name, pixels);
        Ok(())
    }

    /// Add an observed image from an encoded file (PNG, JPEG, GIF, BMP, WebP, TIFF).
    #[wasm_bindgen(js_name = addImageFile)]
    pub fn add_image_file(&mut self, name: &str, bytes: &[u8]) -> Result<(), JsValue> {
        let pixels = data::decode(bytes, self.image_size()).map_err(|e| js(Error::Data(format!("{name}: {e}"))))?;
        self.push_image(name, pixels);
        Ok(())
    }

    fn push_image(&mut self, name: &str, pixels: Vec<f32>) {
        self.observed.push(name.to_string(), pixels);
        self.observed_tensor = None;
    }

    /// The observed images on the device (uploaded once after each change of the set).
    fn observed_tensor(&mut self) -> Result<Tensor<4>, JsValue> {
        if self.observed.is_empty() {
            return Err(js(Error::Data("no observed images: add some first".into())));
        }
        if self.observed_tensor.is_none() {
            let t = self.observed.to_tensor(&self.learner.device());
            self.learner.set_observed_colours(&t);
            self.observed_tensor = Some(t);
        }
        Ok(self.observed_tensor.clone().expect("set above"))
    }

    #[wasm_bindgen(js_name = clearImages)]
    pub fn clear_images(&mut self) {
        self.observed = ImageSet::new(self.image_size());
        self.observed_tensor = None;
    }

    /// One learning iteration on a batch of the observed images, under the divergence guard.
    /// Returns the per-grid statistics as JSON (with the guard's `warning`, or null), or, when
    /// the iteration diverged and was rolled back,
    /// `{"iteration": kept, "grids": [], "rollback": {"reason", "to", "lr"}}`. With
    /// `frame_every` > 0, every that many Langevin steps the chain is kept for
    /// [`Trainer::read_shown`].
    pub async fn learn(&mut self, frame_every: usize) -> Result<String, JsValue> {
        let observed = self.observed_tensor()?;
        let batch = self.learner.pick_batch(&observed);
        let mut frames = Vec::new();
        let guard = self.guard.get_or_insert_with(|| Guard::new(&self.learner, Rule::default()));
        let (learner, kept) = (&mut self.learner, &mut frames);
        let guarded = on_pool(|| async move { guard.learn(learner, batch, &mut keep_frames(frame_every, kept)).await })
            .await
            .map_err(js)?;
        match guarded {
            Guarded::Learned(it) => {
                self.frames = frames;
                self.shown_observed = it.observed;
                self.shown_synthesized = it.synthesized;
                let warning = self.guard.as_mut().and_then(Guard::take_warning);
                Ok(serde_json::json!({ "iteration": it.iteration, "grids": it.grids, "warning": warning }).to_string())
            }
            Guarded::RolledBack { reason, to, lr, .. } => Ok(serde_json::json!({
                "iteration": to, "grids": [], "rollback": { "reason": reason, "to": to, "lr": lr },
            })
            .to_string()),
        }
    }

    /// Synthesize `n` images from the model by multi-grid sampling (no learning).
    pub async fn sample(&mut self, n: usize, seed: u64, frame_every: usize) -> Result<(), JsValue> {
        if n == 0 || n > 256 {
            return Err(js(Error::Config("sample between 1 and 256 images".into())));
        }
        self.learner.reseed(seed);
        // With observed images in the page, chain i starts from observed image i's colour (the
        // first n, cycling), so the observed row above a sample is the image it started from.
        // Otherwise it starts from the stored colours of the model's training images, which
        // are not here: no observed row is shown.
        let (start, observed) = if self.observed.is_empty() {
            (self.learner.starting_colours(n), Vec::new())
        } else {
            let observed = self.observed_tensor()?;
            let shown = self.learner.observed_starts(&observed, n);
            (shown[0].clone(), shown)
        };
        let mut frames = Vec::new();
        let (learner, kept) = (&mut self.learner, &mut frames);
        let chain = on_pool(|| async {
            let chain = learner.sample(start, &mut keep_frames(frame_every, kept));
            // Wait for the chain here, so that the caller's next readback is quick.
            read_all(vec![chain.last().expect("non-empty").clone().sum()]).await.map(|_| chain)
        })
        .await
        .map_err(js)?;
        self.frames = frames;
        self.shown_observed = observed;
        self.shown_synthesized = chain;
        Ok(())
    }

    /// Show the observed pyramid of the first `n` observed images (before any learning).
    #[wasm_bindgen(js_name = showObserved)]
    pub fn show_observed(&mut self, n: usize) -> Result<(), JsValue> {
        let observed = self.observed_tensor()?;
        let n = n.clamp(1, self.observed.len());
        self.shown_observed = crate::pyramid::pyramid(observed.slice([0..n]), &self.learner.config.scales());
        Ok(())
    }

    /// Recover the occluded pixels of one image (RGBA, any size: centre-cropped and resized to
    /// the finest grid) given a mask of the same size (one byte per pixel, non-zero = occluded).
    /// The chain's result per scale (as "synthesized") and its Langevin frames are kept for
    /// [`Trainer::read_shown`]. Returns the mean absolute error over the occluded pixels, in
    /// grey levels.
    pub async fn inpaint(
        &mut self,
        rgba: &[u8],
        mask: &[u8],
        width: u32,
        height: u32,
        frame_every: usize,
    ) -> Result<f32, JsValue> {
        let size = self.image_size();
        let image = data::from_rgba(rgba, width, height, size).map_err(js)?;
        if mask.len() != (width * height) as usize {
            return Err(js(Error::Data(format!("the mask has {} bytes for a {width}×{height} image", mask.len()))));
        }
        // The mask goes through the same crop and resize as the image, then the library's mask
        // rule (the CLI's too).
        let mask_rgba: Vec<u8> = mask
            .iter()
            .flat_map(|&m| {
                let v = if m == 0 { 255 } else { 0 };
                [v, v, v, 255]
            })
            .collect();
        let known: Vec<f32> = data::from_rgba(&mask_rgba, width, height, size)
            .map_err(js)
            .map(|pixels| crate::inpaint::known_from_mask_image(&pixels, size))?;
        let device = self.learner.device();
        let original = device::images_tensor(image, 1, size, &device);
        let known = Tensor::<4>::from_data(TensorData::new(known, [1, 1, size, size]), &device);
        let mut frames = Vec::new();
        let (learner, kept) = (&self.learner, &mut frames);
        let (chain, error) = on_pool(|| async {
            let chain =
                crate::inpaint::recover(learner, original.clone(), known.clone(), &mut keep_frames(frame_every, kept));
            let error = crate::inpaint::occluded_error(
                chain.last().expect("non-empty").clone(),
                original.clone(),
                known.clone(),
            );
            read_all(vec![error]).await.map(|e| (chain, e[0][0]))
        })
        .await
        .map_err(js)?;
        self.frames = frames;
        self.shown_observed =
            crate::pyramid::pyramid(original * known.expand([1, 3, size, size]), &self.learner.config.scales());
        self.shown_synthesized = chain;
        Ok(error)
    }

    /// RGBA of what the last iteration, sample or recovery left to show, read back in one
    /// transaction (one wait on a GPU): the observed images and, with `synthesized`, the
    /// synthesized ones, one array per scale, coarse to fine, each n × s × s × 4 bytes; with
    /// `frames`, the kept Langevin frames in the order they were kept.
    #[wasm_bindgen(js_name = readShown)]
    pub async fn read_shown(&self, synthesized: bool, frames: bool) -> Result<ShownImages, JsValue> {
        let shown_synthesized: &[_] = if synthesized { &self.shown_synthesized } else { &[] };
        let kept: &[_] = if frames { &self.frames } else { &[] };
        let tensors: Vec<Tensor<4>> = (self.shown_observed.iter().chain(shown_synthesized).cloned())
            .chain(kept.iter().map(|(_, _, t)| t.clone()))
            .collect();
        let mut rgba = rgba_vecs(&tensors).await?.into_iter();
        let mut arrays =
            |n: usize| -> Vec<Uint8Array> { rgba.by_ref().take(n).map(|v| Uint8Array::from(v.as_slice())).collect() };
        let observed = arrays(self.shown_observed.len());
        let synthesized = arrays(shown_synthesized.len());
        let frames = kept
            .iter()
            .zip(rgba)
            .map(|((grid, step, _), rgba)| LangevinFrame { grid: *grid as u32, step: *step as u32, rgba })
            .collect();
        Ok(ShownImages { observed, synthesized, frames })
    }

    /// f(I) of the shown images (`which`: "observed" or "synthesized") under each grid's net:
    /// one Float32Array per scale, coarse to fine; empty for the 1×1 scale (it has no net) and
    /// where nothing is shown.
    pub async fn energies(&self, which: &str) -> Result<Array, JsValue> {
        let images = self.shown(which)?;
        let values = read_all(self.learner.energies_per_scale(images)).await.map_err(js)?;
        let out = Array::new();
        out.push(&Float32Array::new_with_length(0));
        for v in values {
            out.push(&Float32Array::from(v.as_slice()));
        }
        Ok(out)
    }

    /// The observed image nearest (mean squared difference) to synthesized image `index` at
    /// scale `scale`, both at that scale, or `undefined` when there are no observed images in
    /// the page.
    #[wasm_bindgen(js_name = nearestObserved)]
    pub async fn nearest_observed(&mut self, scale: usize, index: usize) -> Result<Option<NearestObserved>, JsValue> {
        let Some(synthesized) = self.shown_synthesized.get(scale).cloned() else {
            return Err(js(Error::Config(format!("no synthesized images at scale {scale}"))));
        };
        let [n, _, size, _] = synthesized.dims();
        if index >= n {
            return Err(js(Error::Config(format!("image {index} of {n}"))));
        }
        if self.observed.is_empty() {
            return Ok(None);
        }
        let observed = self.observed_tensor()?;
        let set = crate::pyramid::resample(observed, size);
        let distances = crate::pyramid::squared_distances(set.clone(), synthesized.slice(index..index + 1));
        let distances = read_all(vec![distances]).await.map_err(js)?.remove(0);
        let (nearest, d) =
            distances.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).expect("observed images are not empty");
        let rgba = rgba_vecs(&[set.slice(nearest..nearest + 1)]).await?.remove(0);
        Ok(Some(NearestObserved {
            index: nearest as u32,
            name: self.observed.names[nearest].clone(),
            rms: d.sqrt(),
            rgba,
        }))
    }

    fn shown(&self, which: &str) -> Result<&[Tensor<4>], JsValue> {
        match which {
            "observed" => Ok(&self.shown_observed),
            "synthesized" => Ok(&self.shown_synthesized),
            _ => Err(js(Error::Config("read 'observed' or 'synthesized' images".into()))),
        }
    }

    /// f(I) of every kept Langevin frame's images under its grid's net: one Float32Array per
    /// frame, in the order of [`Trainer::read_shown`] (how the energy rose along the chain).
    #[wasm_bindgen(js_name = frameEnergies)]
    pub async fn frame_energies(&self) -> Result<Array, JsValue> {
        let energies = self
            .frames
            .iter()
            .map(|(grid, _, x)| self.learner.energy(*grid, x.clone()))
            .collect::<crate::Result<Vec<_>>>();
        let values = read_all(energies.map_err(js)?).await.map_err(js)?;
        let out = Array::new();
        for v in values {
            out.push(&Float32Array::from(v.as_slice()));
        }
        Ok(out)
    }

    /// The model as checkpoint bytes (.bpk), Adam state included, read back asynchronously.
    #[wasm_bindgen(js_name = exportWeights)]
    pub async fn export_weights(&self) -> Result<Uint8Array, JsValue> {
        let bytes = checkpoint::to_bytes(&self.learner, true).await.map_err(js)?;
        Ok(Uint8Array::from(bytes.as_slice()))
    }

    /// The model's weights as PyTorch-layout safetensors.
    #[wasm_bindgen(js_name = exportSafetensors)]
    pub async fn export_safetensors(&self) -> Result<Uint8Array, JsValue> {
        let bytes = crate::interop::export_safetensors(&self.learner).await.map_err(js)?;
        Ok(Uint8Array::from(bytes.as_slice()))
    }
}

/// RGBA bytes of each tensor ([n, 3, s, s] → n × s × s × 4), read back in one transaction.
async fn rgba_vecs(images: &[Tensor<4>]) -> Result<Vec<Vec<u8>>, JsValue> {
    let values = read_all(images.to_vec()).await.map_err(js)?;
    Ok(images
        .iter()
        .zip(values)
        .map(|(t, v)| {
            let [n, _, s, _] = t.dims();
            mosaic::to_rgba(&v, n, s)
        })
        .collect())
}

/// What [`Trainer::read_shown`] reads: RGBA per scale of the observed and synthesized images,
/// and the kept Langevin frames.
#[wasm_bindgen(getter_with_clone)]
pub struct ShownImages {
    pub observed: Vec<Uint8Array>,
    pub synthesized: Vec<Uint8Array>,
    pub frames: Vec<LangevinFrame>,
}

/// A kept Langevin frame ([`Trainer::read_shown`]): its grid (index into the scales), the step
/// after which it was kept, and the batch's RGBA at that grid. wasm-bindgen declares it for
/// TypeScript (the page's `Frame` is this shape).
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone)]
pub struct LangevinFrame {
    pub grid: u32,
    pub step: u32,
    pub rgba: Vec<u8>,
}

/// The observed image nearest a synthesized one ([`Trainer::nearest_observed`]): its index and
/// name, the root mean squared difference in grey levels, and its RGBA at that grid.
#[wasm_bindgen(getter_with_clone)]
pub struct NearestObserved {
    pub index: u32,
    pub name: String,
    pub rms: f32,
    pub rgba: Vec<u8>,
}

/// Check that a checkpoint file is readable and return its configuration JSON (without
/// building a model), so the page can refuse a bad file and keep its current model.
#[wasm_bindgen(js_name = checkpointConfig)]
pub fn checkpoint_config(bytes: &[u8]) -> Result<String, JsValue> {
    checkpoint::read_config(bytes).map(|(c, _)| c.to_json()).map_err(js)
}

/// Read an image file's size from its header and refuse one over the decoding limits (a
/// decompression bomb) before the browser decodes it. Returns [width, height], or an empty array
/// where this crate does not know the format (the browser may still decode it).
#[wasm_bindgen(js_name = checkedImageDimensions)]
pub fn checked_image_dimensions(bytes: &[u8]) -> Result<Vec<u32>, JsValue> {
    Ok(data::checked_dimensions(bytes).map_err(js)?.map(|(w, h)| vec![w, h]).unwrap_or_default())
}

/// Time forward, Langevin step and update of one grid of a preset's nets at a batch size on a
/// backend ("cpu" or "webgpu"); returns the row as JSON (see `multigrid bench`).
#[wasm_bindgen]
pub async fn bench(preset: &str, grid: usize, batch: usize, reps: usize, backend: &str) -> Result<String, JsValue> {
    let config = Config::preset(preset).map_err(js)?;
    let device = create_device(backend).await?;
    let row = on_pool(|| crate::bench::time_grid(&config, grid, batch, reps, &device)).await.map_err(js)?;
    Ok(serde_json::to_string(&row).expect("plain data"))
}

/// A configuration JSON with the person's settings applied (JSON of [`crate::Overrides`]:
/// method, batch, steps, delta, lr, noise, norm; unset ones keep their value), validated with the
/// library's limits, as the CLI applies its flags.
#[wasm_bindgen(js_name = withOverrides)]
pub fn with_overrides(config: &str, overrides: &str) -> Result<String, JsValue> {
    let config = Config::from_json(config).map_err(js)?;
    let overrides = crate::Overrides::from_json(overrides).map_err(js)?;
    config.with_overrides(&overrides).map(|c| c.to_json()).map_err(js)
}

/// The names of the presets.
#[wasm_bindgen]
pub fn presets() -> Array {
    Config::PRESETS.iter().map(|p| JsValue::from_str(p)).collect()
}

/// A preset's configuration as JSON.
#[wasm_bindgen(js_name = presetConfig)]
pub fn preset_config(name: &str) -> Result<String, JsValue> {
    Config::preset(name).map(|c| c.to_json()).map_err(js)
}
