//! Browser tests (`wasm-pack test --headless --chrome`): the wasm API in real Chromium, on
//! Burn's CPU backend and on WebGPU where the browser has an adapter.
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use multigrid_ebm::session::Step;
use multigrid_ebm::web::{WebSession as Session, checkpoint_config, connect_remote};
use multigrid_ebm::{Config, Overrides};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A striped RGBA image of w × h.
fn stripes(w: u32, h: u32, phase: u32) -> Vec<u8> {
    (0..w * h)
        .flat_map(|i| if ((i / w + phase) / 4) % 2 == 0 { [220, 60, 40, 255] } else { [30, 40, 200, 255] })
        .collect()
}

fn no_overrides() -> JsValue {
    serde_wasm_bindgen::to_value(&Overrides::default()).unwrap()
}

async fn trainer_with_images(backend: &str) -> Session {
    let mut t = Session::create("tiny", no_overrides(), backend, 1).await.unwrap();
    for i in 0..8 {
        t.add_image_rgba(&format!("s{i}"), &stripes(24, 20, i), 24, 20).unwrap();
    }
    t
}

fn learned_grids(step: JsValue) -> Vec<multigrid_ebm::learner::GridStats> {
    match serde_wasm_bindgen::from_value::<Step>(step).unwrap() {
        Step::Learned(l) => l.grids,
        other => panic!("expected a learned step, got {other:?}"),
    }
}

/// Learning iterations, images read back, and a checkpoint round trip, on one backend.
async fn learn_and_round_trip(backend: &str) {
    let mut t = trainer_with_images(backend).await;
    let mut grids = Vec::new();
    for _ in 0..3 {
        grids = learned_grids(t.step(5).await.unwrap());
    }
    assert_eq!(t.iteration(), 3);
    for g in grids {
        assert!(g.loss.unwrap().is_finite(), "{backend}: {g:?}");
    }
    let shown = t.read_shown(true, true).await.unwrap();
    let sizes = [1usize, 4, 16];
    assert_eq!((shown.observed.len(), shown.synthesized.len()), (3, 3));
    for (i, s) in sizes.iter().enumerate() {
        for rgba in [&shown.observed[i], &shown.synthesized[i]] {
            assert_eq!(rgba.length() as usize, 8 * s * s * 4, "{backend}: grid {s}");
        }
    }
    let observed_only = t.read_shown(false, false).await.unwrap();
    assert_eq!(
        (observed_only.observed.len(), observed_only.synthesized.len(), observed_only.frames.len()),
        (3, 0, 0),
        "{backend}: only the observed images asked for"
    );
    let frames = shown.frames;
    assert_eq!(frames.len(), 4, "{backend}: T = 10, a frame every 5 steps, 2 grids");
    assert_eq!((frames[0].grid, frames[0].step, frames[0].rgba.len()), (1, 4, 8 * 4 * 4 * 4), "{backend}: grid 4");
    assert_eq!((frames[3].grid, frames[3].step, frames[3].rgba.len()), (2, 9, 8 * 16 * 16 * 4), "{backend}: grid 16");

    // Export → import: same samples from the same seed.
    let bytes = t.export("bpk".into()).await.unwrap().to_vec();
    let config: Config = serde_wasm_bindgen::from_value(checkpoint_config(&bytes).unwrap()).unwrap();
    assert_eq!(config, Config::tiny());
    let mut back = Session::from_checkpoint(&bytes, backend).await.unwrap();
    assert_eq!(back.iteration(), 3);
    // With the same observed images (chain i starts from image i's colour) and without any (chains
    // start from the stored colours of the training images), the same seed gives the same samples.
    for i in 0..8 {
        back.add_image_rgba(&format!("s{i}"), &stripes(24, 20, i), 24, 20).unwrap();
    }
    for images in ["the same images", "no images"] {
        if images == "no images" {
            t.clear_images();
            back.clear_images();
        }
        t.sample(4, 9, 0).await.unwrap();
        back.sample(4, 9, 0).await.unwrap();
        let (a, b) = (t.read_shown(true, false).await.unwrap(), back.read_shown(true, false).await.unwrap());
        assert!(a.frames.is_empty(), "{backend}: no frames asked for");
        assert!(
            a.synthesized[2].to_vec() == b.synthesized[2].to_vec(),
            "{backend}, {images}: reloaded weights sample differently"
        );
        assert_eq!(
            a.observed.len(),
            if images == "no images" { 0 } else { 3 },
            "{backend}, {images}: the observed pyramid shown"
        );
    }
}

#[wasm_bindgen_test]
async fn cpu_backend_learns_and_round_trips() {
    learn_and_round_trip("cpu").await;
}

/// navigator.gpu.requestAdapter(), or why there is none.
async fn webgpu_adapter() -> Result<(), String> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).map_err(|_| "no navigator".to_string())?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() {
        return Err("navigator.gpu is undefined (WebGPU disabled in this browser)".into());
    }
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into()).unwrap().dyn_into().unwrap();
    let adapter = JsFuture::from(js_sys::Promise::from(request.call0(&gpu).unwrap())).await.unwrap_or(JsValue::NULL);
    if adapter.is_null() { Err("requestAdapter() returned null".into()) } else { Ok(()) }
}

/// Where the browser has no WebGPU adapter this test cannot run: it fails with a message that
/// starts with `SKIPPED`, which scripts/test names as a skip (neither passed nor failed).
#[wasm_bindgen_test]
async fn webgpu_backend_learns_and_round_trips() {
    if let Err(why) = webgpu_adapter().await {
        panic!("SKIPPED webgpu_backend_learns_and_round_trips: {why}");
    }
    learn_and_round_trip("webgpu").await;
}

#[wasm_bindgen_test]
async fn bad_input_is_an_exception_not_a_panic() {
    let mut t = Session::create("tiny", no_overrides(), "cpu", 1).await.unwrap();
    // Errors arrive as JavaScript Errors named by their kind, with the message.
    let kind = |e: &JsValue| js_sys::Error::from(e.clone()).name().as_string().unwrap();
    let err = t.step(0).await.unwrap_err();
    assert!(format!("{err:?}").contains("no observed images"));
    assert_eq!(kind(&err), "DataError");
    let err = t.add_image_file("x.png", b"not an image").unwrap_err();
    assert!(format!("{err:?}").contains("x.png"));
    assert_eq!(kind(&err), "DataError");
    let err = checkpoint_config(b"garbage").unwrap_err();
    assert!(format!("{err:?}").contains("not a readable burnpack"));
    assert_eq!(kind(&err), "CheckpointError");
    assert_eq!(kind(&Session::create("tiny", no_overrides(), "quantum", 1).await.err().unwrap()), "ConfigError");
    assert!(Session::create("huge", no_overrides(), "cpu", 1).await.is_err());
    // Settings cross as typed objects: an unknown or ill-typed one is refused by name.
    let bad = js_sys::JSON::parse(r#"{"stepz": 3}"#).unwrap();
    let err = t.apply(bad).unwrap_err();
    assert_eq!(kind(&err), "ConfigError");
    assert!(format!("{err:?}").contains("stepz"));
    let bad = js_sys::JSON::parse(r#"{"steps": "many"}"#).unwrap();
    assert_eq!(kind(&t.apply(bad).unwrap_err()), "ConfigError");
    assert!(t.add_image_rgba("odd", &[0; 10], 2, 2).is_err());
    assert_eq!(t.image_count(), 0, "failed adds add nothing");
}

#[wasm_bindgen_test]
async fn remote_addresses_are_refused_by_name_before_any_connection() {
    let kind = |e: &JsValue| js_sys::Error::from(e.clone()).name().as_string().unwrap();
    let message = |e: &JsValue| js_sys::Error::from(e.clone()).message().as_string().unwrap();
    // "remote" names a device only after a connection.
    let err = Session::create("tiny", no_overrides(), "remote", 1).await.err().unwrap();
    assert_eq!(kind(&err), "DeviceError");
    assert!(message(&err).contains("connectRemote"), "{}", message(&err));
    // The page's build has the client (scripts/build-wasm, and scripts/test builds these tests the
    // same way): what it cannot reach it refuses with the reason, before dialling anything.
    #[cfg(feature = "browser-remote")]
    for (address, token, says) in [
        ("iroh:abc?relay=http://127.0.0.1:9", "", "token"),
        ("ws://127.0.0.1:9", "secret", "through an Iroh relay"),
        ("iroh:not-an-id?relay=http://127.0.0.1:9", "secret", "the server id"),
        ("iroh:not-an-id", "secret", "the server id"),
    ] {
        let err = connect_remote(address, token).await.unwrap_err();
        assert_eq!(kind(&err), "ConfigError", "{address}");
        assert!(message(&err).contains(says), "{address}: {}", message(&err));
    }
    #[cfg(not(feature = "browser-remote"))]
    assert_eq!(kind(&connect_remote("iroh:abc", "secret").await.unwrap_err()), "DeviceError");
}
