//! Results do not depend on the number of threads: the same seed trains the same bits
//! on 1, 2, 3 or 8 of rayon's threads, in every phase, cached or not, and in every
//! classifier arm, and evaluates to the same test MSE and accuracy.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

#[path = "support/threads.rs"]
mod support;

#[test]
fn one_two_three_or_eight_threads_train_the_same_bits() {
    support::same_bits_on_any_number_of_threads();
}
