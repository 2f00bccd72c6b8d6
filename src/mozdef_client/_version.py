"""The one place the package version is kept."""

__version__ = "2.0.0.dev0"
