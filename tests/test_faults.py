"""Faults: killed training and searches, corrupt state. See docs/RELIABILITY.md."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import isnet
from isnet import search
from isnet.model import load_checkpoint

# scripts/fault_drill.py raises these counts and collects the figures for docs/RELIABILITY.md.
KILLS = int(os.environ.get("ISNET_KILLS", "4"))
# Seconds after a (re)start at which to kill: the process needs 2-4 s to start on a quiet 2-core machine.
KILL_WINDOW = tuple(float(x) for x in os.environ.get("ISNET_KILL_WINDOW", "2 6").split())
REPORT = os.environ.get("ISNET_FAULT_REPORT")


def report(name: str, figures: dict) -> None:
    if REPORT:
        with open(REPORT, "a") as f:
            f.write(json.dumps({"test": name, **figures}) + "\n")


TRAIN = [
    "--demo",
    "--iterations",
    "40",
    "--val-every",
    "5",
    "--ckpt-every",
    "5",
    "--batch-size",
    "16",
    "--threads",
    "1",
    "--warmup",
    "5",
    "--quiet",
]


def train_cmd(out, resume: bool) -> list[str]:
    return [sys.executable, "-m", "isnet.cli", "train", *TRAIN, "--out", str(out), *(["--resume"] if resume else [])]


def run_with_kills(out, kills: int, rng: np.random.Generator) -> dict:
    """Train, SIGKILL-ing the process ``kills`` times at random moments, resuming each time."""
    stats = {"kills": 0, "checkpoint_at_kill": [], "restarts": 0, "kills_before_first_checkpoint": 0}
    while True:
        resume = (out / "checkpoint.pt").exists()
        before = load_checkpoint(out / "checkpoint.pt")["iteration"] if resume else 0
        proc = subprocess.Popen(train_cmd(out, resume), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stats["restarts"] += 1
        if stats["kills"] < kills:
            try:
                proc.wait(timeout=rng.uniform(*KILL_WINDOW))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                stats["kills"] += 1
                if (out / "checkpoint.pt").exists():
                    # Never corrupt: every kill leaves a checkpoint that loads, and it never goes back.
                    after = load_checkpoint(out / "checkpoint.pt")["iteration"]
                    assert after >= before
                    stats["checkpoint_at_kill"].append(after)
                else:
                    stats["kills_before_first_checkpoint"] += 1
                continue
        else:
            proc.wait(timeout=300)
        assert proc.returncode == 0, proc.stderr.read().decode()
        return stats


@pytest.mark.slow
def test_training_killed_many_times_ends_with_the_same_weights(tmp_path):
    done = subprocess.run(train_cmd(tmp_path / "straight", False), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = run_with_kills(tmp_path / "killed", kills=KILLS, rng=np.random.default_rng(int(time.time())))
    assert stats["kills"] == KILLS
    a = isnet.load(tmp_path / "straight" / "model.pt").state_dict()
    b = isnet.load(tmp_path / "killed" / "model.pt").state_dict()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    ha = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["history"]
    hb = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["history"]
    assert ha == hb
    assert not list((tmp_path / "killed").glob("*.tmp"))
    report("training", {**stats, "iterations": 40, "checkpoint_every": 5, "identical_weights": True})


def test_a_torn_checkpoint_write_leaves_the_old_one(tmp_path, monkeypatch):
    model = isnet.ISNet(isnet.ISNetConfig())
    isnet.model.save_checkpoint(tmp_path / "c.pt", model, iteration=5)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(isnet.model.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        isnet.model.save_checkpoint(tmp_path / "c.pt", model, iteration=10)
    assert load_checkpoint(tmp_path / "c.pt")["iteration"] == 5


def slow_bowl(beta):
    time.sleep(0.4)
    b = np.asarray(beta)
    return float(5.0 + 3 * (b[0] - 0.2) ** 2 + 2 * (b[1] - 0.1) ** 2 + 4 * (b[2] - 0.5) ** 2)


def search_args(out):
    return search.get_args_parser().parse_args(
        [
            "--demo",
            "--out",
            str(out),
            "--random-trials",
            "8",
            "--trials",
            "11",
            "--phi",
            "0",
            "--heartbeat",
            "1",
            "--quiet",
        ]
    )


def trial_set(args) -> list[tuple]:
    rows = search.summarise_study(search.create_or_load(args, 3), args, 3)["trials"]
    return sorted((tuple(np.round(r["beta"], 8)), round(r["loss"], 8)) for r in rows)


def running_trials(args) -> int:
    from optuna.trial import TrialState

    study = search.create_or_load(args, 3)
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _worker(out):
    search.run_worker(search_args(out), 3, slow_bowl)


@pytest.mark.slow
def test_killed_search_workers_lose_and_repeat_nothing(tmp_path):
    import multiprocessing as mp

    straight = search_args(tmp_path / "a")
    search.run_worker(straight, 3, slow_bowl)
    killed = search_args(tmp_path / "b")
    search.create_or_load(killed, 3)
    ctx = mp.get_context("spawn")
    rng = np.random.default_rng(0)
    kills = 0
    for _ in range(max(3, KILLS)):
        p = ctx.Process(target=_worker, args=(tmp_path / "b",))
        p.start()
        # Kill mid-trial: once the worker has a trial running, at a random moment of it.
        deadline = time.monotonic() + 120
        while p.is_alive() and time.monotonic() < deadline and not running_trials(killed):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            kills += 1
        p.join()
    _worker(tmp_path / "b")  # a final worker finishes the search
    assert kills >= 2
    assert trial_set(killed) == trial_set(straight)
    study = search.create_or_load(killed, 3)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states.count("COMPLETE") == 11
    report(
        "search",
        {
            "kills": kills,
            "complete": 11,
            "failed_and_retried": states.count("FAIL"),
            "same_trials_as_uninterrupted": True,
        },
    )
