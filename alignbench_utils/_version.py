"""Single source of the package version recorded in every output."""

__version__ = "0.1.0"
