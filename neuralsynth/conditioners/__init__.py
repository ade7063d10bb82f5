from .base import CONDITIONERS, Conditioner

__all__ = ["CONDITIONERS", "Conditioner"]
