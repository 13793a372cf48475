"""ParityLab's version: a leaf module (imports nothing), so any module of the package can read it."""

__version__ = "0.1.0"
