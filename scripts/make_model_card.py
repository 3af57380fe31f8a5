"""Install a trained model as the shipped default and write its card (config, metrics, provenance).

Usage: python scripts/make_model_card.py RUN_DIR --data ../shared/data/cuhk_facepoint --command "isnet train ..."
    [--init-card PARENT_CARD.json --init-weights "WHERE"]   # a run fine-tuned with isnet train --init
Copies RUN_DIR/model.pt to src/isnet/weights/isnet_cuhk5.pt and writes src/isnet/weights/isnet_cuhk5.json
with the validation metrics (re-measured by isnet.evaluation.evaluate_list, as isnet evaluate does), the
embedded demo's metrics (the golden numbers of tests/test_shipped_model.py) and the training history's end.
"""

import argparse
import json
import shutil
from pathlib import Path

from isnet.assets import DEFAULT_MODEL, demo_list
from isnet.evaluation import evaluate_list
from isnet.model import count_macs, count_parameters, load, load_checkpoint


def measure(list_path: Path) -> dict:
    """The shipped model's metrics on a list, without the run's particulars (path, time)."""
    m = evaluate_list(list_path).metrics
    return {k: v for k, v in m.items() if k not in ("skipped", "weights", "list", "seconds")}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--command", required=True, help="the training command, for the card")
    p.add_argument(
        "--init-card",
        type=Path,
        default=None,
        help="card of the model the run was fine-tuned from (isnet train --init), kept in the new card",
    )
    p.add_argument("--init-weights", default=None, help="where that model's weights are kept (a path, a commit)")
    a = p.parse_args()
    # Read the parent's card before the copy below replaces it.
    parent = json.loads(a.init_card.read_text()) if a.init_card else None
    shutil.copyfile(a.run / "model.pt", DEFAULT_MODEL)
    model = load(DEFAULT_MODEL)
    run_metrics = json.loads((a.run / "metrics.json").read_text())
    history = load_checkpoint(a.run / "checkpoint.pt")["history"]
    card = {
        "config": model.config.to_dict(),
        "parameters": count_parameters(model),
        "macs_per_face": count_macs(model),
        "training": {
            "command": a.command,
            "train_list": "trainImageList.txt (10,000 faces)",
            "iterations": run_metrics["iterations"],
            "wall_seconds": run_metrics["seconds"],
            "final_history": history[-1],
        },
        "validation": measure(a.data / "testImageList.txt"),
        "demo_val": measure(demo_list("val")),
        "reproduce": "isnet evaluate --list ../shared/data/cuhk_facepoint/testImageList.txt",
    }
    if parent is not None:
        card["training"]["initialised_from"] = {
            "weights": a.init_weights,
            "training": parent["training"],
            "validation": {k: parent["validation"][k] for k in ("euclidean_loss", "nme_iod", "box_error_per_point")},
        }
        card["training"]["total_iterations"] = (
            parent["training"].get("total_iterations", parent["training"]["iterations"])
            + card["training"]["iterations"]
        )
    DEFAULT_MODEL.with_suffix(".json").write_text(json.dumps(card, indent=2))
    print(json.dumps(card["validation"], indent=2))


if __name__ == "__main__":
    main()
