//! The whole stack on reconstruction: X -> hidden1 -> hidden2 -> hidden3 -> output,
//! every layer trained at once. Phase 3 fine-tunes the layer-wise stack this way;
//! end-to-end trains it so from the initialisation.

use super::{Rows, Workspace};
use crate::model::Params;
use crate::model::flat::{flat, flat_mut, vec_of};
use crate::model::inference::dense_elu;
use crate::model::kernels::{bias_elu, biased_mse, biased_mse_grad, elu_backward};
use crate::model::linalg::{matmul, matmul_serial};
use crate::model::parallel::{FillRows, WeightGradient, for_row_blocks, weight_gradients};

/// Returns `mean((output - x)^2)` of the full stack and leaves the gradients of all
/// eight tensors in `ws.grads`.
pub fn stack_gradients(p: &Params, x: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let loss = stack_forward(p, x, ws);
    stack_backward(ws);
    loss
}

/// Fills the batch, returns the loss, and runs the backward pass down to hidden1's
/// delta, row block by row block. `ws.grads` is not touched.
pub fn stack_forward(p: &Params, fill: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let scale = 2.0 / ws.x.len() as f32;
    let threads = rayon::current_num_threads();
    for_row_blocks(ws.rows(), threads, &|r| stack_rows(p, fill, r, scale));
    ws.mean_loss(p.arch().inputs)
}

fn stack_rows(p: &Params, fill: FillRows<'_>, mut r: Rows<'_>, scale: f32) {
    fill(r.start, flat_mut(r.x.view_mut()));
    dense_elu(r.x.view(), &p.w1, &p.b1, r.h1.view_mut());
    dense_elu(r.h1.view(), &p.w2, &p.b2, r.h2.view_mut());
    dense_elu(r.h2.view(), &p.w3, &p.b3, r.h3.view_mut());
    matmul_serial(r.out.view_mut(), r.h3.view(), p.w4.view(), false);
    biased_mse_grad(
        flat(r.out.view()),
        vec_of(&p.b4),
        flat(r.x.view()),
        flat_mut(r.d_out.view_mut()),
        scale,
        r.loss,
    );
    matmul_serial(r.d_h3.view_mut(), r.d_out.view(), p.w4.t(), false);
    elu_backward(flat_mut(r.d_h3.view_mut()), flat(r.h3.view()));
    matmul_serial(r.d_h2.view_mut(), r.d_h3.view(), p.w3.t(), false);
    elu_backward(flat_mut(r.d_h2.view_mut()), flat(r.h2.view()));
    matmul_serial(r.d_h1.view_mut(), r.d_h2.view(), p.w2.t(), false);
    elu_backward(flat_mut(r.d_h1.view_mut()), flat(r.h1.view()));
}

/// The four weight gradients, after `stack_forward`. With two threads the outer pair
/// (W4, W3) and the inner (W2, W1) run side by side: about equal work.
pub fn stack_backward(ws: &mut Workspace) {
    let g = &mut ws.grads;
    weight_gradients(&mut [
        WeightGradient::new(&mut g.w4, &mut g.b4, &ws.h3, &ws.d_out),
        WeightGradient::new(&mut g.w3, &mut g.b3, &ws.h2, &ws.d_h3),
        WeightGradient::new(&mut g.w2, &mut g.b2, &ws.h1, &ws.d_h2),
        WeightGradient::new(&mut g.w1, &mut g.b1, &ws.x, &ws.d_h1),
    ]);
}

/// The full stack's reconstruction loss of the batch in `ws.x` (the per-epoch "Train
/// MSE" of phase 3 and end-to-end), by the same kernels as the test MSE.
pub fn stack_loss(p: &Params, ws: &mut Workspace) -> f32 {
    let (x, h1, h2, h3) = (ws.x.view(), &mut ws.h1, &mut ws.h2, &mut ws.h3);
    matmul(h1.view_mut(), x, p.w1.view(), false);
    bias_elu(flat_mut(h1.view_mut()), vec_of(&p.b1));
    matmul(h2.view_mut(), h1.view(), p.w2.view(), false);
    bias_elu(flat_mut(h2.view_mut()), vec_of(&p.b2));
    matmul(h3.view_mut(), h2.view(), p.w3.view(), false);
    bias_elu(flat_mut(h3.view_mut()), vec_of(&p.b3));
    matmul(ws.out.view_mut(), ws.h3.view(), p.w4.view(), false);
    let sum = biased_mse(flat(ws.out.view()), vec_of(&p.b4), flat(ws.x.view()));
    (sum / ws.x.len() as f64) as f32
}
