"""Opsflow: design, run and debug IT process automation flows."""

__version__ = "0.1.0"
