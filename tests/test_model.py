import pickle

import numpy as np
import pytest
import torch
from torch import nn

import isnet
from isnet.assets import demo_list
from isnet.boxes import ltrb_to_xywh
from isnet.data import read_sun_list, reduce_to_cuhk5
from isnet.evaluation import evaluate_list
from isnet.model import (
    CheckpointError,
    ISNet,
    ISNetConfig,
    average_to,
    count_macs,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
    validate_beta,
)
from isnet.schemes import get_scheme

PLAIN = (0.0, 0.0, 1.0)


@pytest.mark.parametrize("beta", [(0.4014, 0.0, 0.5986), PLAIN, (0.0, 0.0, 0.0), (0.2, 0.3, 0.1)])
@pytest.mark.parametrize("synthesis", ["concat", "pooled"])
def test_output_shape(beta, synthesis):
    model = ISNet(ISNetConfig(beta=beta, synthesis=synthesis))
    assert model(torch.rand(3, 1, 39, 39)).shape == (3, 5, 2)


@pytest.mark.parametrize(
    ("beta", "message"),
    [
        ((0.5, 0.6, 0.0), "sum of beta = 1.1 must be at most 1"),
        ((-0.1, 0.0, 0.5), r"beta_2 = -0.1 must lie in \[0, 1\]"),
        ((0.0, 1.5, 0.0), r"beta_3 = 1.5 must lie in \[0, 1\]"),
        ((0.0, float("nan"), 0.0), "beta_3 = nan"),
        ((0.5, 0.5), "beta needs 3 weights"),
    ],
)
def test_beta_validation(beta, message):
    with pytest.raises(ValueError, match=message):
        ISNetConfig(beta=beta)


def test_beta_on_the_boundary_is_accepted():
    validate_beta((0.4014, 0.0, 0.5986), 4)
    validate_beta((1.0, 0.0, 0.0), 4)


def test_other_config_errors():
    with pytest.raises(ValueError, match="too small"):
        ISNetConfig(input_size=12)
    with pytest.raises(ValueError, match="synthesis must be one of"):
        ISNetConfig(synthesis="sum")
    with pytest.raises(ValueError, match="unknown landmark scheme"):
        ISNetConfig(scheme="nope")


def test_parameters_and_macs_by_hand():
    # Plain CNN: conv 1->20 4x4 (36x36 out), 20->40 3x3 (16x16), 40->60 3x3 (6x6), 60->80 2x2 (2x2),
    # pooled to 1x1, then fc 80->120->10.
    plain = ISNet(ISNetConfig(beta=PLAIN))
    conv = [1 * 20 * 16 + 20, 20 * 40 * 9 + 40, 40 * 60 * 9 + 60, 60 * 80 * 4 + 80]
    assert count_parameters(plain) == sum(conv) + (80 * 120 + 120) + (120 * 10 + 10)
    conv_macs = 36 * 36 * 20 * 16 + 16 * 16 * 40 * 20 * 9 + 6 * 6 * 60 * 40 * 9 + 2 * 2 * 80 * 60 * 4
    assert count_macs(plain) == conv_macs + 80 * 120 + 120 * 10
    # IS-Net at the paper's beta: blocks 2 (40 x 8 x 8) and 4 (80 x 1 x 1) feed the head.
    net = ISNet(ISNetConfig(beta=(0.4014, 0.0, 0.5986)))
    assert net.synthesis_dims == [40 * 8 * 8, 80]
    assert count_parameters(net) == sum(conv) + (2640 * 120 + 120) + (120 * 10 + 10)
    assert count_macs(net) == conv_macs + 2640 * 120 + 120 * 10


def _grads(model: ISNet) -> list[bool]:
    model.zero_grad()
    model(torch.rand(4, 1, 39, 39)).pow(2).sum().backward()
    return [any(p.grad is not None and p.grad.abs().sum() > 0 for p in b.parameters()) for b in model.blocks]


def test_gradients_reach_exactly_the_weighted_blocks():
    torch.manual_seed(0)
    # Block weights (0.4, 0.6, 0, 0): blocks 3 and 4 feed nothing, so they are not even built.
    early = ISNet(ISNetConfig(beta=(0.6, 0.0, 0.0)))
    assert len(early.blocks) == 2 and _grads(early) == [True, True]
    assert early.synthesis_dims == [20 * 18 * 18, 40 * 8 * 8]
    # Block weights (0, 0.3, 0, 0.7): the head sees blocks 2 and 4 only.
    mixed = ISNet(ISNetConfig(beta=(0.3, 0.0, 0.7)))
    assert mixed.synthesis_dims == [40 * 8 * 8, 80]
    assert _grads(mixed) == [True, True, True, True]
    # The synthesis path itself: the head's input gradient is zero nowhere and its part
    # for each block is scaled by that block's weight.
    x = torch.rand(2, 1, 39, 39)
    feats = mixed.synthesise(x).detach().requires_grad_(True)
    mixed.head(feats).sum().backward()
    assert feats.grad.abs().sum(dim=0).gt(0).float().mean() > 0.5
    with torch.no_grad():
        block2 = mixed.blocks[1](mixed.blocks[0]((x - 0.5) * 4.0)).flatten(1)
        synth = mixed.synthesise(x)
        torch.testing.assert_close(synth[:, :2560], 0.3 * block2)


def test_plain_cnn_ignores_early_blocks():
    torch.manual_seed(0)
    plain = ISNet(ISNetConfig(beta=PLAIN))
    assert plain.synthesis_dims == [80]


def test_config_round_trip():
    cfg = ISNetConfig(beta=(0.1, 0.2, 0.3), synthesis="pooled", input_size=48, margin=0.1)
    assert ISNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ISNetConfig.from_dict({**cfg.to_dict(), "layers": 9})


def test_save_and_load_rebuild_the_model(tmp_path):
    torch.manual_seed(1)
    model = ISNet(ISNetConfig(beta=(0.2, 0.3, 0.1), synthesis="pooled")).eval()
    save_checkpoint(tmp_path / "m.pt", model, metrics={"nme_iod": 0.05})
    loaded = isnet.load(tmp_path / "m.pt")
    x = torch.rand(2, 1, 39, 39)
    assert loaded.config == model.config
    assert not loaded.training
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert not (tmp_path / "m.pt.tmp").exists()


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "isnet-checkpoint-1", "config": {}, "model": {}, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        isnet.load(path)


def test_wrong_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such weights file"):
        isnet.load(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        isnet.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an isnet checkpoint"):
        isnet.load(tmp_path / "other.pt")
    model = ISNet(ISNetConfig())
    save_checkpoint(tmp_path / "m.pt", model)
    ckpt = load_checkpoint(tmp_path / "m.pt")
    ckpt["config"]["hidden"] = 64
    torch.save(ckpt, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not fit the architecture"):
        isnet.load(tmp_path / "mismatch.pt")


def test_a_68_point_model_on_a_five_point_list_is_scored_on_its_reduction(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m68.pt", ISNet(ISNetConfig(scheme="ibug68")))
    ev = evaluate_list(demo_list("val"), tmp_path / "m68.pt")
    assert ev.pred.shape[1:] == (5, 2) and len(ev.metrics["points"]) == 5
    sample = read_sun_list(demo_list("val"))[0]
    det = isnet.LandmarkDetector(tmp_path / "m68.pt", detector=None, backend="torch", upright=None, mirror=False)
    (face,) = det.predict(sample.image, [ltrb_to_xywh(sample.box)])
    assert face.landmarks.shape == (68, 2)
    # The API samples the view in one warp, evaluation from a crop: a few hundredths of a pixel apart here.
    np.testing.assert_allclose(ev.pred[0], reduce_to_cuhk5(face.landmarks, get_scheme("ibug68")), atol=0.5)


@pytest.mark.parametrize(("side", "grid"), [(5, 2), (26, 2), (12, 5), (7, 3), (4, 4)])
def test_average_to_matches_adaptive_pooling(side, grid):
    x = torch.rand(2, 3, side, side)
    torch.testing.assert_close(average_to(x, grid), nn.functional.adaptive_avg_pool2d(x, grid))


def test_average_to_by_hand():
    x = torch.arange(25.0).view(1, 1, 5, 5)
    # Rows and columns 0..2 and 2..4 (the middle one shared): means of those 3 x 3 squares.
    expected = torch.tensor([[[[6.0, 8.0], [16.0, 18.0]]]])
    torch.testing.assert_close(average_to(x, 2), expected)
