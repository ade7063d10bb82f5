"""A t-SNE view of a timbre space of more than two dimensions (the paper's Figure 17).

The first two principal axes (:func:`embedding_projection`) are a linear shadow of the
space: instruments far apart in ten dimensions can land on top of each other. t-SNE
(van der Maaten & Hinton, 2008) instead keeps who is near whom, which is the question a
timbre map answers ("what sounds like a clarinet?"); distances between far-apart groups
and the axes themselves mean nothing. scikit-learn does the fitting (the ``eval`` extra).
"""

from __future__ import annotations

import numpy as np

from neuralsynth.errors import UsageError

#: Neighbourhood size t-SNE balances (scikit-learn's default); capped below the number
#: of points for tiny spaces.
PERPLEXITY = 30.0


def tsne_layout(points: np.ndarray, anchors: np.ndarray, *, seed: int = 0,
                perplexity: float = PERPLEXITY) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE positions of ``points [P, D]`` and ``anchors [n, D]`` (the instruments),
    fitted together so both live in one picture: ``([P, 2], [n, 2])``.

    Seeded and initialised from PCA, so the same space gives the same picture.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise UsageError("the t-SNE view needs scikit-learn: pip install "
                         "'neuralsynth[eval]'") from None
    both = np.concatenate([np.asarray(anchors, np.float64),
                           np.asarray(points, np.float64)])
    if both.shape[0] < 4:
        raise UsageError(f"a t-SNE view needs at least 4 points, got {both.shape[0]}")
    perplexity = min(perplexity, (both.shape[0] - 1) / 3.0)
    layout = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                  learning_rate="auto").fit_transform(both)
    n = len(anchors)
    return layout[n:], layout[:n]


__all__ = ["tsne_layout", "PERPLEXITY"]
