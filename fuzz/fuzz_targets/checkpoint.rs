//! Checkpoint loading (`.bpk`, Burn's burnpack format): what `multigrid --weights`, `--resume` and
//! the page's "load weights" do with a file's bytes. Any input must give a model or an error,
//! and a model that loads must be one sampling can start from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use multigrid_ebm::checkpoint::{from_bytes, read_config};
use multigrid_ebm::device::cpu;

fn load(bytes: &[u8]) {
    let config = read_config(bytes);
    let loaded = from_bytes(bytes, &cpu());
    if let Ok(mut learner) = loaded {
        let stored = config.expect("a checkpoint that loads has a readable configuration");
        assert_eq!(stored, learner.config);
        // Where sampling starts (`multigrid sample`, the page's Sample button): the stored colours
        // of observed images, which must be usable as 1×1 RGB images.
        assert_eq!(learner.starting_colours(2).dims(), [2, 3, 1, 1]);
    }
}

fuzz_target!(|data: &[u8]| {
    load(data);
    if let Some(resealed) = multigrid_ebm_fuzz::resealed(data) {
        load(&resealed);
    }
});
