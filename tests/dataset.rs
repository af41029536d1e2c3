//! The bundled dataset is what `scripts/make-dataset` wrote: every file in the manifest exists
//! with its recorded SHA-256, every image decodes at 64×64, and no file is unlisted.
//! (`scripts/make-dataset --check` rebuilds the set from the source packages and compares.)
#![cfg(not(target_arch = "wasm32"))]

use sha2::{Digest, Sha256};
use std::path::Path;

#[test]
fn committed_dataset_matches_its_manifest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/textures");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap()).unwrap();
    let images = manifest["images"].as_array().unwrap();
    assert_eq!(images.len(), 156);
    for m in images {
        let file = m["file"].as_str().unwrap();
        let bytes = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, m["sha256"].as_str().unwrap(), "{file} differs from the script's output");
        assert!(m["licence"].as_str().unwrap().len() > 3, "{file} has no licence");
        let image = image::load_from_memory(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), (64, 64), "{file}");
    }
    for split in ["train", "held-out"] {
        let on_disk = std::fs::read_dir(root.join(split)).unwrap().count();
        let listed = images.iter().filter(|m| m["split"] == split).count();
        assert_eq!(on_disk, listed, "{split}: files not in the manifest");
    }
}

/// Each split's pack (one PNG atlas, for the page's one request) holds the split's images, named,
/// pixel for pixel: read through the pack or file by file, a split is the same image set.
#[test]
fn every_split_reads_the_same_from_its_pack_as_from_its_files() {
    for (dataset, size, counts) in [("textures", 64, [120, 36]), ("digits", 32, [1000, 200])] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(dataset);
        for (split, count) in ["train", "held-out"].into_iter().zip(counts) {
            let dir = root.join(split);
            let packed = multigrid_ebm::data::load_pack(&dir, size).unwrap().expect("a pack for every split");
            let (files, skipped) = multigrid_ebm::data::load_folder(&dir, size).unwrap();
            assert!(skipped.is_empty());
            assert_eq!(packed.len(), count, "{dataset}/{split}");
            assert_eq!(packed.names, files.names, "{dataset}/{split}: names and order");
            assert!(packed.pixels == files.pixels, "{dataset}/{split}: the pack's pixels differ from the files'");
        }
    }
}
