"""hms-recordings: a runtime for Naftiko capability files, with a first-class 100ms recordings capability."""

__version__ = "0.1.0"

__all__ = ["__version__"]
