//! Safetensors import (PyTorch layout): what `multigrid import` does with a file's bytes.
//! Any input must give a model or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multigrid_ebm::Config;
use multigrid_ebm::device::cpu;
use multigrid_ebm::interop::{import_safetensors, read_safetensors};

fn import(bytes: &[u8]) {
    let _ = read_safetensors(bytes);
    let _ = import_safetensors(bytes, Config::tiny(), 0, &cpu());
}

fuzz_target!(|data: &[u8]| {
    import(data);
    if let Some(resealed) = multigrid_ebm_fuzz::resealed(data) {
        import(&resealed);
    }
});
