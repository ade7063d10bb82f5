"""Embedding maps (Figures 16 and 17): the statistics, the grid's layout, the projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.errors import UsageError
from neuralsynth.evaluation.embedding_map import (
    embedding_map,
    embedding_projection,
    mel_bands,
    mel_stats,
    random_mixes,
)
from neuralsynth.inference.load import load_trained_model
from tests.model_factory import make_checkpoint

from .test_eval import png_size


def test_mel_stats_on_known_spectra():
    centre, width = mel_bands()
    assert centre.shape == (80,) and np.all(np.diff(centre) > 0) and np.all(width > 0)
    mel = torch.full((3, 5, 80), 1e-12, dtype=torch.float64)
    mel[0, :, 20] = 2.0                              # one band: centroid = its centre
    mel[1, :, [10, 40]] = 1.0                        # two bands: width-weighted mean
    mel[2, :2, 60] = 1.0                             # loud in 2 of 5 frames
    centroid, energy = mel_stats(mel)
    assert centroid[0] == pytest.approx(centre[20], rel=1e-9)
    expected = (centre[10] * width[10] + centre[40] * width[40]) / (width[10] + width[40])
    assert centroid[1] == pytest.approx(expected, rel=1e-9)
    assert energy[0] == pytest.approx(10 * np.log10(4.0 * width[20]), abs=1e-6)
    assert energy[2] == pytest.approx(10 * np.log10(width[60] * 2 / 5), abs=1e-6)


@pytest.fixture(scope="module")
def placed(untrained_ckpt):
    """The untrained model with its three instruments moved to (0, 0), (1, 0), (0, 2)."""
    loaded = load_trained_model(untrained_ckpt)
    with torch.no_grad():
        loaded.model.conditioner.embedding.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0],
                                                               [0.0, 2.0]]))
    return loaded


def test_grid_layout_puts_instruments_where_they_are(placed):
    """Without margin a 3x3 grid has the instruments on lattice points: row = y, column
    = x, and the grid's values there are the instruments' own values."""
    emap = embedding_map(placed, grid=3, margin=0.0)
    np.testing.assert_allclose(emap.xs, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(emap.ys, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(emap.coords, [[0, 0], [1, 0], [0, 2]])
    for k, (i, j) in enumerate([(0, 0), (0, 2), (2, 0)]):
        assert emap.centroid_hz[i, j] == pytest.approx(emap.instrument_centroid_hz[k],
                                                       rel=1e-4)
        assert emap.energy_db[i, j] == pytest.approx(emap.instrument_energy_db[k], abs=1e-3)
    # The three instruments do not sound alike, so the lattice points differ.
    assert len({round(v, 1) for v in emap.instrument_centroid_hz}) == 3


def test_map_values_vary_over_a_box_around_the_instruments(placed):
    emap = embedding_map(placed, grid=16)
    assert emap.centroid_hz.shape == emap.energy_db.shape == (16, 16)
    assert np.all(np.isfinite(emap.centroid_hz)) and np.all(np.isfinite(emap.energy_db))
    assert np.all((emap.centroid_hz > 0) & (emap.centroid_hz < 8000))
    assert np.ptp(emap.centroid_hz) > 10.0 and np.ptp(emap.energy_db) > 0.5
    # 10 % margin each side of the instruments' box.
    assert emap.xs[0] == pytest.approx(-0.1) and emap.xs[-1] == pytest.approx(1.1)
    assert emap.ys[0] == pytest.approx(-0.2) and emap.ys[-1] == pytest.approx(2.2)


def test_map_rejects_bad_grid_and_other_dimensions(placed, tmp_path):
    with pytest.raises(UsageError, match="grid"):
        embedding_map(placed, grid=1)
    three = load_trained_model(make_checkpoint(tmp_path / "m3.pt", embedding_dim=3))
    with pytest.raises(UsageError, match="2-D"):
        embedding_map(three, grid=4)


@pytest.fixture(scope="module")
def three_d(tmp_path_factory) -> object:
    return make_checkpoint(tmp_path_factory.mktemp("m3") / "m3.pt", embedding_dim=3,
                           instruments=["grand_piano", "church_organ", "trumpet", "vibraphone"])


def test_projection_of_a_3d_space(three_d):
    loaded = load_trained_model(three_d)
    proj = embedding_projection(loaded, n_points=40, seed=3)
    assert proj.points.shape == (40, 2) and proj.coords.shape == (4, 2) and proj.dim == 3
    assert proj.centroid_hz.shape == proj.energy_db.shape == (40,)
    assert np.ptp(proj.centroid_hz) > 1.0
    # Projection is linear: a mix of instruments lands at the same mix of their places.
    np.testing.assert_allclose(proj.points, random_mixes(4, 40, seed=3) @ proj.coords,
                               atol=1e-6)
    # Principal axes: coordinates are uncorrelated, the first has the most variance.
    cov = np.cov(proj.coords.T, bias=True)
    assert abs(cov[0, 1]) < 1e-9 and cov[0, 0] >= cov[1, 1]
    assert 0 < proj.explained[1] <= proj.explained[0] and proj.explained.sum() <= 1 + 1e-9


def test_random_mixes_are_convex_and_sparse():
    w = random_mixes(5, 200, seed=1)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert np.all(w >= 0) and set(np.count_nonzero(w, axis=1)) <= {2, 3}


# -- the CLI -------------------------------------------------------------------------------
def test_cli_map_png_and_summary(untrained_ckpt, tmp_path):
    out = tmp_path / "maps" / "map.png"
    result = CliRunner().invoke(cli, ["eval", str(untrained_ckpt), "--embedding-map",
                                      str(out), "--grid", "8", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert png_size(out) == (1300, 560)
    assert [p.name for p in out.parent.iterdir()] == ["map.png"]
    assert "8x8 grid" in result.output and "church_organ" in result.output


def test_cli_projection_for_3d(three_d, tmp_path):
    out = tmp_path / "proj.png"
    result = CliRunner().invoke(cli, ["eval", str(three_d), "--embedding-map", str(out),
                                      "--grid", "6", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert png_size(out) == (1300, 1120)           # PCA row, and the t-SNE row below it
    assert "36 instrument mixes of the 3-D timbre space" in result.output


def test_tsne_keeps_neighbours(three_d):
    loaded = load_trained_model(three_d)
    proj = embedding_projection(loaded, n_points=60, seed=3, tsne=True)
    assert proj.tsne_points.shape == (60, 2) and proj.tsne_coords.shape == (4, 2)
    assert np.all(np.isfinite(proj.tsne_points))
    # t-SNE keeps who is near whom. Trustworthiness (1: every point's 5 nearest
    # neighbours in the picture are among its nearest in the 3-D space) of the layout,
    # against a shuffled layout of the same points, which keeps no neighbourhoods.
    from sklearn.manifold import trustworthiness

    table = loaded.model.instrument_embeddings().detach().double().numpy()
    space = np.concatenate([table, random_mixes(4, 60, seed=3) @ table])
    layout = np.concatenate([proj.tsne_coords, proj.tsne_points])
    shuffled = layout[np.random.default_rng(0).permutation(len(layout))]
    assert trustworthiness(space, layout, n_neighbors=5) > 0.9
    assert trustworthiness(space, shuffled, n_neighbors=5) < 0.7
    again = embedding_projection(loaded, n_points=60, seed=3, tsne=True)
    np.testing.assert_allclose(again.tsne_points, proj.tsne_points)       # seeded
    assert embedding_projection(loaded, n_points=60, seed=3).tsne_points is None
