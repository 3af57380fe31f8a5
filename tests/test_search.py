import multiprocessing as mp
from dataclasses import replace

import numpy as np
import pytest
from conftest import SlowBowl, bowl

from isnet import search
from isnet.training import TrainConfig

PAPER_COEF = np.array([36.6191, -15.9662, 14.6877, -1.6210, -2.9474, -13.9947, 8.2006])


def surface_of(coef, degree=2, form="paper", dim=3):
    return search.Surface(search.surface_terms(dim, degree, form), np.asarray(coef, float), np.zeros(0), form, degree)


def test_paper_eq4_minimiser():
    beta, f = search.minimise_surface(surface_of(PAPER_COEF))
    np.testing.assert_allclose(beta, [0.4014, 0.0, 0.5986], atol=5e-5)
    assert round(f, 4) == 27.1380
    assert surface_of(PAPER_COEF).formula().startswith("f = 36.6191 - 15.9662 b2 + 14.6877 b2^2 - 1.6210 b3")


@pytest.mark.parametrize(("form", "degree"), [("paper", 2), ("paper", 3), ("quadratic", 2)])
def test_fit_recovers_known_coefficients(form, degree):
    rng = np.random.default_rng(0)
    terms = search.surface_terms(3, degree, form)
    coef = rng.normal(size=len(terms))
    points = search.random_feasible(25, 3, seed=1)
    losses = search.design_matrix(points, terms) @ coef
    fit = search.fit_surface(points, losses, degree, form)
    np.testing.assert_allclose(fit.coef, coef, atol=1e-8)
    assert fit.rmse < 1e-9


def test_fit_residuals_and_underdetermined_fit():
    points = search.random_feasible(15, 3, seed=2)
    noise = np.random.default_rng(3).normal(scale=0.1, size=15)
    fit = search.fit_surface(points, surface_of(PAPER_COEF)(points) + noise, 2)
    assert 0.0 < fit.rmse < 0.1
    np.testing.assert_allclose(fit.residuals.sum(), 0.0, atol=1e-9)  # the constant term absorbs the mean
    with pytest.raises(ValueError, match="4 points cannot determine 7 coefficients"):
        search.fit_surface(points[:4], np.zeros(4), 2)


def quad(center, weights=(1.0, 1.0, 1.0), const=0.0):
    """Coefficients of const + sum w_i (b_i - c_i)^2 in the paper's form, degree 2."""
    c = [const + sum(w * x * x for w, x in zip(weights, center))]
    for w, x in zip(weights, center):
        c += [-2 * w * x, w]
    return c


@pytest.mark.parametrize(
    ("coef", "expected"),
    [
        ([0, 1, 0, -3, 0, 1, 0], [0, 1, 0]),  # linear: a vertex
        (quad([0.8, 0.8, 0.0], (1, 1, 1)), [0.5, 0.5, 0.0]),  # an edge of the face sum = 1
        (quad([0.2, 0.3, 0.1]), [0.2, 0.3, 0.1]),  # the interior
        ([0, 5, 0, -0.6, 1, -0.4, 1], [0.0, 0.3, 0.2]),  # inside the facet b2 = 0
        (quad([0.5, 0.5, 0.5]), [1 / 3, 1 / 3, 1 / 3]),  # inside the facet sum = 1
        ([0, 0.1, -1, 0, -1, 0, -0.9], [0.0, 1.0, 0.0]),  # concave: a vertex (the only one at -1)
        (quad([-0.3, 0.4, 0.2]), [0.0, 0.4, 0.2]),  # centre outside: the facet b2 = 0
    ],
)
def test_minimiser_on_made_up_surfaces(coef, expected):
    beta, _ = search.minimise_surface(surface_of(coef))
    np.testing.assert_allclose(beta, expected, atol=1e-5)


def test_minimiser_beats_dense_sampling_on_random_nonconvex_quadratics():
    rng = np.random.default_rng(4)
    dense = search.random_feasible(200_000, 3, seed=5)
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    for _ in range(5):
        s = surface_of(rng.normal(size=10), form="quadratic")
        beta, f = search.minimise_surface(s)
        assert beta.min() >= 0 and beta.sum() <= 1 + 1e-9
        assert f <= min(s(dense).min(), s(corners).min()) + 1e-9
        assert f == pytest.approx(float(s(beta)[0]))


slow_bowl = SlowBowl(0.05)


def search_args(out, **changes) -> search.SearchConfig:
    changes = {"random_trials": 8, "trials": 12, "phi": 1e-6, **changes}
    return search.SearchConfig(TrainConfig(demo=True, out=str(out), quiet=True), **changes)


def completed(args):
    study = search.create_or_load(args, 3)
    rows = search.summarise_study(study, args, 3)["trials"]
    return [(r["trial"], tuple(np.round(r["beta"], 10)), round(r["loss"], 10)) for r in rows]


def test_surface_search_finds_a_known_minimum(tmp_path):
    args = search_args(tmp_path)
    search.run_worker(args, 3, bowl)
    summary = search.summarise_study(search.create_or_load(args, 3), args, 3)
    assert summary["n_trials"] == 9  # 8 random experiments, then one fit that is exact
    assert summary["converged"]
    np.testing.assert_allclose(summary["chosen"]["beta"], [0.2, 0.1, 0.5], atol=1e-4)
    assert summary["chosen"]["predicted"] == pytest.approx(5.0, abs=1e-6)
    assert summary["chosen"]["measured"] == pytest.approx(5.0, abs=1e-6)
    assert "b2^2" in summary["fits"]["paper"]["formula"]


def test_stopped_search_resumes_without_losing_or_repeating(tmp_path):
    straight = search_args(tmp_path / "a", phi=0.0)  # phi 0 never converges: runs the budget
    search.run_worker(straight, 3, bowl)
    first = search_args(tmp_path / "b", phi=0.0, trials=5)
    search.run_worker(first, 3, bowl)
    assert len(completed(first)) == 5
    search.run_worker(search_args(tmp_path / "b", phi=0.0), 3, bowl)
    assert completed(straight) == completed(search_args(tmp_path / "b", phi=0.0))
    assert len(completed(straight)) == 12


@pytest.mark.slow
def test_two_workers_give_the_same_trials_as_one(tmp_path):
    one = search_args(tmp_path / "one", phi=0.0)
    search.run_worker(one, 3, slow_bowl)
    two = search_args(tmp_path / "two", phi=0.0)
    search.create_or_load(two, 3)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=search.run_worker, args=(two, 3, slow_bowl)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert completed(one) == completed(two)


def _claim_enqueued(url: str) -> None:
    import optuna

    study = optuna.load_study(study_name="race", storage=search.make_storage(url))
    for _ in range(12):
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)


def test_workers_never_claim_the_same_enqueued_trial(tmp_path):
    # On SQLite, Optuna's claim of a waiting trial was not atomic (optuna/optuna#4002): two
    # workers ran one trial and the later one crashed telling it. Before the fix this setup
    # crashed a worker in each of 3 of 3 runs.
    import optuna

    url = f"sqlite:///{tmp_path / 'race.db'}"
    study = optuna.create_study(study_name="race", storage=search.make_storage(url))
    for i in range(36):
        study.enqueue_trial({"x": i / 36})
    procs = [mp.get_context("spawn").Process(target=_claim_enqueued, args=(url,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    xs = sorted(t.params["x"] for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert xs == [i / 36 for i in range(36)]


def test_search_cli_on_the_demo(tmp_path):
    training = TrainConfig(demo=True, out=str(tmp_path), iterations=4, val_every=4, ckpt_every=4, threads=1, quiet=True)
    config = search.SearchConfig(training, random_trials=4, trials=5, degree=1)
    summary = search.search(config)
    assert summary["n_trials"] == 5
    assert summary["trials"][4]["predicted"] is not None
    with pytest.raises(ValueError, match="cannot determine the 4 coefficients"):
        search.search(replace(config, random_trials=3))
    assert (tmp_path / "summary.json").exists() and (tmp_path / "loss_per_trial.png").exists()
