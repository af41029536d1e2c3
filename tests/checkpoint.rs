//! Checkpoints: round trip, resume state, determinism, and clear errors for bad files.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use multigrid_ebm::checkpoint::{from_bytes, to_bytes};
use multigrid_ebm::device::block_on;
use multigrid_ebm::integrity::{self, Integrity};
use multigrid_ebm::{Config, Error, Learner};

fn trained(seed: u64, iterations: usize) -> Learner {
    let config = Config::tiny();
    let mut learner = Learner::new(config, seed, &cpu()).unwrap();
    let data = tensor4(pseudo_random(8 * 3 * 16 * 16, 5, 0.0, 255.0), [8, 3, 16, 16]);
    learner.set_observed_colours(&data);
    for _ in 0..iterations {
        block_on(learner.learn(data.clone(), None)).unwrap();
    }
    learner
}

fn energies(learner: &Learner) -> Vec<Vec<f32>> {
    let x = tensor4(pseudo_random(4 * 3 * 16 * 16, 8, 0.0, 255.0), [4, 3, 16, 16]);
    learner
        .nets
        .iter()
        .zip(&learner.config.scales()[1..])
        .map(|(net, &s)| values(net.forward(multigrid_ebm::pyramid::resample(x.clone(), s))))
        .collect()
}

#[test]
fn round_trip_keeps_energies_and_training_state() {
    let learner = trained(1, 3);
    let bytes = block_on(to_bytes(&learner, true)).unwrap();
    let mut loaded = from_bytes(&bytes, &cpu()).unwrap();
    assert_eq!(energies(&learner), energies(&loaded));
    assert_eq!(loaded.iteration, 3);
    assert_eq!(loaded.config, learner.config);
    // Saving the loaded learner gives the same bytes: nothing was lost or reordered.
    assert_eq!(block_on(to_bytes(&loaded, true)).unwrap(), bytes);
    // And a resumed learner continues exactly like the original.
    let mut original = learner;
    let data = tensor4(pseudo_random(8 * 3 * 16 * 16, 6, 0.0, 255.0), [8, 3, 16, 16]);
    block_on(original.learn(data.clone(), None)).unwrap();
    block_on(loaded.learn(data, None)).unwrap();
    assert_eq!(block_on(to_bytes(&original, true)).unwrap(), block_on(to_bytes(&loaded, true)).unwrap());
}

#[test]
fn same_seed_gives_identical_checkpoints_and_another_seed_does_not() {
    let a = block_on(to_bytes(&trained(4, 3), true)).unwrap();
    let b = block_on(to_bytes(&trained(4, 3), true)).unwrap();
    let c = block_on(to_bytes(&trained(5, 3), true)).unwrap();
    assert!(a == b, "same seed, different bytes");
    assert!(a != c, "different seeds, same bytes");
}

#[test]
fn truncated_random_and_foreign_files_give_clear_errors() {
    let bytes = block_on(to_bytes(&trained(1, 1), true)).unwrap();
    for cut in [0, 5, 100, bytes.len() / 2, bytes.len() - 1] {
        let m = checkpoint_error(&bytes[..cut]);
        assert!(m.contains("truncated") || m.contains("corrupt"), "cut at {cut}: {m}");
    }
    let noise: Vec<u8> = pseudo_random(4096, 3, 0.0, 255.0).iter().map(|v| *v as u8).collect();
    assert!(checkpoint_error(&noise).contains("not a readable burnpack"));
    // A burnpack file that is not ours.
    let foreign = burn::store::burn_pack::Writer::new(vec![]).with_metadata("format", "burnpack").into_bytes().unwrap();
    assert!(checkpoint_error(&foreign).contains("not a multigrid checkpoint"));
}

#[test]
fn a_checkpoint_whose_tensors_do_not_fit_its_architecture_is_refused() {
    let bytes = block_on(to_bytes(&trained(1, 1), false)).unwrap();
    // Swap the stored configuration for a wider one, keeping the tiny tensors.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("\"channels\": 8"));
    let mut config = Config::tiny();
    config.grids[0].layers[0].channels = 9;
    let reader = burn::store::burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).unwrap();
    let mut meta = reader.metadata().clone();
    meta.insert("multigrid.config".into(), config.to_json());
    let tensors = reader.into_tensors().unwrap();
    meta.insert(integrity::KEY.into(), integrity::PLACEHOLDER.into());
    let m = checkpoint_error(&rewrite(tensors, &meta));
    assert!(m.contains("grid4.conv.0.weight") && m.contains("[9, 3, 3, 3]"), "{m}");
}

/// A burnpack file of these tensors and metadata, sealed if the metadata asks for a checksum.
fn rewrite(tensors: Vec<burn::store::burn_pack::Tensor>, meta: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    let mut writer = burn::store::burn_pack::Writer::new(tensors);
    for (k, v) in meta {
        writer = writer.with_metadata(k, v);
    }
    let bytes = writer.into_bytes().unwrap().to_vec();
    if meta.contains_key(integrity::KEY) { integrity::seal(bytes).unwrap() } else { bytes }
}

#[test]
fn a_changed_byte_anywhere_is_refused_and_only_unchanged_bytes_load() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/weights/small.bpk")).unwrap();
    from_bytes(&bytes, &cpu()).expect("the bundled weights load");
    let mut loaded = 0;
    for (i, m) in mutants(&bytes, 300, 11).iter().enumerate() {
        match from_bytes(m, &cpu()) {
            Ok(_) => {
                assert_eq!(m, &bytes, "mutant {i} (kind {}) changed the bytes and still loaded", i % 4);
                loaded += 1;
            }
            Err(Error::Checkpoint(message)) => assert!(!message.is_empty()),
            Err(e) => panic!("mutant {i}: expected a checkpoint error, got {e}"),
        }
    }
    assert!(loaded <= 3, "{loaded} of 300 unchanged mutants loaded");
}

#[test]
fn a_checkpoint_without_a_checksum_is_refused_whatever_its_format_says() {
    let bytes = block_on(to_bytes(&trained(1, 1), false)).unwrap();
    let reader = burn::store::burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).unwrap();
    let mut meta = reader.metadata().clone();
    let tensors = reader.into_tensors().unwrap();
    meta.remove(integrity::KEY);
    for format in ["2", "1"] {
        meta.insert("multigrid.format".into(), format.into());
        let message = checkpoint_error(&rewrite(tensors.clone(), &meta));
        assert!(message.contains("carries no checksum"), "format {format}: {message}");
    }
}

/// The bundled model with its format field changed to 1, and with each byte of its metadata
/// region flipped in turn: every one is refused (a checksum covers the whole file, and no format
/// field steps around it).
#[test]
fn the_bundled_model_refuses_a_format_1_label_and_every_flip_of_its_metadata() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/weights/small.bpk")).unwrap();
    // In the CBOR map the key's text is followed by its value, the one-character text "2".
    let key = b"multigrid.format";
    let at = bytes.windows(key.len()).position(|w| w == key).expect("the format key") + key.len() + 1;
    assert_eq!(&bytes[at - 1..=at], &[0x61, b'2'], "the format field's value");
    let mut relabelled = bytes.clone();
    relabelled[at] = b'1';
    assert!(checkpoint_error(&relabelled).contains("do not match the checksum"));
    // Burnpack: magic (4 bytes), version (2), the metadata's size (4, little-endian), metadata.
    let end = 10 + u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
    assert!(end > at && end < bytes.len(), "the metadata region: bytes 0..{end} of {}", bytes.len());
    for i in 0..end {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        assert!(from_bytes(&flipped, &cpu()).is_err(), "a flip of byte {i} of {end} loaded");
    }
}

#[test]
fn exported_safetensors_carry_a_checksum_that_is_verified() {
    let learner = trained(2, 1);
    let bytes = block_on(multigrid_ebm::interop::export_safetensors(&learner)).unwrap();
    let (imported, integrity) = multigrid_ebm::interop::import_safetensors(&bytes, Config::tiny(), 0, &cpu()).unwrap();
    assert_eq!(integrity, Integrity::Verified);
    assert_eq!(energies(&imported), energies(&learner));
    for (i, m) in mutants(&bytes, 40, 5).iter().enumerate() {
        if multigrid_ebm::interop::import_safetensors(m, Config::tiny(), 0, &cpu()).is_ok() {
            assert_eq!(m, &bytes, "safetensors mutant {i} changed the bytes and still imported");
        }
    }
    // Safetensors: the header's size (8 bytes, little-endian), then the JSON header. Every flip
    // there, and every 97th byte of the data, is refused.
    let end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in (0..end).chain((end..bytes.len()).step_by(97)) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        let imported = multigrid_ebm::interop::import_safetensors(&flipped, Config::tiny(), 0, &cpu());
        assert!(imported.is_err(), "a flip of byte {i} imported (header: bytes 0..{end})");
    }
}
