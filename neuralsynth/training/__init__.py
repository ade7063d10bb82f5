"""Training: the loop behind ``neuralsynth train``, and the trainers it can run."""
