//! Whole-set passes, parallel over blocks of images: the hidden1 cache and the test MSE.

use ndarray::{ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;

use crate::data::batch::convert_range;
use crate::data::{Images, PIXELS};
use crate::model::grad::hidden1_serial;
use crate::model::linalg::mse;
use crate::model::{Inference, Params};

/// Images per block: big enough for the GEMM to run near its peak, small enough that
/// two threads share the work evenly and the f32 copy of a block stays in cache.
const BLOCK: usize = 512;

/// hidden1 of every image, into `out` (`images.len()` x hidden1, row-major).
pub fn hidden1_all(p: &Params, images: &Images, out: &mut [f32]) {
    let h = p.arch().hidden1;
    assert_eq!(out.len(), images.len() * h);
    out.par_chunks_mut(BLOCK * h).enumerate().for_each_init(
        || vec![0f32; BLOCK * PIXELS],
        |x, (b, chunk)| {
            let rows = chunk.len() / h;
            let x = &mut x[..rows * PIXELS];
            convert_range(images, b * BLOCK, x);
            hidden1_serial(p, view(x, PIXELS), view_mut(chunk, h));
        },
    );
}

/// `mean((output - x)^2)` of the full stack over all of `images`, as the seed's
/// `Test MSE`.
pub fn reconstruction_mse(p: &Params, images: &Images) -> f64 {
    let arch = p.arch();
    let blocks = images.len().div_ceil(BLOCK);
    let sum: f64 = (0..blocks)
        .into_par_iter()
        .map_init(
            || (vec![0f32; BLOCK * PIXELS], Inference::new(arch, BLOCK)),
            |(x, inf), b| {
                let rows = BLOCK.min(images.len() - b * BLOCK);
                let x = &mut x[..rows * PIXELS];
                convert_range(images, b * BLOCK, x);
                let x = view(x, PIXELS);
                inf.run(p, x, false);
                mse(inf.out.slice(s![..rows, ..]), x) * (rows * PIXELS) as f64
            },
        )
        .sum();
    sum / (images.len() * PIXELS) as f64
}

fn view(x: &[f32], cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((x.len() / cols, cols), x).expect("block is whole rows")
}

fn view_mut(x: &mut [f32], cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((x.len() / cols, cols), x).expect("block is whole rows")
}
