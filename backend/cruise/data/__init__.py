"""Data shipped with the cruise package: the licensed travel agencies."""
