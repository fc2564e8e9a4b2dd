"""Storage errors name the URL, so a batch log says which bucket/folder is the problem."""

from __future__ import annotations


class StorageError(OSError):
    """An output location cannot be read or written; the message names the URL."""


class CredentialsError(StorageError):
    """An S3 location cannot be used because no credentials were found or they were refused;
    the message names the URL and what to set (see :mod:`storage.credentials`)."""
