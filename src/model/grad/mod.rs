//! Forward and backward passes of the autoencoder's losses at any depth, into
//! preallocated buffers: layer-wise phase k (encoder layer k and its mirror on h(k-1))
//! and the full stack (fine-tuning and end-to-end).
//!
//! A step runs in three parallel parts, each cut into as many blocks as rayon has
//! threads (`parallel`):
//! 1. the batch's rows, each block through everything that is row-local: the forward
//!    pass, the loss, and the backward pass down to every layer's delta;
//! 2. the weight gradients (`aᵀ · delta`) and bias gradients (column sums of delta),
//!    which need all rows, in blocks of columns;
//! 3. (in `Adam`) the update, in blocks of parameters.
//!
//! How the work is cut depends on the thread count; the results do not: a step gives
//! the same bits on 1 thread or 16.
//!
//! Buffers are named by the full stack's activations: `act[0]` is the input, `act[j+1]`
//! dense layer j's output, `act[2K]` the reconstruction. Layer-wise phase k reads
//! h(k-1) from `act[k-1]`, writes its code to `act[k]` and its reconstruction of h(k-1)
//! to `act[2K-k+1]`, where the full stack keeps the same level of the decoder.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::flat::{flat, flat_mut, vec_of};
use super::inference::dense;
use super::kernels::{bce_grad, biased_mse, biased_mse_grad, mse, mse_grad};
use super::linalg::{matmul, matmul_serial};
use super::parallel::{
    WeightGradient, above, below, for_row_blocks, level_views, row_block, weight_gradients,
};
use super::sparsity::Sparsity;
use super::{Arch, LayerSet, MAX_STAGES, Noise, Params, Phase};

pub use super::parallel::FillRows;

/// Activations of the deepest stack: the input, 2K layer outputs.
const LEVELS: usize = 2 * MAX_STAGES + 1;

/// What layer-wise phase k gets for a batch.
#[derive(Clone, Copy)]
pub enum StageInput<'a> {
    /// h(k-1) itself (the pixels for phase 1; the cache for k >= 2).
    Level(FillRows<'a>),
    /// Pixels, from which h(k-1) is recomputed through the frozen encoder layers.
    Pixels(FillRows<'a>),
}

/// Every intermediate of a training step, sized once for a batch size.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: usize,
    depth: usize,
    /// The full stack's activations, `act[0]` (the batch's pixels) to `act[2K]`.
    pub act: Vec<Array2<f32>>,
    /// `d[j]`: the loss's gradient at `act[j]` (`d[0]` is never used).
    d: Vec<Array2<f32>>,
    /// Each row's squared error, added in order for the loss.
    row_loss: Vec<f64>,
    /// Data gradients (without L2) of the last backward pass; the tensors the phase
    /// does not train hold stale values.
    pub grads: Params,
    /// How the next layer-wise forward pass corrupts its input, and the key its noise
    /// is drawn from (a denoising phase sets it before every batch).
    pub noise: Option<(Noise, u64)>,
    /// The corrupted h(k-1) of the last layer-wise forward pass with noise, `batch`
    /// rows of `noisy_width`: the encoder layer's input (the clean one is the target).
    noisy: Vec<f32>,
    noisy_width: usize,
    /// The penalty a layer-wise phase puts on its code (a sparse autoencoder's).
    pub sparsity: Sparsity,
    /// The code units' batch means, for the sparsity penalty's gradient.
    means: Vec<f32>,
}

impl Workspace {
    pub fn new(arch: Arch, batch: usize) -> Self {
        let levels = (0..=arch.layers()).map(|j| Array2::zeros((batch, arch.activation(j))));
        let act: Vec<_> = levels.collect();
        Self {
            batch,
            depth: arch.depth(),
            d: act.clone(),
            act,
            row_loss: vec![0.0; batch],
            grads: Params::zeros(arch),
            noise: None,
            noisy: vec![0.0; batch * (0..arch.depth()).map(|l| arch.level(l)).max().unwrap_or(0)],
            noisy_width: 0,
            sparsity: Sparsity::None,
            means: vec![0.0; (1..=arch.depth()).map(|l| arch.level(l)).max().unwrap_or(0)],
        }
    }

    /// The last noisy forward pass's corrupted input (no columns without noise).
    pub fn noisy(&self) -> ArrayView2<'_, f32> {
        let n = self.batch * self.noisy_width;
        ArrayView2::from_shape((self.batch, self.noisy_width), &self.noisy[..n])
            .expect("sized for the widest level")
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The batch's pixels.
    pub fn x(&mut self) -> &mut Array2<f32> {
        &mut self.act[0]
    }

    /// All of the batch's row-local buffers, as one block; levels the stack does not
    /// have are empty, and so is the noisy input unless `noisy_width` is set.
    fn rows(&mut self) -> Rows<'_> {
        let batch = self.batch;
        let n = batch * self.noisy_width;
        Rows {
            start: 0,
            act: level_views(&mut self.act, batch),
            d: level_views(&mut self.d, batch),
            noisy: ArrayViewMut2::from_shape((batch, self.noisy_width), &mut self.noisy[..n])
                .expect("sized for the widest level"),
            loss: &mut self.row_loss,
        }
    }

    /// The mean of the rows' squared errors over `width` columns.
    fn mean_loss(&self, width: usize) -> f32 {
        let sum: f64 = self.row_loss.iter().sum();
        (sum / (self.batch * width) as f64) as f32
    }
}

/// A `FillRows` that copies from a matrix holding the whole batch (tests, tools).
pub fn rows_of(m: &Array2<f32>) -> impl Fn(usize, &mut [f32]) + Sync + '_ {
    move |start, out: &mut [f32]| {
        let all = m.as_slice().expect("row-major contiguous");
        let w = m.ncols();
        out.copy_from_slice(&all[start * w..start * w + out.len()]);
    }
}

/// A block of consecutive rows of the batch: the same rows of every buffer.
struct Rows<'a> {
    /// Index of the block's first row in the batch.
    start: usize,
    act: [ArrayViewMut2<'a, f32>; LEVELS],
    d: [ArrayViewMut2<'a, f32>; LEVELS],
    noisy: ArrayViewMut2<'a, f32>,
    loss: &'a mut [f64],
}

row_block!(Rows, len: loss, [act, d, noisy, loss]);

impl Rows<'_> {
    /// `act[to] = f(act[from] · W + b)` for dense layer `layer`.
    fn dense(&mut self, p: &Params, layer: usize, from: usize, to: usize) {
        let (a, c) = below(&mut self.act, from, to);
        let f = p.act.layer(layer, p.layers());
        dense(a.view(), &p.w[layer], &p.b[layer], f, c.view_mut());
    }

    /// `d[to] = f'(act[to]) ⊙ (d[from] · Wᵀ)` for dense layer `layer` (`to < from`),
    /// where `act[to]` is the output of dense layer `below`.
    fn back(&mut self, p: &Params, layer: usize, from: usize, to: usize, below: usize) {
        self.back_penalised(p, layer, from, to, below, None);
    }

    /// `back`, with a sparsity penalty's gradient at `act[to]` (of a batch whose units'
    /// means are given) added before the activation's derivative.
    fn back_penalised(
        &mut self,
        p: &Params,
        layer: usize,
        from: usize,
        to: usize,
        below: usize,
        penalty: Option<(Sparsity, &[f32], usize)>,
    ) {
        let (dt, df) = above(&mut self.d, to, from);
        matmul_serial(dt.view_mut(), df.view(), p.w[layer].t(), false);
        if let Some((s, means, batch)) = penalty {
            for (d, a) in dt.rows_mut().into_iter().zip(self.act[to].rows()) {
                if let (Some(d), Some(a)) = (d.into_slice(), a.to_slice()) {
                    s.add_gradient(means, batch, a, d);
                }
            }
        }
        let f = p.act.layer(below, p.layers());
        f.backward(flat_mut(dt.view_mut()), flat(self.act[to].view()));
    }
}

/// Phase `k` (layer-wise, 1-based) of `p`'s stack: returns `mean((output - h(k-1))^2)`
/// and leaves the gradients of its four tensors in `ws.grads`. h(k-1) is the target and
/// the input, never differentiated.
pub fn stage_gradients(p: &Params, k: usize, input: StageInput<'_>, ws: &mut Workspace) -> f32 {
    let loss = stage_forward(p, k, input, ws);
    stage_backward(k, ws);
    loss
}

/// Fills the batch, returns phase `k`'s loss, and does everything of the backward pass
/// that is local to a row (both layers' deltas). `ws.grads` is not touched.
pub fn stage_forward(p: &Params, k: usize, input: StageInput<'_>, ws: &mut Workspace) -> f32 {
    let width = p.arch().level(k - 1);
    let scale = 2.0 / (ws.batch * width) as f32;
    let threads = rayon::current_num_threads();
    let noise = ws.noise.filter(|(n, _)| !n.is_none());
    ws.noisy_width = if noise.is_some() { width } else { 0 };
    if ws.sparsity.is_none() {
        for_row_blocks(ws.rows(), threads, &|mut r| {
            stage_encode(p, k, input, noise, &mut r);
            stage_decode(p, k, None, r, scale);
        });
    } else {
        // The penalty's gradient needs every row's code first: two passes.
        for_row_blocks(ws.rows(), threads, &|mut r| {
            stage_encode(p, k, input, noise, &mut r)
        });
        let (s, batch) = (ws.sparsity, ws.batch);
        // Taken out for the pass (no allocation), so that the rows can be borrowed.
        let mut means = std::mem::take(&mut ws.means);
        let code = &mut means[..p.arch().level(k)];
        Sparsity::means(ws.act[k].view(), code);
        let code: &[f32] = code;
        for_row_blocks(ws.rows(), threads, &|r| {
            stage_decode(p, k, Some((s, code, batch)), r, scale)
        });
        ws.means = means;
    }
    ws.mean_loss(width)
}

/// Phase `k`'s forward pass of a block of rows up to its code: h(k-1) (filled, or
/// recomputed from the pixels), corrupted when denoising, through encoder layer k.
fn stage_encode(
    p: &Params,
    k: usize,
    input: StageInput<'_>,
    noise: Option<(Noise, u64)>,
    r: &mut Rows<'_>,
) {
    let a = k - 1;
    match input {
        StageInput::Level(fill) => fill(r.start, flat_mut(r.act[a].view_mut())),
        StageInput::Pixels(fill) => {
            fill(r.start, flat_mut(r.act[0].view_mut()));
            for j in 0..a {
                r.dense(p, j, j, j + 1);
            }
        }
    }
    match noise {
        None => r.dense(p, a, a, k),
        Some((noise, key)) => {
            let rows = r.act[a].rows().into_iter().zip(r.noisy.rows_mut());
            for (i, (clean, out)) in rows.enumerate() {
                if let (Some(clean), Some(out)) = (clean.to_slice(), out.into_slice()) {
                    noise.corrupt(key, r.start + i, clean, out);
                }
            }
            let f = p.act.layer(a, p.layers());
            dense(r.noisy.view(), &p.w[a], &p.b[a], f, r.act[k].view_mut());
        }
    }
}

/// The rest of phase `k`'s row-local work: the decoder layer, the loss, and both
/// layers' deltas (with the sparsity penalty's gradient at the code, if any).
fn stage_decode(
    p: &Params,
    k: usize,
    penalty: Option<(Sparsity, &[f32], usize)>,
    mut r: Rows<'_>,
    scale: f32,
) {
    let depth = p.layers() / 2;
    let (a, enc, dec) = (k - 1, k - 1, 2 * depth - k);
    let o = dec + 1;
    let width = r.act[a].ncols();
    if p.act.sigmoid_output {
        // A sigmoid output under binary cross-entropy: the delta at its pre-activation
        // is `y - t` (mean over the values, no factor 2).
        r.dense(p, dec, k, o);
        bce_grad(
            flat(r.act[o].view()),
            flat(r.act[a].view()),
            flat_mut(r.d[o].view_mut()),
            scale / 2.0,
            width,
            r.loss,
        );
    } else if k == 1 {
        // The output layer is linear; its bias is added inside the loss pass.
        let (h, out) = below(&mut r.act, k, o);
        matmul_serial(out.view_mut(), h.view(), p.w[dec].view(), false);
        biased_mse_grad(
            flat(r.act[o].view()),
            vec_of(&p.b[dec]),
            flat(r.act[a].view()),
            flat_mut(r.d[o].view_mut()),
            scale,
            r.loss,
        );
    } else {
        r.dense(p, dec, k, o);
        mse_grad(
            flat(r.act[o].view()),
            flat(r.act[a].view()),
            flat_mut(r.d[o].view_mut()),
            scale,
            width,
            r.loss,
        );
        let f = p.act.layer(dec, p.layers());
        f.backward(flat_mut(r.d[o].view_mut()), flat(r.act[o].view()));
    }
    r.back_penalised(p, dec, o, k, enc, penalty);
}

/// The rest of phase `k`'s backward pass, after `stage_forward`: the weight and bias
/// gradients of its two layers. (The decoder layer's input is the code, `act[k]`; the
/// encoder layer's is the corrupted h(k-1) when the forward pass had noise.)
pub fn stage_backward(k: usize, ws: &mut Workspace) {
    let depth = ws.depth;
    let layers = Phase::Layer(k as u8).layers(depth);
    let noisy = (ws.noisy_width > 0).then_some(k - 1);
    gradients(ws, layers, &|j| if j < depth { j } else { k }, noisy);
    tie_gradients(&mut ws.grads, layers);
}

/// Phase `k`'s reconstruction loss of the batch whose h(k-1) is in `ws.act[k-1]` (the
/// seed's per-epoch "Train MSE" is this, on the epoch's last batch, after its update).
pub fn stage_loss(p: &Params, k: usize, ws: &mut Workspace) -> f32 {
    let depth = ws.depth;
    let (a, enc, dec) = (k - 1, k - 1, 2 * depth - k);
    let o = dec + 1;
    let act = &mut ws.act;
    {
        let (h, c) = below(act, a, k);
        matmul(c.view_mut(), h.view(), p.w[enc].view(), false);
        let f = p.act.layer(enc, p.layers());
        f.bias_apply(flat_mut(c.view_mut()), vec_of(&p.b[enc]));
    }
    {
        let (h, out) = below(act, k, o);
        matmul(out.view_mut(), h.view(), p.w[dec].view(), false);
    }
    let sum = if k == 1 && !p.act.sigmoid_output {
        biased_mse(flat(act[o].view()), vec_of(&p.b[dec]), flat(act[a].view()))
    } else {
        let f = p.act.layer(dec, p.layers());
        f.bias_apply(flat_mut(act[o].view_mut()), vec_of(&p.b[dec]));
        mse(flat(act[o].view()), flat(act[a].view()))
    };
    (sum / act[a].len() as f64) as f32
}

/// Returns `mean((output - x)^2)` of the full stack and leaves the gradients of all
/// its tensors in `ws.grads`.
pub fn stack_gradients(p: &Params, x: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let loss = stack_forward(p, x, ws);
    stack_backward(ws);
    loss
}

/// Fills the batch, returns the full stack's loss, and runs the backward pass down to
/// hidden1's delta, row block by row block. `ws.grads` is not touched.
pub fn stack_forward(p: &Params, fill: FillRows<'_>, ws: &mut Workspace) -> f32 {
    let inputs = p.arch().inputs;
    let scale = 2.0 / (ws.batch * inputs) as f32;
    let threads = rayon::current_num_threads();
    for_row_blocks(ws.rows(), threads, &|r| stack_rows(p, fill, r, scale));
    ws.mean_loss(inputs)
}

fn stack_rows(p: &Params, fill: FillRows<'_>, mut r: Rows<'_>, scale: f32) {
    let last = p.layers() - 1;
    fill(r.start, flat_mut(r.act[0].view_mut()));
    for j in 0..last {
        r.dense(p, j, j, j + 1);
    }
    if p.act.sigmoid_output {
        r.dense(p, last, last, last + 1);
        let width = r.act[0].ncols();
        bce_grad(
            flat(r.act[last + 1].view()),
            flat(r.act[0].view()),
            flat_mut(r.d[last + 1].view_mut()),
            scale / 2.0,
            width,
            r.loss,
        );
    } else {
        let (h, out) = below(&mut r.act, last, last + 1);
        matmul_serial(out.view_mut(), h.view(), p.w[last].view(), false);
        biased_mse_grad(
            flat(r.act[last + 1].view()),
            vec_of(&p.b[last]),
            flat(r.act[0].view()),
            flat_mut(r.d[last + 1].view_mut()),
            scale,
            r.loss,
        );
    }
    for j in (1..=last).rev() {
        r.back(p, j, j + 1, j, j - 1);
    }
}

/// Every weight gradient, after `stack_forward`. With two threads the outer half of the
/// layers and the inner half run side by side: about equal work.
pub fn stack_backward(ws: &mut Workspace) {
    let layers = LayerSet::all(2 * ws.depth);
    gradients(ws, layers, &|j| j, None);
    tie_gradients(&mut ws.grads, layers);
}

/// With tied weights, the shared matrix's gradient is the sum of both uses' (the
/// decoder's transposed); each copy gets all of it, so that Adam, element by element,
/// keeps the two exactly each other's transpose. (Addition commutes in IEEE arithmetic,
/// so both copies hold the same bits.)
fn tie_gradients(g: &mut Params, layers: LayerSet) {
    let arch = g.arch();
    for j in layers.iter() {
        let Some(e) = arch.tied_to(j).filter(|&e| layers.contains(e)) else {
            continue;
        };
        let (enc, dec) = g.w.split_at_mut(j);
        let (ge, gd) = (&mut enc[e], &mut dec[0]);
        for ((a, b), x) in ge.indexed_iter_mut() {
            let y = &mut gd[[b, a]];
            let sum = *x + *y;
            *x = sum;
            *y = sum;
        }
    }
}

/// `gw = input · d`, `gb = column sums of d` for each layer in `layers`, where layer j's
/// input is `act[input(j)]` (the noisy input for layer `noisy`) and its delta
/// `d[j + 1]`; the output layer first.
fn gradients(
    ws: &mut Workspace,
    layers: LayerSet,
    input: &dyn Fn(usize) -> usize,
    noisy: Option<usize>,
) {
    let mut items: [WeightGradient<'_>; 2 * MAX_STAGES] =
        std::array::from_fn(|_| WeightGradient::empty());
    let mut n = 0;
    let n_noisy = ws.batch * ws.noisy_width;
    let corrupted = ArrayView2::from_shape((ws.batch, ws.noisy_width), &ws.noisy[..n_noisy])
        .expect("sized for the widest level");
    let g = &mut ws.grads;
    for (j, (gw, gb)) in g.w.iter_mut().zip(g.b.iter_mut()).enumerate().rev() {
        if layers.contains(j) {
            let a = match noisy == Some(j) {
                true => corrupted,
                false => ws.act[input(j)].view(),
            };
            items[n] = WeightGradient::new(gw, gb, a, ws.d[j + 1].view());
            n += 1;
        }
    }
    weight_gradients(&mut items[..n]);
}

/// The full stack's reconstruction loss of the batch in `ws.act[0]` (the per-epoch
/// "Train MSE" of fine-tuning and end-to-end), by the same kernels as the test MSE.
pub fn stack_loss(p: &Params, ws: &mut Workspace) -> f32 {
    let last = p.layers() - 1;
    let act = &mut ws.act;
    for j in 0..=last {
        let (h, c) = below(act, j, j + 1);
        matmul(c.view_mut(), h.view(), p.w[j].view(), false);
        if j < last || p.act.sigmoid_output {
            let f = p.act.layer(j, p.layers());
            f.bias_apply(flat_mut(c.view_mut()), vec_of(&p.b[j]));
        }
    }
    let sum = match p.act.sigmoid_output {
        true => mse(flat(act[last + 1].view()), flat(act[0].view())),
        false => biased_mse(
            flat(act[last + 1].view()),
            vec_of(&p.b[last]),
            flat(act[0].view()),
        ),
    };
    (sum / act[0].len() as f64) as f32
}

/// The loss of `phase` on the batch the last forward pass filled (see `stage_loss`).
pub fn phase_loss(p: &Params, phase: Phase, ws: &mut Workspace) -> f32 {
    match phase {
        Phase::Layer(k) => stage_loss(p, k as usize, ws),
        Phase::FineTune | Phase::EndToEnd => stack_loss(p, ws),
    }
}

/// The rest of `phase`'s backward pass (see `stage_backward`, `stack_backward`).
pub fn phase_backward(phase: Phase, ws: &mut Workspace) {
    match phase {
        Phase::Layer(k) => stage_backward(k as usize, ws),
        Phase::FineTune | Phase::EndToEnd => stack_backward(ws),
    }
}

/// `l2 * sum(w^2) / 2` over the weights a phase trains (TF's `l2_regularizer`); a
/// tied matrix counts once.
pub fn l2_penalty(p: &Params, phase: Phase, l2: f32) -> f64 {
    let arch = p.arch();
    phase
        .layers(p.layers() / 2)
        .iter()
        .filter(|&j| arch.tied_to(j).is_none())
        .map(|j| p.w[j].iter().map(|&w| (w as f64) * (w as f64)).sum::<f64>())
        .sum::<f64>()
        * l2 as f64
        / 2.0
}

#[cfg(test)]
mod tests;
