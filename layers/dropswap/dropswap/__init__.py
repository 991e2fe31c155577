"""dropswap: the shared package of the dropswap Lambda functions (deployed as a layer)."""

__version__ = "0.1.0"
