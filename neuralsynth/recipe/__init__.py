"""Recipes: YAML files that compose registered components, their loading and checking."""
