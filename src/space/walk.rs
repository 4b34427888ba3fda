//! The encoder, the two decoders, and walks between two images.
//!
//! Two decoders read the stack: the full one from a code (`hidden3 = elu(code · W3 +
//! b3)`, `out = hidden3 · W4 + b4`) and phase 1's from hidden1 (`out = hidden1 · W4 +
//! b4`, the middle bypassed). A walk decodes the straight line between two images'
//! representations; comparing the code walk, the hidden1 walk and a plain pixel
//! crossfade shows what each space has learned about digits.
//!
//! Batches are cut into blocks of rows run in parallel, each through the same serial
//! products that [`Inference::run`] makes: a decoded row has the same bits as the
//! reconstruction of the image it came from, whatever the thread count.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2, Zip, s};
use rayon::prelude::*;

use super::WidthError;
use crate::model::inference::{decode_scratch, decode_serial};
use crate::model::{Inference, Params};

/// Rows per parallel block: the GEMM runs near its peak, and a 10-row walk is one block.
const BLOCK: usize = 512;

/// Every level of the encoder of a batch of images, hidden1 to the code.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// `levels[k - 1]`: n x (width of hidden k), k = 1..=K.
    levels: Vec<Array2<f32>>,
}

impl Encoded {
    /// n x hidden1.
    pub fn hidden1(&self) -> &Array2<f32> {
        self.level(1)
    }

    /// n x the code's width: the innermost level.
    pub fn code(&self) -> &Array2<f32> {
        self.level(self.levels.len())
    }

    /// h(`k`), k clamped to 1..=K.
    pub fn level(&self, k: usize) -> &Array2<f32> {
        &self.levels[k.clamp(1, self.levels.len()) - 1]
    }
}

/// The three walks between two images, each `steps` images (rows of pixels), the two
/// images' own reconstructions (or the images themselves) at the ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Walks {
    /// Along the straight line between the two codes, through the full stack.
    pub code: Array2<f32>,
    /// Along the straight line between the two hidden1 vectors, through phase 1's
    /// decoder.
    pub hidden1: Array2<f32>,
    /// A plain crossfade of the pixels.
    pub pixels: Array2<f32>,
}

/// Encodes a batch of images (n x inputs, values in [0, 1]) to every level.
pub fn encode(p: &Params, x: ArrayView2<f32>) -> Result<Encoded, WidthError> {
    let arch = p.arch();
    WidthError::check("images", arch.inputs, x.ncols())?;
    let n = x.nrows();
    let mut levels: Vec<Array2<f32>> = (1..=arch.depth())
        .map(|k| Array2::zeros((n, arch.level(k))))
        .collect();
    // Block b of every level together: one encoding fills them all.
    let mut blocks: Vec<Vec<ArrayViewMut2<f32>>> = Vec::new();
    for level in &mut levels {
        for (b, rows) in row_blocks(level.view_mut()).into_iter().enumerate() {
            match blocks.get_mut(b) {
                Some(block) => block.push(rows),
                None => blocks.push(vec![rows]),
            }
        }
    }
    blocks.into_par_iter().enumerate().for_each_init(
        || Inference::new(arch, BLOCK),
        |inf, (b, mut block)| {
            let rows = block.first().map_or(0, |v| v.nrows());
            inf.encode(p, x.slice(s![b * BLOCK..b * BLOCK + rows, ..]));
            for (k, out) in (1..).zip(&mut block) {
                out.assign(&inf.level(k).slice(s![..rows, ..]));
            }
        },
    );
    Ok(Encoded { levels })
}

/// Decodes codes (n x code width) through the full stack's decoder: n x inputs.
pub fn decode_codes(p: &Params, codes: ArrayView2<f32>) -> Result<Array2<f32>, WidthError> {
    let arch = p.arch();
    WidthError::check("codes", arch.code(), codes.ncols())?;
    Ok(decode_level(p, arch.depth(), codes))
}

/// Decodes hidden1 vectors (n x hidden1) through phase 1's decoder: n x inputs.
pub fn decode_hidden1(p: &Params, hidden1: ArrayView2<f32>) -> Result<Array2<f32>, WidthError> {
    let arch = p.arch();
    WidthError::check("hidden1", arch.hidden1(), hidden1.ncols())?;
    Ok(decode_level(p, 1, hidden1))
}

/// Rows of h(`level`) through the mirror decoder layers, in parallel blocks.
fn decode_level(p: &Params, level: usize, rows: ArrayView2<f32>) -> Array2<f32> {
    let arch = p.arch();
    let mut out = Array2::zeros((rows.nrows(), arch.inputs));
    let blocks = row_blocks(out.view_mut());
    blocks.into_par_iter().enumerate().for_each_init(
        || decode_scratch(arch, BLOCK),
        |scratch, (b, out)| {
            let n = out.nrows();
            let src = rows.slice(s![b * BLOCK..b * BLOCK + n, ..]);
            decode_serial(p, level, src, out, scratch);
        },
    );
    out
}

/// `steps` evenly spaced points from `a` to `b` (rows), both ends included and exact:
/// row i is `(1 - t) a + t b` with `t = i / (steps - 1)`. One step is `a` alone.
pub fn walk(
    a: ArrayView1<f32>,
    b: ArrayView1<f32>,
    steps: usize,
) -> Result<Array2<f32>, WidthError> {
    WidthError::check("walk end", a.len(), b.len())?;
    let last = steps.saturating_sub(1).max(1) as f32;
    let mut out = Array2::zeros((steps, a.len()));
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        let t = i as f32 / last;
        Zip::from(&mut row)
            .and(a)
            .and(b)
            .for_each(|o, &a, &b| *o = (1.0 - t) * a + t * b);
    }
    Ok(out)
}

/// The three walks from image `a` to image `b` (pixels in [0, 1]), `steps` images
/// each. The code walk ends at the two images' full-stack reconstructions, the hidden1
/// walk at their phase-1 reconstructions, the crossfade at the images themselves.
pub fn walks(
    p: &Params,
    a: ArrayView1<f32>,
    b: ArrayView1<f32>,
    steps: usize,
) -> Result<Walks, WidthError> {
    let inputs = p.arch().inputs;
    WidthError::check("first image", inputs, a.len())?;
    WidthError::check("second image", inputs, b.len())?;
    let mut pair = Array2::zeros((2, inputs));
    pair.row_mut(0).assign(&a);
    pair.row_mut(1).assign(&b);
    let ends = encode(p, pair.view())?;
    let codes = walk(ends.code().row(0), ends.code().row(1), steps)?;
    let hidden1 = walk(ends.hidden1().row(0), ends.hidden1().row(1), steps)?;
    Ok(Walks {
        code: decode_codes(p, codes.view())?,
        hidden1: decode_hidden1(p, hidden1.view())?,
        pixels: walk(a, b, steps)?,
    })
}

/// Views of consecutive blocks of `BLOCK` rows (the last one shorter).
fn row_blocks(mut a: ArrayViewMut2<'_, f32>) -> Vec<ArrayViewMut2<'_, f32>> {
    let mut blocks = Vec::with_capacity(a.nrows().div_ceil(BLOCK));
    while a.nrows() > BLOCK {
        let (head, tail) = a.split_at(ndarray::Axis(0), BLOCK);
        blocks.push(head);
        a = tail;
    }
    if a.nrows() > 0 {
        blocks.push(a);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Arch;

    const SMALL: Arch = Arch::two(20, 9, 5);

    fn params(arch: Arch) -> Params {
        let mut p = Params::he_init(arch, 11);
        for (k, b) in p.b.iter_mut().enumerate() {
            b.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = 0.2 * ((i * 3 + k) as f32).cos());
        }
        p
    }

    fn images(n: usize, width: usize) -> Array2<f32> {
        Array2::from_shape_fn((n, width), |(i, j)| {
            let h = (i as u32 * 7919 + j as u32 * 104_729).wrapping_mul(2_654_435_761);
            (h >> 8) as f32 / 16_777_216.0
        })
    }

    #[test]
    fn walk_ends_decode_to_the_reconstructions_of_the_two_images() {
        let p = params(SMALL);
        let x = images(2, SMALL.inputs);
        let mut inf = Inference::new(SMALL, 2);
        inf.run(&p, x.view(), true);
        let w = walks(&p, x.row(0), x.row(1), 10).unwrap();
        for m in [&w.code, &w.hidden1, &w.pixels] {
            assert_eq!(m.dim(), (10, SMALL.inputs));
        }
        assert_eq!(w.code.row(0), inf.out().row(0));
        assert_eq!(w.code.row(9), inf.out().row(1));
        assert_eq!(w.hidden1.row(0), inf.outer().row(0));
        assert_eq!(w.hidden1.row(9), inf.outer().row(1));
        assert_eq!(w.pixels.row(0), x.row(0));
        assert_eq!(w.pixels.row(9), x.row(1));
        // The middle of the code walk is not a crossfade of its ends.
        let mid = (&w.code.row(4) + &w.code.row(5)) / 2.0;
        let fade = (&w.code.row(0) + &w.code.row(9)) / 2.0;
        assert!((&mid - &fade).iter().any(|d| d.abs() > 1e-3));
    }

    #[test]
    fn the_middle_of_a_crossfade_is_the_average() {
        let x = images(2, 30);
        let w = walk(x.row(0), x.row(1), 3).unwrap();
        for ((&m, &a), &b) in w.row(1).iter().zip(x.row(0)).zip(x.row(1)) {
            assert!(
                (m - (a + b) / 2.0).abs() <= 1e-7,
                "{m} vs {}",
                (a + b) / 2.0
            );
        }
        let ten = walk(x.row(0), x.row(1), 10).unwrap();
        let step = &ten.row(1) - &ten.row(0);
        let want = (&x.row(1) - &x.row(0)) / 9.0;
        assert!((&step - &want).iter().all(|d| d.abs() < 1e-6));
        assert_eq!(walk(x.row(0), x.row(1), 1).unwrap().row(0), x.row(0));
        assert_eq!(walk(x.row(0), x.row(1), 0).unwrap().nrows(), 0);
    }

    #[test]
    fn batches_of_many_blocks_equal_inference_row_for_row() {
        // 1100 rows: two full blocks and a partial one, against Inference on 300 rows.
        let p = params(Arch::RECIPE);
        let x = images(1100, Arch::RECIPE.inputs);
        let enc = encode(&p, x.view()).unwrap();
        let full = decode_codes(&p, enc.code().view()).unwrap();
        let outer = decode_hidden1(&p, enc.hidden1().view()).unwrap();
        let mut inf = Inference::new(Arch::RECIPE, 300);
        let rows = s![800..1100, ..];
        inf.run(&p, x.slice(rows), true);
        assert_eq!(enc.hidden1().slice(rows), *inf.h1());
        assert_eq!(enc.code().slice(rows), *inf.code());
        assert_eq!(full.slice(rows), *inf.out());
        assert_eq!(outer.slice(rows), *inf.outer());
    }

    #[test]
    fn class_means_decode_row_for_row() {
        let p = params(SMALL);
        let means = images(10, SMALL.code());
        let all = decode_codes(&p, means.view()).unwrap();
        assert_eq!(all.dim(), (10, SMALL.inputs));
        let third = decode_codes(&p, means.slice(s![3..4, ..])).unwrap();
        assert_eq!(all.row(3), third.row(0));
    }

    #[test]
    fn inputs_of_the_wrong_width_are_refused() {
        let p = params(SMALL);
        let bad = images(2, 7);
        let err = decode_codes(&p, bad.view()).unwrap_err();
        assert_eq!((err.what, err.expected, err.got), ("codes", 5, 7));
        assert!(decode_hidden1(&p, bad.view()).is_err());
        assert!(encode(&p, bad.view()).is_err());
        assert!(walks(&p, bad.row(0), bad.row(1), 3).is_err());
        assert!(walk(bad.row(0), images(1, 3).row(0), 3).is_err());
    }
}
