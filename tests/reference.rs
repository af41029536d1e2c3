//! Cross-check against the project's PyTorch reference (`reference/torch_multigrid.py`): fixtures
//! of random weights, inputs, energies and input gradients, made by `scripts/make-fixtures`. Every
//! grid must agree to 1e-4 relative error, with and without batch normalisation.
//!
//! The committed fixtures (`tests/fixtures/reference_{none,batch}.safetensors`, under 1 MB each)
//! hold nets of the paper's shapes (grids 4, 16, 64; its layers, kernels and strides) with 1/8 of
//! its channels; the configuration travels in each file. The full paper nets (25 MB per file) are
//! checked by the ignored tests below, where torch is installed:
//!
//! ```sh
//! scripts/make-fixtures --paper /tmp/paper-fixtures
//! MULTIGRID_PAPER_FIXTURES=/tmp/paper-fixtures cargo test --release --test reference -- --include-ignored
//! ```
#![cfg(not(target_arch = "wasm32"))]

mod common;
use std::path::{Path, PathBuf};

use common::*;
use multigrid_ebm::checkpoint::{nets_from_host, tensor_name};
use multigrid_ebm::config::{Config, GridConfig};
use multigrid_ebm::interop::{import_config, read_safetensors};
use multigrid_ebm::langevin::energy_and_gradient;

const TOLERANCE: f64 = 1e-4;
const PAPER_FIXTURES: &str = "MULTIGRID_PAPER_FIXTURES";
const NO_PAPER_FIXTURES: &str = "the full paper nets' check needs MULTIGRID_PAPER_FIXTURES=DIR, a folder that \
                                 `scripts/make-fixtures --paper DIR` filled (needs torch)";

/// The layer pattern of a grid's net without its widths: (kernel, stride) per conv layer.
fn shape(grid: &GridConfig) -> (usize, Vec<(usize, usize)>) {
    (grid.size, grid.layers.iter().map(|l| (l.kernel, l.stride)).collect())
}

/// Checks every grid of one fixture file and returns its configuration.
fn check(path: &Path) -> Config {
    let file = path.display();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{file}: {e} (run scripts/make-fixtures)"));
    let config = import_config(&bytes, Config::paper()).unwrap();
    let tensors = read_safetensors(&bytes).unwrap();
    let nets = nets_from_host(&config, &tensors, &cpu().autodiff(), &file.to_string()).unwrap();
    for (grid, net) in config.grids.iter().zip(&nets) {
        let s = grid.size;
        let get =
            |name: &str| tensors.get(&tensor_name(s, name)).unwrap_or_else(|| panic!("{file}: no grid{s}.{name}"));
        let (shape, x) = get("x");
        let x = tensor4(x.clone(), [shape[0], shape[1], shape[2], shape[3]]);
        let (f, g) = energy_and_gradient(net, x);
        let (f, g) = (values(f), values(g));
        let (ef, eg) = (relative_error(&f, &get("energy").1), relative_error(&g, &get("grad").1));
        println!("{file} grid {s}: energy rel. error {ef:.2e}, gradient rel. error {eg:.2e}");
        assert!(
            ef <= TOLERANCE,
            "{file} grid {s}: energies differ from PyTorch by {ef:.2e}: {f:?} vs {:?}",
            get("energy").1
        );
        assert!(eg <= TOLERANCE, "{file} grid {s}: input gradients differ from PyTorch by {eg:.2e}");
    }
    config
}

/// A committed fixture: the paper's shapes, narrower, with the normalisation its name says.
fn check_committed(file: &str, norm: &str) {
    let config = check(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(file));
    let paper = Config::paper();
    assert_eq!(config.scales(), paper.scales(), "{file}: not the paper's grids");
    assert_eq!(
        config.grids.iter().map(shape).collect::<Vec<_>>(),
        paper.grids.iter().map(shape).collect::<Vec<_>>(),
        "{file}: not the paper's layers, kernels and strides"
    );
    assert_eq!(config.norm.name(), norm, "{file}: wrong normalisation");
}

/// A full-size fixture from `MULTIGRID_PAPER_FIXTURES`: exactly the paper's nets.
fn check_paper(file: &str, norm: &str) {
    let Some(dir) = std::env::var_os(PAPER_FIXTURES) else { panic!("{NO_PAPER_FIXTURES}") };
    let config = check(&PathBuf::from(dir).join(file));
    assert_eq!(config.grids, Config::paper().grids, "{file}: not the paper's nets");
    assert_eq!(config.norm.name(), norm, "{file}: wrong normalisation");
}

#[test]
fn paper_shaped_nets_agree_with_pytorch_without_normalisation() {
    check_committed("reference_none.safetensors", "none");
}

#[test]
fn paper_shaped_nets_agree_with_pytorch_with_batch_norm() {
    check_committed("reference_batch.safetensors", "batch");
}

#[test]
#[ignore = "SKIPPED full paper nets against PyTorch: set MULTIGRID_PAPER_FIXTURES=DIR (needs torch; scripts/make-fixtures --paper DIR)"]
fn full_paper_nets_agree_with_pytorch_without_normalisation() {
    check_paper("reference_none.safetensors", "none");
}

#[test]
#[ignore = "SKIPPED full paper nets against PyTorch: set MULTIGRID_PAPER_FIXTURES=DIR (needs torch; scripts/make-fixtures --paper DIR)"]
fn full_paper_nets_agree_with_pytorch_with_batch_norm() {
    check_paper("reference_batch.safetensors", "batch");
}
