#![no_main]
//! The checkpoint loader on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ck) = layerwise::checkpoint::from_bytes(data, None) {
        assert!(ck.params.all_finite());
    }
});
