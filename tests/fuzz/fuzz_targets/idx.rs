#![no_main]
//! The IDX reader on arbitrary bytes, as a raw file and as a `.gz` name.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in ["fuzz-idx", "fuzz-idx.gz"] {
        if let Err(e) = layerwise::data::idx::parse(name, data) {
            assert!(e.to_string().starts_with(name));
        }
    }
});
