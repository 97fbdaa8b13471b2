"""Step parity with the authors' training code: the suite's training step against a re-typed official one.

The model parity tests show that a port computes the official network; these show that the suite's
*training* takes the official steps. Both sides start from the same weights and see the same fixed
batches (the suite's own data pipeline, mapped by the reference onto the range and layout its official
data loader hands to the model); the suite runs ``train.train_step`` -- the function its loop runs --
and the reference runs the authors' re-typed training step (``tests/reference/*_train_torch.py``) twice,
in float32 and in float64.

Tolerance: float32 training drifts from exact arithmetic on its own; how far is measured, per test, as
the gap between the reference's float32 and float64 runs. The suite (float32, another framework's
kernels) must stay within ``factor`` times that drift of the float64 run -- for the per-step losses and
for the final weights, the latter relative to how far training moved them. A change that alters the
optimisation (Adam's epsilon in effect, a frozen parameter the authors train, a loss weight) moves the
weights by far more than rounding does, which each test also checks by running the suite with the
difference re-introduced.
"""
import dataclasses
from dataclasses import dataclass, field, replace

import numpy as np
import paddle

from paddle_sr import data, train
from paddle_sr.training.data import training_set
from paddle_sr.weights.state import check_state_dict

FLOOR = 1e-7  # a drift below float32's resolution is not a drift: the smallest tolerance unit
# Another framework's float32 kernels round differently from the reference's (Paddle's reductions are
# sequential where torch's are pairwise; other conv algorithms), so the suite may sit a few drifts away:
# measured for EDSR-baseline, 2.7x the drift on the weights and 12x the (tiny) loss drift, i.e. 2x the
# larger of the two drifts -- while the old loss range (Adam's epsilon 127.5x too large) sits 1000x away.
FACTOR = 10.0


@dataclass
class Trajectory:
    """One training run: per-step loss terms ({'pixel': ..., 'adversarial': ..., 'discriminator': ...}, the
    names the suite logs), the generator's lr at each step, its initial and final weights (suite parameter
    names, numpy), and the final and initial weights of the other trained networks ({'discriminator': {...}})."""
    losses: list
    lrs: list
    weights: dict
    init: dict
    others: dict = field(default_factory=dict)
    others_init: dict = field(default_factory=dict)


@dataclass
class Parity:
    """Measured agreement of a suite run with the float64 reference, next to the tolerance."""
    weights_gap: float   # |suite - ref64| / |ref64 - init|, global norm over every float tensor
    weights_drift: float  # the same for ref32: the reference's own float32 drift
    losses_gap: float    # max over steps and terms of |suite - ref64| / |ref64|
    losses_drift: float  # the same for ref32
    others_gap: dict     # {network: (gap, drift)}
    factor: float

    @property
    def drift(self):
        """The reference's float32 drift: the largest of its relative weight and loss gaps (and the others')."""
        return max([self.weights_drift, self.losses_drift, FLOOR] + [d for _, d in self.others_gap.values()])

    @property
    def tol(self):
        return self.factor * self.drift

    @property
    def ok(self):
        gaps = [self.weights_gap, self.losses_gap] + [g for g, _ in self.others_gap.values()]
        return max(gaps) <= self.tol

    def __str__(self):
        others = "".join(f", {k} weights {g:.2e}" for k, (g, _) in self.others_gap.items())
        return (f"weights {self.weights_gap:.2e}, losses {self.losses_gap:.2e}{others}; tolerance {self.tol:.2e} = "
                f"{self.factor:g} x drift {self.drift:.2e} (reference float32 vs float64: weights "
                f"{self.weights_drift:.2e}, losses {self.losses_drift:.2e})")


def numpy_state(layer):
    """A layer's state as numpy, without the suite's own ``value_range`` records (not official weights)."""
    return {k: np.array(v.numpy()) for k, v in layer.state_dict().items() if not k.endswith("value_range")}


def fixed_batches(cfg, n=20):
    """The first ``n`` batches the suite's data pipeline gives ``train.train_step`` for recipe ``cfg``, read from
    the embedded photographs (``cfg.data`` is replaced): a list of tuples of float32 numpy arrays on [-1, 1]."""
    cfg = replace(cfg, data="embedded:train", num_workers=0)
    stream = data.batches(training_set(cfg), cfg.batch_size)
    return [tuple(np.array(a) for a in next(stream)) for _ in range(n)]


def suite_trajectory(cfg, batches, init=None, init_others=None):
    """Build the recipe's networks as ``train.py`` does (CPU), load ``init`` / ``init_others`` ({key: state}) if
    given, and run ``train.train_step`` on ``batches``; the Trajectory of the generator (and the others)."""
    paddle.set_device("cpu")
    paddle.seed(cfg.seed)
    nets, objective, ema = train.build_nets(cfg, fresh=True)
    for net in nets:
        state = init if net.key == "model" else (init_others or {}).get(net.key)
        if state is not None:
            state = {**numpy_state(net.layer), **state}
            check_state_dict(net.layer, state, source="step-parity init")
            net.layer.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
        net.run = objective.forward_layer(net.layer) if net.key == "model" else net.layer
    if ema is not None:
        ema.set_state_dict(nets[0].layer.state_dict())
    start = numpy_state(nets[0].layer)
    others_init = {net.key: numpy_state(net.layer) for net in nets[1:]}
    losses, lrs = [], []
    for it, arrays in enumerate(batches, start=1):
        values, _, lr = train.train_step(nets, objective, ema, None, cfg, arrays, it, None, "")
        losses.append(values)
        lrs.append(lr)
    others = {net.key: numpy_state(net.layer) for net in nets[1:]}
    if ema is not None:
        others["ema"] = numpy_state(ema)
    return Trajectory(losses, lrs, numpy_state(nets[0].layer), start, others, others_init)


def suite_lr(cfg, it):
    """The lr ``train.train_step`` uses at (1-based) iteration ``it``: the schedule ``train.make_optimizer``
    builds, stepped ``it - 1`` times (train_step steps it after each update); a full-length schedule is
    checked without running its iterations."""
    layer = paddle.nn.Linear(1, 1)
    opt, sched = train.make_optimizer(cfg, layer.parameters(), cfg.lr)
    if sched is not None:
        sched.step(it - 1)
    return opt.get_lr()


def _floats(state):
    return {k: np.asarray(v, dtype=np.float64) for k, v in state.items() if np.issubdtype(np.asarray(v).dtype,
                                                                                              np.floating)}


def weights_gap(state, truth, init):
    """Global-norm distance of ``state`` from ``truth`` over every float tensor, relative to how far ``truth``
    moved from ``init``. The key sets must agree (a renamed or missing parameter is an error, not a zero)."""
    state, truth, init = _floats(state), _floats(truth), _floats(init)
    if set(state) != set(truth) or set(truth) != set(init):
        raise AssertionError(f"parameter names differ: only in the run {sorted(set(state) - set(truth))}, only in "
                             f"the reference {sorted(set(truth) - set(state))}, init {sorted(set(init) ^ set(truth))}")
    num = sum(float(np.sum((state[k] - truth[k]) ** 2)) for k in truth)
    den = sum(float(np.sum((truth[k] - init[k]) ** 2)) for k in truth)
    if den == 0:
        raise AssertionError("training did not move the reference weights at all: nothing to compare")
    return (num / den) ** 0.5


def losses_gap(run, truth):
    """max over steps and terms of the relative difference of ``run.losses`` from ``truth.losses``."""
    if len(run.losses) != len(truth.losses):
        raise AssertionError(f"{len(run.losses)} steps against {len(truth.losses)}")
    gap = 0.0
    for step, (a, b) in enumerate(zip(run.losses, truth.losses), start=1):
        if set(a) != set(b):
            raise AssertionError(f"step {step}: loss terms {sorted(a)} against the reference's {sorted(b)}")
        for k in b:
            gap = max(gap, abs(a[k] - b[k]) / max(abs(b[k]), 1e-12))
    return gap


def step_parity(suite, ref32, ref64, factor=FACTOR):
    """How far ``suite`` is from the float64 reference, and the tolerances from ref32's own drift (Parity)."""
    others = {}
    for key in ref64.others:
        init = ref64.others_init[key]
        others[key] = (weights_gap(suite.others[key], ref64.others[key], init),
                       weights_gap(ref32.others[key], ref64.others[key], init))
    return Parity(weights_gap(suite.weights, ref64.weights, ref64.init), weights_gap(ref32.weights, ref64.weights,
                                                                                     ref64.init),
                  losses_gap(suite, ref64), losses_gap(ref32, ref64), others, factor)


def assert_step_parity(suite, ref32, ref64, factor=FACTOR, lr_rtol=1e-9):
    """The suite run agrees with the authors' step within ``factor`` x the reference's float32 drift; the
    learning rates of every step are the official ones. Returns the Parity (for reports)."""
    np.testing.assert_allclose(suite.lrs, ref64.lrs, rtol=lr_rtol, err_msg="learning rate per step")
    parity = step_parity(suite, ref32, ref64, factor)
    assert parity.ok, f"the suite's training left the official trajectory: {parity}"
    return parity


def as_dict(parity):
    return dataclasses.asdict(parity)
