//! One image file of a data folder (`multigrid train --data DIR`, the page's file picker):
//! decoded under the crate's limits and prepared for the 16×16 grid. Any input must give
//! 3 × 16 × 16 pixels in [0, 255] or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = multigrid_ebm::data::checked_dimensions(data);
    if let Ok(pixels) = multigrid_ebm::data::decode(data, 16) {
        assert_eq!(pixels.len(), 3 * 16 * 16);
        assert!(pixels.iter().all(|p| (0.0..=255.0).contains(p)), "a pixel outside [0, 255]");
    }
});
