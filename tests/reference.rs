//! Cross-check against the independent PyTorch reference (`../shared/reference/torch_multigrid.py`):
//! fixtures of random paper-architecture weights, inputs, energies and input gradients, made
//! once by `scripts/make-fixtures` and committed. Every grid must agree to 1e-4 relative error,
//! with and without batch normalisation.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use multigrid_ebm::checkpoint::{nets_from_host, tensor_name};
use multigrid_ebm::config::Config;
use multigrid_ebm::interop::{import_config, read_safetensors};
use multigrid_ebm::langevin::energy_and_gradient;

const TOLERANCE: f64 = 1e-4;

fn check(file: &str) {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run scripts/make-fixtures)"));
    let config = import_config(&bytes, Config::paper()).unwrap();
    let tensors = read_safetensors(&bytes).unwrap();
    let nets = nets_from_host(&config, &tensors, &cpu().autodiff(), file).unwrap();
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
}

#[test]
fn paper_nets_agree_with_pytorch_without_normalisation() {
    check("reference_none.safetensors");
}

#[test]
fn paper_nets_agree_with_pytorch_with_batch_norm() {
    check("reference_batch.safetensors");
}
