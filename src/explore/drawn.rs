//! A drawn digit through both autoencoders, and its nearest test images in each
//! layer (for the Draw view, and to place it on a map).

use ndarray::ArrayView2;

use super::maps::{Layer, TestSet};
use super::protocol::Drawn;
use super::worker::NEIGHBOURS;
use crate::model::Params;
use crate::space::{self, Encoded};

/// A drawing through both autoencoders, with its nearest test images in each layer.
pub fn run(
    p: &Params,
    test: &TestSet,
    enc: &Encoded,
    input: &[f32],
) -> Result<Drawn, space::WidthError> {
    let x = ArrayView2::from_shape((1, input.len()), input).map_err(|_| space::WidthError {
        what: "drawing",
        expected: crate::data::PIXELS,
        got: input.len(),
    })?;
    let e = space::encode(p, x)?;
    let outer = space::decode_hidden1(p, e.hidden1().view())?;
    let full = space::decode_codes(p, e.code().view())?;
    let depth = p.depth();
    let levels: Vec<Vec<f32>> = (1..=depth).map(|k| e.level(k).row(0).to_vec()).collect();
    let mut neighbours: [Vec<space::Neighbour>; Layer::COUNT] = Default::default();
    for layer in Layer::offered(depth) {
        let q = match layer.level(depth) {
            0 => x.row(0),
            k => e.level(k).row(0),
        };
        neighbours[layer.index()] = space::nearest(test.layer(enc, layer), q, NEIGHBOURS)?;
    }
    Ok(Drawn {
        input: input.to_vec(),
        levels,
        outer: outer.row(0).to_vec(),
        full: full.row(0).to_vec(),
        neighbours,
    })
}
