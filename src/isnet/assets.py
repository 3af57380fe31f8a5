"""Files shipped inside the package: the default landmark model, YuNet and the fitted constants.

Every fitted constant lives in the JSON file its fitting script writes, and is read from
there; none is pasted into code.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "BOX_FROM_POINTS",
    "DEFAULT_MODEL",
    "DEMO_DIR",
    "FACE_MODEL",
    "demo_list",
    "IBUG68_MODEL",
    "installed_models",
    "MODEL_NAMES",
    "PLACEMENT_FITS",
    "QUALITY_FIT",
    "read_fit",
    "read_fitted",
    "ROLL_MODEL",
    "SHIPPED_REGIONS",
    "shipped_name",
    "SHIPPED_MODELS",
    "WEIGHTS_DIR",
    "weights_label",
    "weights_path",
    "YUNET_BOX_MAP",
    "YUNET_MODEL",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEFAULT_MODEL = WEIGHTS_DIR / "isnet_cuhk5.pt"
IBUG68_MODEL = WEIGHTS_DIR / "isnet_ibug68.pt"
# The shipped models by name: the five CUHK points (the default) and the 68 points of 300-W.
SHIPPED_MODELS = {"cuhk5": DEFAULT_MODEL, "ibug68": IBUG68_MODEL}
MODEL_NAMES = tuple(SHIPPED_MODELS)
# The region networks each shipped model reads its regions again with (isnet.regions), by model.
SHIPPED_REGIONS = {
    "cuhk5": (),
    "ibug68": tuple(WEIGHTS_DIR / f"isnet_ibug68_{r}.pt" for r in ("jaw", "brows_eyes", "nose", "mouth")),
}
# The upright step's first pass: five points of a face at any roll (issue 15).
ROLL_MODEL = WEIGHTS_DIR / "isnet_roll.pt"
# Written by scripts/fit_quality.py: how the pipeline's signals become a quality (isnet.quality).
QUALITY_FIT = WEIGHTS_DIR / "quality.json"
YUNET_MODEL = WEIGHTS_DIR / "face_detection_yunet_2026may.onnx"
# Written by scripts/fit_yunet_box_map.py: YuNet box -> CUHK box.
YUNET_BOX_MAP = WEIGHTS_DIR / "yunet_box_map.json"
# Written by scripts/fit_box_from_landmarks.py: five points -> CUHK box.
BOX_FROM_POINTS = WEIGHTS_DIR / "box_from_points.json"
# Written by scripts/make_face_model.py: the mean 3D face that head pose is fitted to.
FACE_MODEL = WEIGHTS_DIR / "face_model_ibug68.json"
# Written by scripts/fit_placement.py: five points placed as one set does -> as another does.
PLACEMENT_FITS = {("cuhk", "300w"): WEIGHTS_DIR / "placement_cuhk_to_300w.json"}


def weights_path(weights: str | Path | None, model: str = "cuhk5") -> Path:
    """The checkpoint to use: ``weights``, or the shipped model named ``model`` when ``None``."""
    if weights is not None:
        return Path(weights)
    shipped = SHIPPED_MODELS
    if model not in shipped:
        raise ValueError(f"unknown model {model!r}; the shipped ones are {', '.join(MODEL_NAMES)}")
    if not shipped[model].is_file():
        what = "default model" if model == "cuhk5" else f"model {model!r}"
        raise FileNotFoundError(
            f"the {what} {shipped[model]} is not installed; pass a checkpoint (model.pt of "
            "`isnet train`) as weights= in Python or --weights on the command line"
        )
    return shipped[model]


def shipped_name(weights: str | Path | None, model: str = "cuhk5") -> str | None:
    """The name of the shipped model that ``weights`` (``None``: ``model``) is, or ``None`` for one of your own."""
    if weights is None:
        return model
    path = Path(weights).resolve()
    return next((name for name, shipped in SHIPPED_MODELS.items() if shipped.resolve() == path), None)


def installed_models() -> tuple[str, ...]:
    """The names of :data:`MODEL_NAMES` whose weights are installed."""
    return tuple(name for name, path in SHIPPED_MODELS.items() if path.is_file())


def weights_label(weights: str | Path | None, model: str = "cuhk5") -> str:
    """How a report names the model: the path as given, or the shipped model's name."""
    return str(weights) if weights is not None else f"shipped:{weights_path(None, model).name}"


def read_fitted(path: Path, script: str) -> dict:
    """The JSON file written by ``script``, with errors that name the file and the script."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no fitted constants; write them with {script}") from None
    except ValueError as e:
        raise ValueError(f"{path}: not the output of {script} ({e})") from None


def read_fit(path: Path, keys: tuple[str, ...], script: str) -> dict[str, float]:
    """The fitted constants ``keys`` of a JSON file written by ``script``."""
    d = read_fitted(path, script)
    try:
        return {k: float(d[k]) for k in keys}
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not the output of {script} ({e})") from None


def demo_list(split: str) -> Path:
    """Path of the embedded demo's list for ``split`` (``"train"`` or ``"val"``)."""
    if split not in ("train", "val"):
        raise ValueError(f"demo split must be 'train' or 'val', got {split!r}")
    return DEMO_DIR / f"demo_{split}.txt"
