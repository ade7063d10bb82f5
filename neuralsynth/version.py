"""The package version: one home, read by the package, the CLI, checkpoints and setuptools."""

__version__ = "0.1.0"
