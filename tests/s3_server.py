"""A real S3 endpoint for tests: ``moto_server`` in a subprocess, plus a switchable TCP proxy.

Why a server and not ``moto.mock_aws``: s3fs talks to S3 through aiobotocore over HTTP, which the
in-process mock does not intercept reliably; a server on 127.0.0.1 exercises the real client
path (signing, multipart upload, listing, copy+delete renames). The proxy sits between the client
and moto and can be cut, which is how a test makes the bucket unreachable half-way through a run
while the data already in moto survives (moto keeps everything in memory, so stopping the server
itself would lose it). Region eu-west-1: us-east-1 makes moto reject CreateBucket's location.

Use the fixtures through ``from tests.s3_server import s3, s3_proxy  # noqa: F401``; outside
pytest, :func:`moto_server` is a context manager.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answers(url: str, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"moto_server did not answer on {url} within {timeout_s} s")


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    process: subprocess.Popen

    def url(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, *parts])

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def _clear_fsspec_cache() -> None:
    """s3fs caches filesystem instances by constructor arguments, not by environment: without
    this a test would reuse a client pointing at a previous endpoint."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@contextmanager
def moto_process(env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``moto_server`` on a free port of 127.0.0.1 (extra environment ``env``), answering;
    yields (endpoint URL, process) and stops it on exit."""
    executable = shutil.which("moto_server")
    if executable is None:
        raise RuntimeError("moto_server not found: pip install 'moto[server]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_answers(endpoint + "/moto-api/", process)
        yield endpoint, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def moto_server() -> Iterator[S3Server]:
    """A moto S3 server on a free port, AWS_* variables pointing at it, and an empty bucket;
    the variables are restored on exit. Used by the fixture and by benchmarks/commit.py."""
    saved = {k: os.environ.get(k) for k in _ENV}
    try:
        with moto_process() as (endpoint, process):
            os.environ.update(
                AWS_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=REGION,
            )
            os.environ.pop("AWS_PROFILE", None)
            _clear_fsspec_cache()
            server = S3Server(endpoint, f"pmrr-test-{uuid.uuid4().hex[:8]}", process)
            server.client().create_bucket(
                Bucket=server.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clear_fsspec_cache()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """:func:`moto_server` for a test module."""
    if shutil.which("moto_server") is None:
        pytest.fail("moto_server not found: pip install 'moto[server]'")
    with moto_server() as server:
        yield server


_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


class Proxy:
    """TCP forwarder 127.0.0.1:port -> target; :meth:`cut` makes the endpoint unreachable
    (open connections are closed, new ones refused), :meth:`restore` brings it back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self._listener is not None:
            # close() alone does not wake a thread blocked in accept(): the next client would
            # still be accepted and forwarded. shutdown() does (Linux).
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()


@pytest.fixture
def s3_proxy(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """Route the S3 client through a :class:`Proxy` in front of the module's moto server."""
    proxy = Proxy(int(s3.endpoint.rsplit(":", 1)[1]))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    _clear_fsspec_cache()
    try:
        yield proxy
    finally:
        proxy.cut()
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
        _clear_fsspec_cache()
