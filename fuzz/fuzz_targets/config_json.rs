//! Configuration JSON (`--config file.json`, the page's settings, the copy stored in every
//! checkpoint). Any input must give an error or a configuration that validates and survives a
//! round trip through JSON unchanged (a checkpoint that stores it must load again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use multigrid_ebm::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::from_json(text) else { return };
    config.validate().expect("from_json validates");
    let _ = config.parameter_count();
    let json = config.to_json();
    let again =
        Config::from_json(&json).unwrap_or_else(|e| panic!("{e}: a valid configuration's JSON does not load:\n{json}"));
    assert_eq!(again, config, "the configuration changed in a round trip through JSON:\n{json}");
});
