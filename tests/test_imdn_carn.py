"""IMDN, CARN and CARN-M ports against the official PyTorch code (tests/reference/imdn_carn_torch.py):
names, counts, numerics with random weights, and the official checkpoints' published Set5 scores."""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.weights.state import load_weights, read_state_dict
from paddle_sr.convert import convert
from paddle_sr.image.io import load_image
from paddle_sr.evaluate import evaluate

torch = pytest.importorskip("torch")
from tests.reference import imdn_carn_torch as ref  # noqa: E402

# Official parameter counts (sum of numel over the official class's parameters, frozen mean shifts
# included); CARN / CARN-M as the official multi-scale network that the released files hold.
COUNTS = {("imdn", 2): 694_404, ("imdn", 3): 703_059, ("imdn", 4): 715_176,
          ("carn", 2): 1_591_963, ("carn", 3): 1_591_963, ("carn", 4): 1_591_963,
          ("carn_m", 2): 414_811, ("carn_m", 3): 414_811, ("carn_m", 4): 414_811}
# Published Set5 PSNR (Y, crop = scale): IMDN paper Table; CARN-M: the official code + weights with
# rounded output (DESIGN.md section 5).
SET5 = {("imdn", 2, "imdn/IMDN_x2.pth"): 38.00, ("imdn", 4, "imdn/IMDN_x4.pth"): 32.21,
        ("carn_m", 2, "carn/carn_m.pth"): 37.68, ("carn_m", 3, "carn/carn_m.pth"): 34.06,
        ("carn_m", 4, "carn/carn_m.pth"): 31.88}


def _copy_torch_weights(tmodel, model):
    """Torch state dict -> Paddle model by identical names (convs only: no transposes needed)."""
    state = {k: paddle.to_tensor(v.detach().numpy()) for k, v in tmodel.state_dict().items()}
    own = model.state_dict()
    assert set(state) == set(own) - {"value_range"}, "parameter names differ from the official code"
    model.set_state_dict(state)


@pytest.mark.parametrize("name,scale,size", [("imdn", 2, (17, 23)), ("imdn", 3, (16, 15)), ("imdn", 4, (13, 18)),
                                             ("carn", 2, (15, 13)), ("carn", 4, (11, 12)),
                                             ("carn_m", 3, (14, 17)), ("carn_m", 4, (12, 10))])
def test_matches_official_code_with_random_weights(name, scale, size):
    torch.manual_seed(scale)
    tmodel = ref.build(name, scale)
    # PyTorch's default init gives near-constant outputs; widen the biases so every branch (CCA
    # gates, residuals, cascades) carries signal.
    with torch.no_grad():
        for n, p in tmodel.named_parameters():
            if n.endswith("bias") and p.requires_grad:
                p.uniform_(-0.1, 0.1)
    model = models.create(name, scale=scale)
    model.eval()
    _copy_torch_weights(tmodel, model)
    x = np.random.default_rng(scale).uniform(0, 1, (2, 3) + size).astype("float32")
    with torch.no_grad():
        want = ref.run(name, tmodel, torch.from_numpy(x), scale).numpy()
    with paddle.no_grad():
        native = model.forward_native(paddle.to_tensor(x)).numpy()
        suite = model(paddle.to_tensor(x * 2 - 1)).numpy()
    assert want.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert want.std() > 0.01, "reference output is ~constant: the comparison would prove nothing"
    assert np.abs(native - want).max() * 255 < 1e-3  # on the 0-255 scale
    assert np.abs((suite + 1) / 2 - want).max() * 255 < 1e-3


@pytest.mark.parametrize("key", sorted(COUNTS), ids=lambda k: f"{k[0]}-x{k[1]}")
def test_parameter_counts_are_the_official_classes(key):
    name, scale = key
    official = sum(p.numel() for p in ref.build(name, scale).parameters())
    assert models.count_parameters(models.create(name, scale=scale)) == official == COUNTS[key]


def test_default_value_range_is_official_0_1():
    for name in ("imdn", "carn", "carn_m"):
        assert models.create(name, scale=2).value_range.numpy().tolist() == [0.0, 1.0], name


def test_carn_branches_of_other_scales_are_frozen_and_single_scale_layout_is_official():
    model = models.create("carn_m", scale=3)
    trainable = {n for n, p in model.named_parameters() if not p.stop_gradient}
    assert "upsample.up3.body.0.weight" in trainable
    assert not any(n.startswith(("upsample.up2.", "upsample.up4.", "sub_mean.", "add_mean.")) for n in trainable)
    assert list(model.upsample.up4.body[3].weight.shape) == [256, 16, 3, 3]  # 4-group conv, second x2 stage
    single = models.create("carn_m", scale=4, multi_scale=False)
    official = ref.CARN_M(scale=4, multi_scale=False, group=4)
    assert set(single.state_dict()) - {"value_range"} == set(official.state_dict())
    assert models.count_parameters(single) == sum(p.numel() for p in official.parameters())


def test_official_weights_match_pytorch_on_a_photo(shared, tmp_path):
    hr = load_image(shared / "benchmarks" / "Set5" / "HR" / "baby.png")[200:248, 200:248].astype("float32")
    lr = (hr.reshape(16, 3, 16, 3, 3).mean(axis=(1, 3)).transpose(2, 0, 1)[None] / 255).copy()
    for name, scale, rel in (("imdn", 4, "imdn/IMDN_x4.pth"), ("carn_m", 3, "carn/carn_m.pth")):
        pth = shared / "weights" / rel
        out = tmp_path / f"{name}_x{scale}.pdparams"
        convert(name, scale, pth, out)
        assert read_state_dict(out)["value_range"].numpy().tolist() == [0.0, 1.0]
        model = load_weights(models.create(name, scale=scale, value_range=(-1, 1)), out)
        model.eval()
        official = ref.build(name, scale)
        sd = torch.load(pth, map_location="cpu")
        official.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()})
        with torch.no_grad():
            want = ref.run(name, official, torch.from_numpy(lr), scale).numpy()
        with paddle.no_grad():
            got = (model(paddle.to_tensor(lr * 2 - 1)).numpy() + 1) / 2
        assert abs(want.mean() - lr.mean()) < 0.02, "official weights should reproduce the photo"
        assert np.abs(got - want).max() * 255 < 1e-3, name


@pytest.mark.parametrize("key", sorted(SET5), ids=lambda k: f"{k[0]}-x{k[1]}")
def test_official_weights_reproduce_published_set5(key, shared, tmp_path):
    name, scale, rel = key
    model = convert(name, scale, shared / "weights" / rel, tmp_path / "w.pdparams")
    model.eval()
    psnr = evaluate(model, scale, shared / "benchmarks" / "Set5", progress=False)["Set5"]["psnr"]
    assert abs(psnr - SET5[key]) <= 0.05, f"{name} x{scale}: {psnr:.3f} vs published {SET5[key]}"
