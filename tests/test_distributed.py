import os
import subprocess
import sys

import pytest
import torch

import isnet

COMMON = [
    "train",
    "--demo",
    "--iterations",
    "8",
    "--val-every",
    "4",
    "--ckpt-every",
    "4",
    "--batch-size",
    "16",
    "--threads",
    "1",
    "--quiet",
    "--warmup",
    "2",
]


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "isnet.cli", *COMMON, "--out", str(tmp_path / "one")],
        check=True,
        env=env,
        capture_output=True,
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "isnet.cli",
            *COMMON,
            "--out",
            str(tmp_path / "two"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one = isnet.load(tmp_path / "one" / "model.pt").state_dict()
    two = isnet.load(tmp_path / "two" / "model.pt").state_dict()
    # Same faces, same augmentation, gradients averaged over the two halves of each batch:
    # only the order of floating-point sums differs.
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-4, msg=name)
    h1 = isnet.model.load_checkpoint(tmp_path / "one" / "checkpoint.pt")["history"]
    h2 = isnet.model.load_checkpoint(tmp_path / "two" / "checkpoint.pt")["history"]
    for a, b in zip(h1, h2):
        assert a["iteration"] == b["iteration"]
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
