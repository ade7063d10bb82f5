"""``train.task`` → the trainer that runs it.

``mel2mel`` trains the synthesizer with :class:`~neuralsynth.training.mel2mel.Mel2MelTrainer`.
``vocoder`` trains the recipe's vocoder with the trainer that vocoder declares
(``Vocoder.trainer``, ``"package.module:ClassName"``), so a plugin vocoder brings its own
trainer and ``neuralsynth train`` runs it without any change here.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from neuralsynth.errors import PluginError, UsageError
from neuralsynth.recipe.sections import TASKS
from neuralsynth.training.base import TrainerBase


def _mel2mel(recipe: Any) -> type[TrainerBase]:
    from neuralsynth.training.mel2mel import Mel2MelTrainer

    return Mel2MelTrainer


def _vocoder(recipe: Any) -> type[TrainerBase]:
    return vocoder_trainer(recipe.vocoder["name"])


#: One entry per task a recipe can name (``TrainConfig.task``'s choices).
TRAINERS: dict[str, Callable[[Any], type[TrainerBase]]] = {
    "mel2mel": _mel2mel,
    "vocoder": _vocoder,
}
assert tuple(TRAINERS) == TASKS, "every train.task needs a trainer, and only those"


def vocoder_trainer(name: str) -> type[TrainerBase]:
    """The trainer class that vocoder ``name`` declares.

    Raises :class:`UsageError` when it declares none, and :class:`PluginError` when the
    declared reference does not import or is not a :class:`TrainerBase` subclass.
    """
    from neuralsynth.vocoders.base import VOCODERS

    ref = getattr(VOCODERS.get(name), "trainer", None)
    if not ref:
        raise UsageError(f"vocoder '{name}' declares no trainer, so it cannot be trained")
    module_name, sep, attr = str(ref).partition(":")
    try:
        if not sep:
            raise ImportError("expected 'package.module:ClassName'")
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"vocoder '{name}' declares trainer '{ref}', which cannot be "
                          f"loaded ({' '.join(str(exc).split())})") from None
    if not (isinstance(cls, type) and issubclass(cls, TrainerBase)):
        raise PluginError(f"vocoder '{name}' declares trainer '{ref}', which is not a "
                          f"TrainerBase subclass")
    return cls


def trainer_for(recipe: Any) -> type[TrainerBase]:
    """The trainer class for ``recipe.train.task``."""
    return TRAINERS[recipe.train.task](recipe)


__all__ = ["TRAINERS", "trainer_for", "vocoder_trainer"]
