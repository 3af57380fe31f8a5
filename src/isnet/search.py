"""``isnet search``: find the synthesis weights beta by the paper's response-surface method.

The paper's Table 1: (1) train with random feasible beta; (2) fit a polynomial f(beta)
by least squares; (3) minimise it under ``0 <= beta_i <= 1, sum(beta) <= 1``; (4) train at
the minimiser; stop when ``|predicted - measured| < phi``, else add the point, raise the
degree, refit and repeat.

Persistence and parallelism come from Optuna: every trial lives in the study's
storage (SQLite by default, any RDB URL for several machines) the moment it finishes.
The random experiments are enqueued once, when the study is created, so each is run
exactly once whichever worker takes it; a killed worker's trial is failed by Optuna's
heartbeat and re-enqueued with the same beta. The response surface is an Optuna
sampler whose proposals depend only on the finished trials, and which waits for every
earlier trial to finish first, so one worker or several give the same trials.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing as mp
import sys
import time
import warnings
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages._rdb import models as rdb_models
from optuna.trial import TrialState
from scipy.optimize import minimize
from sqlalchemy import event

from isnet.plots import plt
from isnet.training import RESULT_FIELDS, TrainConfig, train_or_continue

__all__ = [
    "create_or_load",
    "design_matrix",
    "fail_stale",
    "fit_degree",
    "fit_surface",
    "format_summary",
    "FORMS",
    "make_storage",
    "minimise_surface",
    "param_names",
    "plot_search",
    "random_feasible",
    "ResponseSurfaceSampler",
    "run_worker",
    "search",
    "search_state",
    "SearchConfig",
    "SearchInterrupted",
    "snap_feasible",
    "STALE_HEARTBEATS",
    "suggest_beta",
    "summarise_study",
    "Surface",
    "surface_terms",
    "SurfaceDeferred",
    "training_objective",
]

FORMS = ("paper", "quadratic")
# Heartbeats a worker may miss before its trial counts as abandoned and is retried.
STALE_HEARTBEATS = 3


# ---------------------------------------------------------------- response surface


def surface_terms(dim: int, degree: int, form: str) -> list[tuple[int, ...]]:
    """Monomials of a surface as exponent tuples, constant first.

    ``"paper"`` is the paper's Eq. 4: per variable the powers 1..degree, no cross terms.
    ``"quadratic"`` is the full quadratic with cross terms (``degree`` is ignored).
    """
    if form == "paper":
        terms = [(0,) * dim]
        for i in range(dim):
            for p in range(1, degree + 1):
                terms.append(tuple(p if j == i else 0 for j in range(dim)))
        return terms
    if form == "quadratic":
        terms = [(0,) * dim] + [tuple(int(j == i) for j in range(dim)) for i in range(dim)]
        for i, k in itertools.combinations_with_replacement(range(dim), 2):
            e = [0] * dim
            e[i] += 1
            e[k] += 1
            terms.append(tuple(e))
        return terms
    raise ValueError(f"unknown surface form {form!r}; known: {FORMS}")


def design_matrix(points: np.ndarray, terms: list[tuple[int, ...]]) -> np.ndarray:
    """``(n, len(terms))`` values of each monomial at ``(n, dim)`` points."""
    points = np.atleast_2d(points)
    return np.stack([np.prod(points ** np.array(t), axis=1) for t in terms], axis=1)


@dataclass
class Surface:
    """A fitted polynomial ``f(beta) = sum_j coef_j * prod_i beta_i ** terms[j][i]``."""

    terms: list[tuple[int, ...]]
    coef: np.ndarray
    residuals: np.ndarray
    form: str
    degree: int

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return design_matrix(points, self.terms) @ self.coef

    def gradient(self, point: np.ndarray) -> np.ndarray:
        g = np.zeros(len(point))
        for c, t in zip(self.coef, self.terms):
            for i, e in enumerate(t):
                if e:
                    t2 = list(t)
                    t2[i] -= 1
                    g[i] += c * e * np.prod(point ** np.array(t2))
        return g

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean(self.residuals**2)))

    def formula(self, names: list[str] | None = None) -> str:
        """The polynomial in the form of the paper's Eq. 4."""
        dim = len(self.terms[0])
        names = names or [f"b{i + 2}" for i in range(dim)]
        out = f"f = {self.coef[0]:.4f}"
        for c, t in zip(self.coef[1:], self.terms[1:]):
            mono = " ".join(f"{n}^{e}" if e > 1 else n for n, e in zip(names, t) if e)
            out += f" {'-' if c < 0 else '+'} {abs(c):.4f} {mono}"
        return out


def fit_surface(points: np.ndarray, losses: np.ndarray, degree: int, form: str = "paper") -> Surface:
    """Least-squares fit of a polynomial surface of loss against beta.

    Args:
        points: ``(n, dim)`` betas.
        losses: ``(n,)`` measured losses.
        degree: highest power per variable (``"paper"`` form).
        form: ``"paper"`` or ``"quadratic"``.

    Raises:
        ValueError: fewer points than coefficients (the fit would not be determined).
    """
    points, losses = np.asarray(points, float), np.asarray(losses, float)
    terms = surface_terms(points.shape[1], degree, form)
    if len(points) < len(terms):
        raise ValueError(f"{len(points)} points cannot determine {len(terms)} coefficients ({form}, degree {degree})")
    x = design_matrix(points, terms)
    coef, *_ = np.linalg.lstsq(x, losses, rcond=None)
    return Surface(terms, coef, losses - x @ coef, form, degree)


def fit_degree(n_points: int, dim: int, wanted: int, cap: int, form: str) -> int:
    """The degree to fit: ``wanted`` capped at ``cap`` and at what ``n_points`` can determine."""
    degree = min(wanted, cap)
    while degree > 1 and n_points < len(surface_terms(dim, degree, form)):
        degree -= 1
    return degree


def _faces(dim: int):
    """Every face of ``{b >= 0, sum(b) <= 1}``: (coordinates held at 0, is sum(b) = 1 active)."""
    for k in range(dim + 1):
        for zero in itertools.combinations(range(dim), k):
            free = dim - k
            if free > 0:
                yield zero, False
            if free > 0:
                yield zero, True
            if free == 0:
                yield zero, False  # the origin


def _face_map(dim: int, zero: tuple[int, ...], on_sum: bool):
    """Affine map from face coordinates ``t`` (in a box) to beta, and the face's dimension."""
    free = [i for i in range(dim) if i not in zero]
    if not on_sum:
        return (lambda t: _embed(dim, free, t)), len(free), "box"
    # On sum = 1, the last free coordinate is 1 minus the others.
    head = free[:-1]

    def to_beta(t: np.ndarray) -> np.ndarray:
        b = _embed(dim, head, t)
        b[..., free[-1]] = 1.0 - np.sum(t, axis=-1)
        return b

    return to_beta, len(head), "simplex"


def _embed(dim: int, idx: list[int], t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, float)
    b = np.zeros(t.shape[:-1] + (dim,))
    b[..., idx] = t
    return b


def _grid(k: int, kind: str, steps: int) -> np.ndarray:
    axes = np.linspace(0.0, 1.0, steps + 1)
    g = np.array(list(itertools.product(axes, repeat=k))) if k else np.zeros((1, 0))
    # Both kinds of face live in {t >= 0, sum(t) <= 1} (a "box" face of the region is the
    # region itself restricted to its free coordinates).
    del kind
    return g[g.sum(axis=1) <= 1.0 + 1e-12]


def minimise_surface(surface: Surface, steps: int | None = None) -> tuple[np.ndarray, float]:
    """Global minimiser of a fitted surface on ``{0 <= b_i <= 1, sum(b) <= 1}``.

    The region is split into its faces (interior, facets, ..., edges, vertices). On each
    face the restricted polynomial is scanned on a grid and the best grid points are
    polished by a local minimiser within the face; on edges (one free coordinate) the
    restriction is a univariate polynomial whose critical points are its derivative's
    roots, found exactly. The best point over all faces is returned, so optima on a
    face, an edge or a vertex and non-convex surfaces are all handled.

    Returns:
        ``(beta, f(beta))``.
    """
    dim = len(surface.terms[0])
    steps = steps or {1: 2000, 2: 200, 3: 60}.get(dim, 20)
    best_b, best_f = None, math.inf
    for zero, on_sum in _faces(dim):
        to_beta, k, _ = _face_map(dim, zero, on_sum)
        for b in _face_candidates(surface, to_beta, k, steps):
            if b.min() < -1e-12 or b.sum() > 1 + 1e-12:
                continue
            f = float(surface(b)[0])
            if f < best_f:
                best_b, best_f = np.clip(b, 0.0, 1.0), f
    return best_b, best_f


def _face_candidates(surface: Surface, to_beta, k: int, steps: int) -> list[np.ndarray]:
    if k == 0:
        return [to_beta(np.zeros(0))]
    if k == 1:
        # Exact: sample the restriction at degree + 1 points, recover its coefficients,
        # and take the roots of the derivative that lie inside the edge.
        degree = max(sum(t) for t in surface.terms)
        ts = np.linspace(0.0, 1.0, degree + 1)
        coeffs = np.polyfit(ts, surface(to_beta(ts[:, None])), degree)
        roots = np.roots(np.polyder(coeffs)) if degree > 1 else np.array([])
        real = [r.real for r in np.atleast_1d(roots) if abs(r.imag) < 1e-9 and -1e-12 <= r.real <= 1 + 1e-12]
        return [to_beta(np.array([t])) for t in [0.0, 1.0, *real]]
    grid = _grid(k, "", steps)
    values = surface(to_beta(grid))
    out = []
    cons = [{"type": "ineq", "fun": lambda t: 1.0 - np.sum(t)}]
    for i in np.argsort(values)[:5]:
        res = minimize(
            lambda t: float(surface(to_beta(t))[0]),
            grid[i],
            method="SLSQP",
            bounds=[(0.0, 1.0)] * k,
            constraints=cons,
            options={"ftol": 1e-14, "maxiter": 200},
        )
        out.append(to_beta(np.clip(res.x, 0.0, 1.0)))
        out.append(to_beta(grid[i]))
    return out


def random_feasible(n: int, dim: int, seed: int) -> np.ndarray:
    """``(n, dim)`` points uniform on ``{b >= 0, sum(b) <= 1}`` (a flat Dirichlet, one coordinate dropped)."""
    return np.random.default_rng(seed).dirichlet(np.ones(dim + 1), size=n)[:, :dim]


# ---------------------------------------------------------------- Optuna integration


def param_names(dim: int) -> list[str]:
    return [f"b{i + 2}" for i in range(dim)]


class ResponseSurfaceSampler(optuna.samplers.BaseSampler):
    """The paper's Table 1 as an Optuna sampler, for trials that were not enqueued.

    Each proposal is the minimiser of a surface fitted to every finished trial; the
    degree starts at ``degree`` and rises by one with every earlier surface trial whose
    measured loss missed its prediction by ``phi`` or more, up to ``max_degree`` and to what
    the number of points can determine.
    """

    def __init__(
        self,
        dim: int,
        degree: int = 2,
        max_degree: int = 4,
        phi: float = 0.05,
        form: str = "paper",
        poll_seconds: float = 1.0,
        wait_seconds: float = 86400.0,
    ):
        self.dim, self.degree, self.max_degree, self.phi, self.form = dim, degree, max_degree, phi, form
        self.poll_seconds, self.wait_seconds = poll_seconds, wait_seconds
        self._independent = optuna.samplers.RandomSampler()

    def infer_relative_search_space(self, study, trial):
        return {n: FloatDistribution(0.0, 1.0) for n in param_names(self.dim)}

    def sample_relative(self, study, trial, search_space):
        if not search_space or "fixed_params" in trial.system_attrs:
            return {}
        finished = self._wait_for_earlier(study, trial.number)
        state = search_state(finished, self.dim)
        points, losses = state["points"], state["losses"]
        degree = fit_degree(len(points), self.dim, self.degree + state["misses"], self.max_degree, self.form)
        surface = fit_surface(points, losses, degree, self.form)
        beta, predicted = minimise_surface(surface)
        storage = study._storage  # the documented way samplers record per-trial facts
        storage.set_trial_system_attr(trial._trial_id, "rs_predicted", float(predicted))
        storage.set_trial_system_attr(trial._trial_id, "rs_degree", int(degree))
        storage.set_trial_system_attr(trial._trial_id, "rs_form", self.form)
        storage.set_trial_system_attr(trial._trial_id, "rs_coef", [float(c) for c in surface.coef])
        storage.set_trial_system_attr(trial._trial_id, "rs_rmse", surface.rmse)
        return dict(zip(param_names(self.dim), (float(b) for b in beta)))

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def _wait_for_earlier(self, study, number: int) -> list:
        """Wait until every trial this proposal depends on is finished; return the complete ones.

        It depends on the surface trials numbered before it and on every fixed-beta trial
        (the random experiments, and retries of killed trials, whatever their number). A
        retry still waiting to be taken can only run once this trial gives way, so then
        this trial is deferred (it fails, harmlessly) and the worker takes the retry first.
        """
        deadline = time.monotonic() + self.wait_seconds
        while True:
            fail_stale(study)
            trials = study.get_trials(deepcopy=False)
            if any(t.state == TrialState.WAITING for t in trials):
                raise SurfaceDeferred("a retried experiment is waiting to be run first")
            pending = [
                t
                for t in trials
                if t.state == TrialState.RUNNING
                and t.number != number
                and (t.number < number or "fixed_params" in t.system_attrs)
            ]
            if not pending:
                return [t for t in trials if t.state == TrialState.COMPLETE]
            if time.monotonic() > deadline:
                raise TimeoutError(f"trials {[t.number for t in pending]} did not finish in {self.wait_seconds} s")
            time.sleep(self.poll_seconds)


class SurfaceDeferred(RuntimeError):
    """A surface proposal gave way to a retried experiment; the worker asks again."""


def fail_stale(study: optuna.Study) -> None:
    """Fail (and so retry) the trials of workers whose heartbeat stopped."""
    # Optuna does this only when a worker starts a trial; a worker that waits must do it too,
    # or it would wait forever for a trial whose worker was killed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def search_state(complete: list, dim: int, phi: float | None = None) -> dict:
    """Points, losses, surface-trial misses and convergence from the complete trials."""
    names = param_names(dim)
    complete = sorted(complete, key=lambda t: t.number)
    surface = [t for t in complete if "rs_predicted" in t.system_attrs]
    # The fit sees the points in an order of their own, not the trials' numbers, which
    # retries of killed trials change: the same points give the very same surface.
    fitted = sorted(complete, key=lambda t: ([t.params[n] for n in names], t.value))
    points = np.array([[t.params[n] for n in names] for t in fitted]).reshape(-1, dim)
    losses = np.array([t.value for t in fitted])
    misses = 0
    converged = False
    for t in surface:
        gap = abs(t.system_attrs["rs_predicted"] - t.value)
        limit = phi if phi is not None else t.user_attrs.get("phi", math.inf)
        if gap < limit:
            converged = True
        else:
            misses += 1
    return {"points": points, "losses": losses, "misses": misses, "surface_trials": surface, "converged": converged}


def make_storage(url: str, heartbeat: int = 30) -> RDBStorage:
    """Optuna storage at ``url`` whose workers beat every ``heartbeat`` seconds.

    A running trial whose worker has been silent for ``STALE_HEARTBEATS`` heartbeats is
    failed by the next worker that looks, and retried.
    """
    # Heartbeats let a restarted or parallel worker fail the trial of a killed one;
    # the callback re-enqueues that trial's beta so no experiment is lost.
    with warnings.catch_warnings():  # heartbeats are marked experimental, and have been since Optuna 2.8
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # No cap: only a killed worker's trial is retried (an exception in training fails
        # the trial for good), and each retry continues that trial's own checkpoint.
        retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
        storage = _Storage(
            url,
            heartbeat_interval=heartbeat,
            grace_period=STALE_HEARTBEATS * heartbeat,
            heartbeat_stale_trial_callback=retry,
            engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
        )
    if url.startswith("sqlite"):
        _serialise_sqlite_transactions(storage.engine)
    return storage


class _Storage(RDBStorage):
    """Optuna's RDB storage, with one more kind of stale trial: one still running with no heartbeat
    that started more than the grace period ago. Its worker died between starting the trial and its
    first heartbeat; Optuna skips trials without a heartbeat, so it would run forever, unretried."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        # make_storage always sets the grace period. Optuna stamps a trial's start with the local
        # clock of the worker that starts it.
        started_before = datetime.now() - timedelta(seconds=self.grace_period)
        session = self.scoped_session()
        try:
            running = (
                session.query(rdb_models.TrialModel)
                .filter(rdb_models.TrialModel.state == TrialState.RUNNING, rdb_models.TrialModel.study_id == study_id)
                .all()
            )
            # Trials with a heartbeat are Optuna's to judge; it skips the others.
            silent = [
                t.trial_id
                for t in running
                if not t.heartbeats and t.datetime_start is not None and t.datetime_start < started_before
            ]
        finally:
            session.close()
        return super()._get_stale_trial_ids(study_id) + silent


def _serialise_sqlite_transactions(engine) -> None:
    """Make every SQLite transaction take the write lock at BEGIN.

    Optuna claims an enqueued trial by reading its state and then writing RUNNING, relying
    on SELECT ... FOR UPDATE, which SQLite ignores: two workers could both claim one trial
    and the slower one then crashed on "Cannot tell a COMPLETE trial" (optuna/optuna#4002).
    BEGIN IMMEDIATE is SQLAlchemy's documented recipe for SQLite's missing row locks; the
    cost, serialised reads, is nothing next to a training.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while the storage set itself up lack the hooks


# ---------------------------------------------------------------- the command


@dataclass
class SearchConfig:
    """A beta search: how to search, and the training every trial runs (its ``beta`` aside).

    ``training.out`` is the search's folder: the study (SQLite by default), the summary and
    ``trials/<key>/``, one training run per trial.
    """

    training: TrainConfig = field(default_factory=TrainConfig)
    sampler: str = "surface"
    trials: int = 20
    random_trials: int = 15
    phi: float = 0.05
    degree: int = 2
    max_degree: int = 4
    form: str = "paper"
    storage: str | None = None
    study: str = "isnet-beta"
    workers: int = 1
    heartbeat: int = 30
    search_seed: int = 0

    @classmethod
    def from_options(cls, options: object) -> SearchConfig:
        """The config of an object carrying the search's and the training's fields (the parsed command line)."""
        own = {
            f.name: getattr(options, f.name) for f in fields(cls) if f.name != "training" and hasattr(options, f.name)
        }
        return cls(training=TrainConfig.from_options(options), **own)

    @property
    def out(self) -> Path:
        return Path(self.training.out)

    @property
    def dim(self) -> int:
        """Number of betas: blocks 2..S."""
        return len(self.training.channels) - 1


def _trial_dir(config: SearchConfig, beta: list[float]) -> Path:
    """Folder of the training at ``beta``: keyed by beta and the training's result fields."""
    training = {k: getattr(config.training, k) for k in RESULT_FIELDS}
    key = hashlib.sha1(json.dumps([[round(b, 12) for b in beta], training], default=str).encode()).hexdigest()[:12]
    return config.out / "trials" / key


def suggest_beta(trial: optuna.Trial, sampler: str, dim: int) -> list[float]:
    """The trial's beta: the sampler's proposal, snapped onto the feasible region."""
    names = param_names(dim)
    if sampler == "tpe":
        # TPE samples a box; stick-breaking maps it onto the feasible region.
        beta, left = [], 1.0
        for i in range(dim):
            beta.append(left * trial.suggest_float(f"u{i + 2}", 0.0, 1.0))
            left -= beta[-1]
        for n, b in zip(names, beta):
            trial.set_user_attr(n, b)
    else:
        beta = [trial.suggest_float(n, 0.0, 1.0) for n in names]
    return [float(b) for b in snap_feasible(np.array(beta))]


def training_objective(config: SearchConfig):
    """``beta -> validation loss`` of IS-Net trained as ``config.training`` says, at that beta."""

    def objective(beta: list[float]) -> float:
        # A retried trial continues its killed predecessor's training instead of starting over.
        trial = replace(config.training, out=str(_trial_dir(config, beta)), beta=beta, arch="isnet", quiet=True)
        return train_or_continue(trial)["euclidean_loss"]

    return objective


def snap_feasible(beta: np.ndarray) -> np.ndarray:
    """Clip rounding noise so that a proposal on the boundary passes validation."""
    beta = np.clip(beta, 0.0, 1.0)
    s = beta.sum()
    return beta / s if s > 1.0 else beta


def create_or_load(config: SearchConfig, dim: int) -> optuna.Study:
    url = config.storage or f"sqlite:///{Path(config.out).resolve() / 'search.db'}"
    Path(config.out).mkdir(parents=True, exist_ok=True)
    storage = make_storage(url, config.heartbeat)
    if config.sampler == "surface":
        sampler = ResponseSurfaceSampler(dim, config.degree, config.max_degree, config.phi, config.form)
    else:
        sampler = None  # seeded below, once the trials already in the study are known
    study = optuna.create_study(study_name=config.study, storage=storage, sampler=sampler, load_if_exists=True)
    if sampler is None:
        # A worker that joins or restarts a study must not replay the draws of the first
        # worker: seed by the trials already there.
        seed = config.search_seed + len(study.get_trials(deepcopy=False))
        if config.sampler == "tpe":
            study.sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(config.random_trials, 10))
        else:
            study.sampler = optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "surface" and not study.user_attrs.get("random_enqueued"):
        for b in random_feasible(config.random_trials, dim, config.search_seed):
            study.enqueue_trial(dict(zip(param_names(dim), (float(x) for x in b))))
        study.set_user_attr("random_enqueued", True)
    return study


def _finished(study: optuna.Study, config: SearchConfig, dim: int) -> bool:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(trials) >= config.trials:
        return True
    return config.sampler == "surface" and search_state(trials, dim, config.phi)["converged"]


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a worker; its trial waits in the study to be taken up again."""


def run_worker(config: SearchConfig, dim: int, objective=None) -> None:
    """One worker: take trials until the budget is spent or the surface has converged.

    On Ctrl-C the running trial is put back in the study with the same beta (its training
    has checkpointed itself) and :class:`SearchInterrupted` is raised; running the search
    again continues it.

    Args:
        objective: ``beta list -> loss``; default: train IS-Net as ``config.training`` says.
    """
    study = create_or_load(config, dim)
    train_at = objective or training_objective(config)
    interrupted: list[str] = []

    def run(trial: optuna.Trial) -> float:
        beta = suggest_beta(trial, config.sampler, dim)
        # A worker that waited for earlier trials may find the search already over.
        if _finished(study, config, dim):
            raise optuna.TrialPruned("search finished while this trial waited")
        trial.set_user_attr("phi", config.phi)
        try:
            return train_at(beta)
        except KeyboardInterrupt as e:
            # Optuna would fail the trial for good and log a traceback: put its beta back instead,
            # exactly as a killed worker's trial is retried.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = RetryHeartbeatStaleTrialCallback(max_retry=None)
            (frozen,) = (t for t in study.get_trials(deepcopy=False) if t.number == trial.number)
            retry(study, frozen)
            interrupted.append(
                f"trial {trial.number} (beta {[round(b, 4) for b in beta]}) put back" + (f": {e}" if str(e) else "")
            )
            raise optuna.TrialPruned("interrupted") from None

    while not _finished(study, config, dim):
        _wait_for_running_experiments(study)
        study.optimize(run, n_trials=1, catch=(SurfaceDeferred,))
        if interrupted:
            raise SearchInterrupted(f"{interrupted[0]}; run the same command again to continue the search")


def _worker_process(config: SearchConfig, dim: int) -> None:
    """Target of a worker process: Ctrl-C ends it with code 130 and one line, not a traceback."""
    try:
        run_worker(config, dim)
    except KeyboardInterrupt as e:
        print(f"isnet search worker: interrupted; {e}", file=sys.stderr)
        sys.exit(130)


def _wait_for_running_experiments(study: optuna.Study, poll_seconds: float = 1.0) -> None:
    """Before a new trial: wait while fixed-beta trials (random experiments, retries) still run.

    A new trial would otherwise be a surface trial fitted without them; waiting trials need
    no wait, since Optuna hands them out before it creates a new trial.
    """
    while True:
        fail_stale(study)
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        if any(t.state == TrialState.WAITING for t in trials):
            return
        if not any("fixed_params" in t.system_attrs for t in trials):
            return
        time.sleep(poll_seconds)


def search(config: SearchConfig) -> dict:
    """Run the search to its end (budget spent or surface converged) and write its summary and plots.

    Returns:
        The summary (see :func:`summarise_study`), also in ``summary.json``.
    """
    dim = config.dim
    config.training.model_config()  # fail early on a bad shape
    needed = len(surface_terms(dim, config.degree, config.form))
    if config.sampler == "surface" and config.random_trials < needed:
        raise ValueError(
            f"--random-trials {config.random_trials} cannot determine the {needed} coefficients of the "
            f"first fit ({config.form}, degree {config.degree}); give at least {needed}"
        )
    t0 = time.perf_counter()
    create_or_load(config, dim)  # one process creates the study and enqueues the random experiments
    if config.workers > 1:
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_process, args=(config, dim)) for _ in range(config.workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            # The workers got the same Ctrl-C: let them put their trials back before leaving.
            for p in procs:
                p.join()
            raise SearchInterrupted("run the same command again to continue the search") from None
        if any(p.exitcode == 130 for p in procs):
            raise SearchInterrupted("a worker was interrupted; run the same command again to continue the search")
        if any(p.exitcode for p in procs):
            raise RuntimeError(f"search worker exit codes {[p.exitcode for p in procs]}")
    else:
        run_worker(config, dim)
    summary = summarise_study(create_or_load(config, dim), config, dim)
    summary["seconds_this_run"] = time.perf_counter() - t0
    out = Path(config.out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_search(summary, out)
    return summary


def summarise_study(study: optuna.Study, config: SearchConfig, dim: int) -> dict:
    trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    names = param_names(dim)

    def beta_of(t):
        return [t.params[n] if n in t.params else t.user_attrs[n] for n in names]

    rows = [
        {
            "trial": t.number,
            "beta": beta_of(t),
            "loss": t.value,
            "predicted": t.system_attrs.get("rs_predicted"),
            "degree": t.system_attrs.get("rs_degree"),
            "form": t.system_attrs.get("rs_form"),
            "seconds": (t.datetime_complete - t.datetime_start).total_seconds(),
        }
        for t in trials
    ]
    summary = {
        "sampler": config.sampler,
        "trials": rows,
        "n_trials": len(rows),
        "iterations_per_trial": config.training.iterations,
        "phi": config.phi,
        "form": config.form,
    }
    if rows:
        best = min(rows, key=lambda r: r["loss"])
        summary["best"] = best
    if config.sampler == "surface" and len(rows) >= 2:
        state = search_state(trials, dim, config.phi)
        summary["converged"] = state["converged"]
        fits = {}
        n = len(state["points"])
        for form, degree in (
            ("paper", fit_degree(n, dim, config.degree + state["misses"], config.max_degree, "paper")),
            ("quadratic", 2),
        ):
            try:
                s = fit_surface(state["points"], state["losses"], degree, form)
            except ValueError as e:
                fits[form] = {"error": str(e)}
                continue
            b, f = minimise_surface(s)
            fits[form] = {
                "degree": degree,
                "formula": s.formula(),
                "coef": s.coef.tolist(),
                "residuals": s.residuals.tolist(),
                "rmse": s.rmse,
                "minimiser": b.tolist(),
                "predicted": f,
            }
        summary["fits"] = fits
        chosen = state["surface_trials"][-1] if state["surface_trials"] else None
        if chosen is not None:
            summary["chosen"] = {
                "trial": chosen.number,
                "beta": beta_of(chosen),
                "measured": chosen.value,
                "predicted": chosen.system_attrs["rs_predicted"],
            }
    return summary


def format_summary(summary: dict) -> str:
    lines = ["trial  beta                          measured loss  predicted"]
    for r in summary["trials"]:
        pred = f"{r['predicted']:.4f}" if r["predicted"] is not None else ""
        lines.append(f"{r['trial']:>5}  ({', '.join(f'{b:.4f}' for b in r['beta'])})  {r['loss']:>13.4f}  {pred}")
    for form, fit in summary.get("fits", {}).items():
        if "formula" in fit:
            lines.append(f"{form} fit (degree {fit['degree']}, residual rms {fit['rmse']:.4f}): {fit['formula']}")
            where = ", ".join(f"{b:.4f}" for b in fit["minimiser"])
            lines.append(f"  minimiser ({where}), predicted {fit['predicted']:.4f}")
    if "chosen" in summary:
        c = summary["chosen"]
        lines.append(
            f"chosen beta ({', '.join(f'{b:.4f}' for b in c['beta'])}): predicted {c['predicted']:.4f}, "
            f"measured {c['measured']:.4f}, converged: {summary.get('converged')}"
        )
    if "best" in summary:
        b = summary["best"]
        lines.append(f"lowest measured loss {b['loss']:.4f} at trial {b['trial']}")
    return "\n".join(lines)


def plot_search(summary: dict, out: Path) -> None:
    rows = summary["trials"]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.plot([r["trial"] for r in rows], [r["loss"] for r in rows], "o-", label="measured")
    best = np.minimum.accumulate([r["loss"] for r in rows])
    ax.plot([r["trial"] for r in rows], best, "--", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation Euclidean loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "loss_per_trial.png")
    plt.close(fig)
    form = summary.get("form", "paper")
    fit = summary.get("fits", {}).get(form)
    if fit and "coef" in fit:
        dim = len(rows[0]["beta"])
        s = Surface(surface_terms(dim, fit["degree"], form), np.array(fit["coef"]), np.zeros(0), form, fit["degree"])
        fig, axes = plt.subplots(1, dim, figsize=(3.2 * dim, 3), dpi=100, squeeze=False)
        b0 = np.array(fit["minimiser"])
        points = np.array([r["beta"] for r in rows])
        for i, ax in enumerate(axes[0]):
            t = np.linspace(0.0, 1.0, 201)
            pts = np.tile(b0, (len(t), 1))
            pts[:, i] = t
            feasible = pts.sum(axis=1) <= 1.0 + 1e-12
            ax.plot(t[feasible], s(pts[feasible]), color="tab:blue", label="fit, feasible")
            ax.plot(t[~feasible], s(pts[~feasible]), "--", color="tab:blue", alpha=0.5, label="fit, sum > 1")
            ax.plot(points[:, i], [r["loss"] for r in rows], ".", color="k", ms=4, label="trials (all betas)")
            ax.axvline(b0[i], color="tab:red", lw=0.8)
            ax.set_xlabel(f"b{i + 2} (others at the minimiser)")
        axes[0][0].set_ylabel("validation loss")
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{form} fit, degree {fit['degree']}: slices through the minimiser", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "surface_slices.png")
        plt.close(fig)
