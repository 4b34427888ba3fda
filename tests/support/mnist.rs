//! The built-in MNIST, decoded once per test binary and shared by its tests.

use std::sync::{Arc, OnceLock};

use layerwise::data::Mnist;

pub fn data() -> Arc<Mnist> {
    static DATA: OnceLock<Arc<Mnist>> = OnceLock::new();
    DATA.get_or_init(|| Arc::new(Mnist::embedded().expect("built-in MNIST")))
        .clone()
}
