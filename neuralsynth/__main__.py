"""``python -m neuralsynth``: the ``neuralsynth`` command, for launchers that run modules
(``torchrun --nproc_per_node 2 -m neuralsynth train RECIPE``)."""

from neuralsynth.cli.main import main

if __name__ == "__main__":
    main()
