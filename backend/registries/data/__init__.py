"""Data shipped with the registries package: the demo seed."""
