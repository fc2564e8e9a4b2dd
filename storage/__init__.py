"""Output storage on fsspec: versioned parquet schemas and an atomic per-video commit."""

from storage.errors import StorageError
from storage.schemas import SCHEMA_VERSION, SCHEMAS
from storage.store import ARTIFACTS, Store, Transaction, check_video_id, output_relpath

__all__ = [
    "ARTIFACTS",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "Store",
    "StorageError",
    "Transaction",
    "check_video_id",
    "output_relpath",
]

from storage.inputs import VIDEO_SUFFIXES, discover, localize  # noqa: E402

__all__ += ["VIDEO_SUFFIXES", "discover", "localize"]
