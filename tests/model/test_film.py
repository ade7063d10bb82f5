"""FiLM conditioner: identity at init, linear mixing, per-frame morphs, site switches."""

from __future__ import annotations

import pytest
import torch

from neuralsynth.errors import RecipeError
from neuralsynth.model.conditioners import CONDITIONERS
from neuralsynth.model.conditioners.film import FiLM

CHANNELS = {"pre": 6, "post": 10}


def make(sites=("pre", "post"), d=3, n=4) -> FiLM:
    torch.manual_seed(0)
    return FiLM(FiLM.Config(embedding_dim=d, sites=list(sites)), n_instruments=n,
                channels=CHANNELS)


def randomize(film: FiLM) -> None:
    """Move the FiLM layers away from their identity initialisation."""
    with torch.no_grad():
        for p in film.parameters():
            p.add_(torch.randn_like(p))


def test_registered_and_built_from_spec():
    film = CONDITIONERS.build({"name": "film", "embedding_dim": 5}, n_instruments=3,
                              channels=CHANNELS)
    assert isinstance(film, FiLM)
    assert film.embedding_dim == 5
    assert film.instrument_embeddings().shape == (3, 5)


@pytest.mark.parametrize("sites", [["pre", "post"], ["pre"], ["post"], []])
@pytest.mark.parametrize("per_frame", [False, True])
def test_shapes_for_every_site_combination(sites, per_frame):
    film = make(sites)
    randomize(film)
    t = torch.randn(2, 7, 3) if per_frame else torch.randn(2, 3)
    for site, c in CHANNELS.items():
        h = torch.randn(2, 7, c)
        out = film(site, h, t)
        assert out.shape == h.shape
        if site in sites:
            assert not torch.allclose(out, h)
        else:
            assert out is h                       # inactive site: untouched


def test_identity_at_init():
    film = make()
    t = torch.randn(2, 3) * 10.0
    for site, c in CHANNELS.items():
        h = torch.randn(2, 5, c)
        torch.testing.assert_close(film(site, h, t), h)


def test_instruments_start_distinct():
    emb = make(n=10).instrument_embeddings()
    dist = torch.cdist(emb, emb) + torch.eye(10) * 1e3
    assert dist.min() > 1e-2


def test_embedding_of_one_hot_is_the_row():
    film = make()
    eye = torch.eye(4)
    torch.testing.assert_close(film.embed(eye), film.instrument_embeddings())


def test_mixing_is_linear_in_the_weights():
    film = make()
    rows = film.instrument_embeddings()
    w = torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    torch.testing.assert_close(film.embed(w), torch.stack([0.3 * rows[0] + 0.7 * rows[1],
                                                           rows.mean(0)]))
    a, b = torch.rand(4), torch.rand(4)
    torch.testing.assert_close(film.embed(2 * a - 3 * b), 2 * film.embed(a) - 3 * film.embed(b))


def test_modulation_is_affine_in_timbre():
    """gamma and beta are linear in t, so out(t) at the midpoint is the mean of the ends."""
    film = make()
    randomize(film)
    h = torch.randn(1, 4, 6)
    t0, t1 = torch.randn(1, 3), torch.randn(1, 3)
    mid = film("pre", h, (t0 + t1) / 2)
    torch.testing.assert_close(mid, (film("pre", h, t0) + film("pre", h, t1)) / 2)


def test_per_frame_morph_matches_constant_timbre_frame_by_frame():
    film = make()
    randomize(film)
    h = torch.randn(2, 6, 10)
    t_a, t_b = torch.randn(2, 3), torch.randn(2, 3)
    alpha = torch.linspace(0, 1, 6).view(1, 6, 1)
    morph = (1 - alpha) * t_a[:, None] + alpha * t_b[:, None]          # [2, 6, 3]
    out = film("post", h, morph)
    torch.testing.assert_close(out[:, 0], film("post", h, t_a)[:, 0])
    torch.testing.assert_close(out[:, -1], film("post", h, t_b)[:, -1])
    assert not torch.allclose(out[:, 0], film("post", h, t_b)[:, 0])


def test_gradients_reach_embedding_table_and_film_layers():
    film = make()
    randomize(film)
    h = torch.randn(2, 5, 6)
    t = film.embed(torch.eye(4)[[0, 2]])
    film("pre", h, t).square().sum().backward()
    assert film.embedding.grad is not None
    assert film.embedding.grad[[0, 2]].abs().sum() > 0
    assert film.embedding.grad[[1, 3]].abs().sum() == 0     # unused instruments
    assert film.gamma["pre"].weight.grad.abs().sum() > 0
    assert film.beta["pre"].bias.grad.abs().sum() > 0


@pytest.mark.parametrize("sites, fragment", [(["pre", "middle"], "unknown site 'middle'"),
                                             (["pre", "pre"], "listed once")])
def test_bad_sites_raise_recipe_error(sites, fragment):
    with pytest.raises(RecipeError, match=fragment):
        FiLM(FiLM.Config(sites=sites), n_instruments=2, channels=CHANNELS)


def test_bad_site_caught_when_parsing_the_spec():
    with pytest.raises(RecipeError, match=r"conditioner\.sites"):
        CONDITIONERS.parse({"name": "film", "sites": ["pree"]})


def test_bad_embedding_dim_raises_recipe_error():
    with pytest.raises(RecipeError, match="embedding_dim"):
        FiLM(FiLM.Config(embedding_dim=0), n_instruments=2, channels=CHANNELS)


def test_wrong_timbre_shape_is_rejected():
    film = make()
    with pytest.raises(ValueError, match="timbre"):
        film("pre", torch.randn(2, 5, 6), torch.randn(2, 4))
    with pytest.raises(ValueError, match="frames"):
        film("pre", torch.randn(2, 5, 6), torch.randn(2, 4, 3))
