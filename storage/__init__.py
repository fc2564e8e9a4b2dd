"""Output storage on fsspec: versioned parquet schemas and an atomic per-video commit."""

from storage.errors import StorageError
from storage.schemas import SCHEMA_VERSION, SCHEMAS
from storage.store import Store, Transaction

__all__ = ["SCHEMAS", "SCHEMA_VERSION", "Store", "StorageError", "Transaction"]

from storage.inputs import discover, localize  # noqa: E402

__all__ += ["discover", "localize"]
