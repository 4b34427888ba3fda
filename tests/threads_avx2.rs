//! `threads.rs` on the AVX2 kernels (all a Zen 3 has), whatever this CPU has: the
//! split of the work must not change the bits on that path either.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

#[path = "support/threads.rs"]
mod support;

use layerwise::simd::{Isa, isa};

#[test]
fn the_avx2_path_trains_the_same_bits_on_any_number_of_threads() {
    // SAFETY: this binary's only test sets the variable before anything reads it.
    unsafe { std::env::set_var("LAYERWISE_ISA", "avx2") };
    assert!(isa() <= Isa::Avx2);
    support::same_bits_on_any_number_of_threads();
}
