//! Regression tests for what fuzzing found (`scripts/fuzz`; reports/reliability.md, "Fuzzing"),
//! and for what review of the same entry points found while the fuzz targets were written:
//! inputs that made a target fail, ran out of memory or would have, each now a clear error.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use multigrid_ebm::checkpoint::{from_bytes, to_bytes};
use multigrid_ebm::device::block_on;
use multigrid_ebm::integrity;
use multigrid_ebm::{Config, Learner};

/// A tiny model that has seen 8 images (so its checkpoint stores their colours).
fn learner() -> Learner {
    let mut learner = Learner::new(Config::tiny(), 1, &cpu()).unwrap();
    learner.set_observed_colours(&tensor4(pseudo_random(8 * 3 * 16 * 16, 5, 0.0, 255.0), [8, 3, 16, 16]));
    learner
}

/// The learner's checkpoint with the tensor `name` replaced by `values` of `shape` (checksummed).
fn with_tensor(learner: &Learner, name: &str, shape: Vec<usize>, values: &[f32]) -> Vec<u8> {
    let bytes = block_on(to_bytes(learner, false)).unwrap();
    let reader = burn::store::burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).unwrap();
    let mut meta = reader.metadata().clone();
    meta.insert(integrity::KEY.into(), integrity::PLACEHOLDER.into());
    let mut tensors: Vec<_> = reader.into_tensors().unwrap().into_iter().filter(|t| t.name != name).collect();
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensors.push(burn::store::burn_pack::Tensor::new(
        name.into(),
        burn::tensor::DType::F32,
        shape,
        None,
        burn::tensor::Bytes::from_bytes_vec(data),
    ));
    let mut writer = burn::store::burn_pack::Writer::new(tensors);
    for (k, v) in &meta {
        writer = writer.with_metadata(k, v);
    }
    integrity::seal(writer.into_bytes().unwrap().to_vec()).unwrap()
}

/// What the `checkpoint` target asserts after every load: sampling can start from the stored
/// colours of observed images. Review found that empty colours ([0, 3, 1, 1]) loaded and
/// sampling then panicked (a random index in 0..0), and other shapes broke sampling later; the
/// check on load (src/checkpoint.rs) landed in commit 3b4a512 while the targets were being written,
/// so the fuzzer ran against it. Pinned here.
#[test]
fn a_checkpoint_with_empty_or_misshapen_colours_is_refused() {
    let learner = learner();
    let mut loaded =
        from_bytes(&with_tensor(&learner, "observed.colours", vec![2, 3, 1, 1], &[9.0; 6]), &cpu()).unwrap();
    assert_eq!(loaded.starting_colours(3).dims(), [3, 3, 1, 1], "well-formed colours still load");
    for shape in [vec![0, 3, 1, 1], vec![2, 1, 1, 3], vec![1, 3, 2, 2], vec![1, 3, 1]] {
        let n = shape.iter().product::<usize>();
        let m = checkpoint_error(&with_tensor(&learner, "observed.colours", shape.clone(), &vec![1.0; n]));
        assert!(m.contains("observed.colours"), "{shape:?}: {m}");
    }
}

/// The same check (same commit) for persistent CD's chains: [n ≥ 1, 3, S, S] at the finest grid.
#[test]
fn a_checkpoint_with_misshapen_persistent_chains_is_refused() {
    let learner = learner();
    let ok = with_tensor(&learner, "pcd.chains", vec![1, 3, 16, 16], &[0.5; 3 * 16 * 16]);
    from_bytes(&ok, &cpu()).unwrap();
    for shape in [vec![0, 3, 16, 16], vec![1, 3, 4, 4], vec![1, 2, 16, 16]] {
        let n = shape.iter().product::<usize>();
        let m = checkpoint_error(&with_tensor(&learner, "pcd.chains", shape.clone(), &vec![1.0; n]));
        assert!(m.contains("pcd.chains"), "{shape:?}: {m}");
    }
}

/// The tiny preset's JSON with one value replaced (`"key": old` → `"key": new`).
fn tiny_json_with(key: &str, old: &str, new: &str) -> String {
    let json = Config::tiny().to_json();
    let (from, to) = (format!("\"{key}\": {old}"), format!("\"{key}\": {new}"));
    assert!(json.contains(&from), "{from} in {json}");
    json.replacen(&from, &to, 1)
}

/// Found by review of the `config_json` target's round trip: float32 settings beyond float32's
/// range (Adam's ε, the clip range) were read as infinity and validated, but an infinite value is
/// written as `null`, so the configuration's own JSON (the copy every checkpoint stores) no
/// longer loaded. JSON numbers out of float32's range are now refused when parsed (serde_json's
/// `float_roundtrip`), and `validate` refuses non-finite values in a configuration made in code.
#[test]
fn a_configuration_with_out_of_range_float32_values_is_refused() {
    let clip = |lo: &str| Config::tiny().to_json().replace("0.0,\n      255.0", &format!("{lo},\n      255.0"));
    for json in [tiny_json_with("epsilon", "1e-8", "1e39"), tiny_json_with("epsilon", "1e-8", "-1e39"), clip("-1e39")] {
        let e = Config::from_json(&json).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }
    let mut c = Config::tiny();
    c.optimizer.epsilon = f32::INFINITY;
    assert!(c.validate().unwrap_err().to_string().contains("ε"));
    let mut c = Config::tiny();
    c.langevin.clip = Some([f32::NEG_INFINITY, 255.0]);
    assert!(c.validate().unwrap_err().to_string().contains("clip"));
    // The largest float32 loads, and survives a round trip through its JSON.
    let c = Config::from_json(&tiny_json_with("epsilon", "1e-8", "3.4028235e38")).unwrap();
    assert_eq!(c.optimizer.epsilon, f32::MAX);
    assert_eq!(Config::from_json(&c.to_json()).unwrap(), c);
}

/// Found by review while writing the targets: nothing bounded the size of the nets a configuration asks
/// for (4096 channels and 15×15 kernels per layer pass the per-layer checks: 3.8 billion
/// parameters, 15 GB, in one layer), and building such a model ran the machine out of memory.
#[test]
fn a_configuration_whose_nets_are_too_large_is_refused() {
    let json = tiny_json_with("channels", "16", "4096").replacen("\"kernel\": 3", "\"kernel\": 15", 2);
    let json =
        json.replacen("\"channels\": 8,\n          \"kernel\": 5", "\"channels\": 4096,\n          \"kernel\": 15", 1);
    let e = Config::from_json(&json).unwrap_err().to_string();
    assert!(e.contains("parameters"), "{e}");
}

/// Peak resident memory of this process so far, in MB (Linux).
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// Found by review of the `safetensors` target (its peak memory reached 1 GB): a file's own
/// configuration was used to build (and randomly initialise) the whole model before its tensors
/// were looked at, so a few bytes of JSON could
/// make the import allocate hundreds of MB (or, before the bound on the size of the nets,
/// everything) only to find the weights missing. The tensors are now checked first. The peak
/// memory is measured in a process of its own (this test binary, running this test alone), where
/// no other test allocates beside it.
#[test]
fn a_safetensors_file_is_checked_against_its_configuration_before_the_model_is_built() {
    const ALONE: &str = "MULTIGRID_IMPORT_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let name = "a_safetensors_file_is_checked_against_its_configuration_before_the_model_is_built";
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads", "1"])
            .env(ALONE, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let Some(figures) = stdout.lines().find_map(|l| l.split_once("peak MB ").map(|(_, figures)| figures)) else {
            return assert!(peak_rss_mb().is_none(), "the child measured nothing: {stdout}");
        };
        let [before, after]: [u64; 2] =
            figures.split_whitespace().map(|v| v.parse().unwrap()).collect::<Vec<_>>().try_into().unwrap();
        assert!(after < before + 150, "the import grew the peak memory from {before} MB to {after} MB");
        return;
    }
    // 85 million parameters in grid 16's second layer (340 MB), and no weights in the file.
    let json = tiny_json_with("channels", "16", "1024").replacen(
        "\"kernel\": 3,\n          \"stride\": 2",
        "\"kernel\": 9,\n          \"stride\": 1",
        1,
    );
    let json =
        json.replacen("\"channels\": 8,\n          \"kernel\": 5", "\"channels\": 1024,\n          \"kernel\": 5", 1);
    let config = Config::from_json(&json).unwrap();
    assert!(config.parameter_count() > 80_000_000, "{}", config.parameter_count());
    let data = [0u8; 4];
    let view = safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, vec![1], &data).unwrap();
    let metadata = std::collections::HashMap::from([("multigrid.config".to_string(), json)]);
    let bytes = safetensors::serialize(vec![("unrelated", view)], Some(metadata)).unwrap();
    let before = peak_rss_mb();
    let e = multigrid_ebm::interop::import_safetensors(&bytes, Config::tiny(), 0, &cpu()).err().expect("no weights");
    assert!(e.to_string().contains("has no tensor 'grid4.conv.0.weight'"), "{e}");
    if let (Some(before), Some(after)) = (before, peak_rss_mb()) {
        println!("peak MB {before} {after}");
    }
}

/// Fuzz target `config_json` (crash-aa16c504…, after 914,028 executions): a δ written with 22
/// significant digits came back from the configuration's own JSON one unit in the last place
/// different (serde_json's default float parsing is not correctly rounded), so a checkpoint's
/// stored configuration was not the one it was written from. serde_json's `float_roundtrip`
/// feature makes the parsing exact.
#[test]
fn a_configuration_survives_a_round_trip_through_its_json_exactly() {
    let found = include_str!("fixtures/fuzz/config_json-crash-aa16c504.json");
    let config = Config::from_json(found).unwrap();
    assert_eq!(Config::from_json(&config.to_json()).unwrap(), config);
    assert_eq!(config.langevin.delta, "0.1844674407370915516153".parse::<f64>().unwrap(), "parsed exactly");
    for delta in
        ["0.1844674407370915516153", "0.30000000000000004", "2.2250738585072014e-308", "0.1234567890123456789e2"]
    {
        let c = Config::from_json(&tiny_json_with("delta", "0.3", delta)).unwrap();
        assert_eq!(c.langevin.delta, delta.parse::<f64>().unwrap(), "{delta}");
        assert_eq!(Config::from_json(&c.to_json()).unwrap(), c, "{delta}");
    }
}

/// Fuzz target `image` (timeout-2ad421bf…, after 1,146,940 executions): a 460-byte truncated
/// JPEG that claims 3840×8201 grey pixels (31.5 megapixels, inside the 100-megapixel limit); the
/// decoder fills in what is missing, and decoding and resizing took 13 s in the instrumented fuzz
/// build on a loaded machine, over the target's 10 s limit. Not a hang: the work is bounded by the
/// decoding limits (1 s for this file in a release build; 1.7 s for the largest image they allow,
/// 100 megapixels of RGBA). The target's time limit now allows for that (scripts/fuzz), and this
/// pins that such a file decodes, to the right size, in bounded time.
#[test]
fn a_small_file_that_claims_a_large_image_decodes_in_bounded_time() {
    let bytes = include_bytes!("fixtures/fuzz/image-timeout-2ad421bf.jpg");
    assert_eq!(multigrid_ebm::data::checked_dimensions(bytes).unwrap(), Some((3840, 8201)));
    let started = std::time::Instant::now();
    let pixels = multigrid_ebm::data::decode(bytes, 16).unwrap();
    assert_eq!(pixels.len(), 3 * 16 * 16);
    assert!(pixels.iter().all(|p| (0.0..=255.0).contains(p)));
    let took = started.elapsed().as_secs_f64();
    // About 1 s in a release build (how the tests run); unoptimised builds are far slower.
    assert!(cfg!(debug_assertions) || took < 30.0, "decoding took {took:.1} s");
}
