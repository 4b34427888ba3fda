"""The hinton2006 preset (784-1000-500-250-30-250-500-1000-784, ELU, trained one
autoencoder at a time, then fine-tuned as a whole) in PyTorch on CPU, with layerwise's
schedule, for `layerwise train --preset hinton2006` side by side. In the style of
../shared/bench/seed_torch.py, whose loader it uses.

Run:
    python3 benches/deep_torch.py [--seed 1] [--threads 2] [--cached]
        [--epochs 4] [--fine-tune-epochs 8]

  * init: trunc_normal_ with std sqrt(1.3*2/fan_in), cut at +-2 std; biases zero.
  * phase k (1..4) trains encoder layer k and its mirror decoder layer to reconstruct
    h(k-1) (the images for k = 1) through h(k), the layers below frozen (no_grad);
    the mirror has the ELU for k >= 2, the output layer is linear. --cached computes
    h(k-1) once for the training set, as layerwise's --cache does.
  * loss: mean((out-target)^2); L2 0 (the preset's).
  * optimizer: TF1 Adam semantics (lr_t = lr*sqrt(1-b2^t)/(1-b1^t), eps outside),
    lr 0.001, one step counter shared by the layer-wise phases (the seed's); the
    fine-tuning starts afresh: zero moments, counter at 0 (--fine-tune-fresh-adam).
  * batches: 150, the TF loader's next_batch (an epoch is 366 batches).
Ends with `RESULT_JSON {...}`: seconds per phase, train seconds, test MSE.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PEERS_DIR", os.path.join(here, "..", "..", "shared", "bench")))
import mnist_data  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--epochs", type=int, default=4, help="epochs per layer-wise phase")
p.add_argument("--fine-tune-epochs", type=int, default=8)
p.add_argument("--cached", action="store_true")
args = p.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
np.random.seed(args.seed)

WIDTHS = [784, 1000, 500, 250, 30]
K = len(WIDTHS) - 1
LR, BETA1, BETA2, EPS, BATCH = 0.001, 0.9, 0.999, 1e-8, 150


def he_init(fan_in, fan_out):
    std = math.sqrt(1.3 * 2.0 / fan_in)
    w = torch.empty(fan_in, fan_out, dtype=torch.float32)
    torch.nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)
    return w.requires_grad_()


# Dense layer j (0..2K-1): encoder j < K, decoder j >= K; layer 2K-1-j mirrors j.
shapes = [(WIDTHS[j], WIDTHS[j + 1]) for j in range(K)]
shapes += [(o, i) for (i, o) in reversed(shapes)]
W = [he_init(i, o) for (i, o) in shapes]
B = [torch.zeros(o, requires_grad=True) for (_, o) in shapes]
M = {id(t): torch.zeros_like(t) for t in W + B}
V = {id(t): torch.zeros_like(t) for t in W + B}
steps = [0]


@torch.no_grad()
def adam(params):
    steps[0] += 1
    t = steps[0]
    lr_t = LR * math.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)
    ws = [w for w in params]
    gs = [w.grad for w in ws]
    ms = [M[id(w)] for w in ws]
    vs = [V[id(w)] for w in ws]
    torch._foreach_mul_(ms, BETA1)
    torch._foreach_add_(ms, gs, alpha=1 - BETA1)
    torch._foreach_mul_(vs, BETA2)
    torch._foreach_addcmul_(vs, gs, gs, value=1 - BETA2)
    denom = torch._foreach_sqrt(vs)
    torch._foreach_add_(denom, EPS)
    torch._foreach_addcdiv_(ws, ms, denom, value=-lr_t)
    for w in ws:
        w.grad = None


def layer(j, x):
    y = torch.addmm(B[j], x, W[j])
    return y if j == 2 * K - 1 else Fn.elu(y)


@torch.no_grad()
def encode(x, level):
    for j in range(level):
        x = layer(j, x)
    return x


def stage_loss(k, h):
    """Autoencoder k on its input h = h(k-1)."""
    return torch.mean(torch.square(layer(2 * K - k, layer(k - 1, h)) - h))


def stack_loss(x):
    y = x
    for j in range(2 * K):
        y = layer(j, y)
    return torch.mean(torch.square(y - x))


mnist = mnist_data.read_data_sets()
train_X = torch.from_numpy(mnist.train.images)
test_X = torch.from_numpy(mnist.test.images)
n_batches = mnist.train.num_examples // BATCH
res = {"peer": "torch", "schedule": "hinton2006", "seed": args.seed, "cached": args.cached,
       "torch_version": torch.__version__, "python": platform.python_version(),
       "torch_threads": torch.get_num_threads(),
       "cpu_capability": torch.backends.cpu.get_cpu_capability(), "phases": []}


def run_phase(name, epochs, params, batch_loss):
    print("Training {}".format(name))
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for _ in range(n_batches):
            loss = batch_loss()
            loss.backward()
            adam(params)
        print("\r{}".format(epoch), "Train MSE:", loss.item())
    elapsed = time.perf_counter() - t0
    print("  [{} time: {:.3f} s]".format(name, elapsed))
    res["phases"].append({"phase": name, "seconds": elapsed})
    return elapsed


train_s = 0.0
for k in range(1, K + 1):
    params = [W[k - 1], B[k - 1], W[2 * K - k], B[2 * K - k]]
    if args.cached and k >= 2:
        t0 = time.perf_counter()
        cache = encode(train_X, k - 1).numpy()
        train_s += time.perf_counter() - t0
        ds = mnist_data.DataSet(cache, np.zeros(len(cache), np.uint8))

        def batch_loss(k=k, ds=ds):
            return stage_loss(k, torch.from_numpy(ds.next_batch(BATCH)[0]))
    else:
        def batch_loss(k=k):
            x = torch.from_numpy(mnist.train.next_batch(BATCH)[0])
            return stage_loss(k, encode(x, k - 1))
    train_s += run_phase("phase #{}".format(k), args.epochs, params, batch_loss)

# Fine-tuning starts Adam afresh.
for t in W + B:
    M[id(t)].zero_()
    V[id(t)].zero_()
steps[0] = 0
train_s += run_phase("fine-tune", args.fine_tune_epochs, W + B,
                     lambda: stack_loss(torch.from_numpy(mnist.train.next_batch(BATCH)[0])))
with torch.no_grad():
    test = stack_loss(test_X).item()
print("Test MSE:", test, "({:.2f} per image)".format(test * 784))
res.update({"train_seconds": train_s, "test_mse": test, "test_per_image": test * 784})
print("RESULT_JSON " + json.dumps(res))
