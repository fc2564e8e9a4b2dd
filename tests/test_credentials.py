"""S3 credentials: from the environment or a Prefect AwsCredentials block; none or refused ones
give one line naming the URL and what to set, never botocore's bare ``NoCredentialsError``.

Plain moto accepts any keys, so the refused-keys tests use a second moto server that checks
them (``INITIAL_NO_AUTH_ACTION_COUNT``: after the first requests, which create an IAM user and
its keys, every request must be signed with those keys). That server also refuses correct keys
on a listing with a prefix (moto 5.2 signs ``in%2F`` differently), so full runs use the plain
server of :mod:`tests.s3_server`, with no keys in the environment: the run can only work with the
block's keys and endpoint. Missing credentials are found by botocore before any request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from flows.archive import process_archive
from pmrr_interviews import samples
from storage import Store, discover, localize
from storage.credentials import storage_options
from storage.errors import CredentialsError, StorageError
from tests.s3_server import (
    REGION,
    S3Server,
    _clear_fsspec_cache,
    moto_process,
    s3,  # noqa: F401
)

ROOT = Path(__file__).resolve().parent.parent
AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)
FAST = {"render": False, "analytics": False, "export_npz": False}
BLOCK = "pmrr-test-s3"


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No AWS keys anywhere botocore looks: no variables, empty config and credentials files,
    no instance metadata. Returns the variables to set for a subprocess."""
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    setting = {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    _clear_fsspec_cache()
    yield setting
    _clear_fsspec_cache()


def _assert_clear(message: str, url: str, kind: str = "no S3 credentials found") -> None:
    """One line: the URL, what is wrong, and the variables or the block setting to set."""
    assert message.startswith(f"{url}: {kind} ("), message
    assert "\n" not in message and "Traceback" not in message
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "worker" in message and "--credentials-block" in message


# (i) no credentials ---------------------------------------------------------------------------
def test_no_credentials_output_is_one_clear_line(s3: S3Server, no_credentials) -> None:  # noqa: F811
    url = s3.url("out")
    with pytest.raises(CredentialsError) as error:
        Store(url).check_writable()
    assert isinstance(error.value, StorageError)
    _assert_clear(str(error.value), url)
    assert "Unable to locate credentials" in str(error.value)


def test_no_credentials_inputs_are_named(s3: S3Server, no_credentials) -> None:  # noqa: F811
    folder, video = s3.url("in/"), s3.url("in", "clip.mp4")
    found, problems = discover([folder])
    assert found == [] and len(problems) == 1 and problems[0][0] == folder
    _assert_clear(problems[0][1], folder)
    with pytest.raises(CredentialsError) as error:
        localize(video, "/nonexistent-cache")
    _assert_clear(str(error.value), video)


def test_pmrr_process_without_credentials_prints_one_line(
    s3: S3Server,  # noqa: F811
    no_credentials,
    tmp_path: Path,
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never read: the output check fails first")
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    env.update(no_credentials, AWS_ENDPOINT_URL=s3.endpoint)
    url = s3.url("cli-out")
    done = subprocess.run(
        [shutil.which("pmrr") or "pmrr", "process", str(clip), "--out", url, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "NoCredentialsError" not in output, output
    (line,) = [ln for ln in output.splitlines() if "no S3 credentials found" in ln]
    assert line.startswith(f"FAILED  {clip}: {url}: no S3 credentials found"), line
    assert "AWS_ACCESS_KEY_ID" in line and "--credentials-block" in line


# a moto server that checks the keys ------------------------------------------------------------
@dataclass
class StrictS3:
    endpoint: str
    bucket: str
    key: str
    secret: str

    def url(self, *parts: str) -> str:
        return "s3://" + "/".join([self.bucket, *parts])

    def client(self, key: str | None = None, secret: str | None = None):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
        )


@pytest.fixture(scope="module")
def strict_s3() -> Iterator[StrictS3]:
    import boto3

    if shutil.which("moto_server") is None:
        pytest.fail("moto_server not found: pip install 'moto[server]'")
    # the first 3 requests (create user, keys, policy) need no keys; every later one does
    with moto_process({"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as (endpoint, _process):
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="pmrr")
        keys = iam.create_access_key(UserName="pmrr")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName="pmrr", PolicyName="all", PolicyDocument=json.dumps(policy))
        server = StrictS3(endpoint, "pmrr-strict", keys["AccessKeyId"], keys["SecretAccessKey"])
        server.client().create_bucket(
            Bucket=server.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield server


def test_refused_keys_are_named(
    strict_s3: StrictS3, no_credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", strict_s3.endpoint)
    url = strict_s3.url("out")
    for key, secret, code in (
        ("AKIAUNKNOWNUNKNOWN00", "whatever", "InvalidAccessKeyId"),
        (strict_s3.key, "not-the-secret", "SignatureDoesNotMatch"),
    ):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        _clear_fsspec_cache()
        with pytest.raises(CredentialsError) as error:
            Store(url).check_writable()
        _assert_clear(str(error.value), url, "S3 refused the credentials")
        assert f"({code}: " in str(error.value)
        found, problems = discover([strict_s3.url("in/")])
        assert not found and "S3 refused the credentials" in problems[0][1]


# (ii) credentials from a Prefect block -----------------------------------------------------------
@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """A real Prefect server with its own database for this module (the block is saved there)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def block(s3: S3Server, prefect_api) -> str:  # noqa: F811
    """An AwsCredentials block with the plain moto server's keys and endpoint."""
    from prefect_aws import AwsCredentials

    AwsCredentials(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
        aws_client_parameters={"endpoint_url": s3.endpoint},
    ).save(BLOCK, overwrite=True)
    return BLOCK


def test_block_options_and_a_missing_block(s3: S3Server, block: str) -> None:  # noqa: F811
    options = storage_options(s3.url("x"), block)
    assert options == {
        "key": "testing",
        "secret": "testing",
        "endpoint_url": s3.endpoint,
        "client_kwargs": {"region_name": REGION},
    }
    assert storage_options(s3.url("x"), f"aws-credentials/{block}") == options
    assert storage_options("/local/folder", block) == {}  # only s3:// uses the block
    assert storage_options(s3.url("x"), None) == {}  # the environment's
    with pytest.raises(CredentialsError, match=rf"{s3.url('x')}: cannot load the Prefect block"):
        Store(s3.url("x"), credentials_block="no-such-block")


def test_block_keys_are_used_and_refused_ones_name_the_block(
    strict_s3: StrictS3, prefect_api, no_credentials
) -> None:
    """On the server that checks keys: the block's keys work (the environment has none), and a
    block with a stale secret gives one line naming the block."""
    from prefect_aws import AwsCredentials

    for name, secret in (("pmrr-strict", strict_s3.secret), ("pmrr-stale", "stale-secret")):
        AwsCredentials(
            aws_access_key_id=strict_s3.key,
            aws_secret_access_key=secret,
            aws_client_parameters={"endpoint_url": strict_s3.endpoint},
        ).save(name, overwrite=True)
    url = strict_s3.url("out")
    Store(url, credentials_block="pmrr-strict").check_writable()
    with pytest.raises(CredentialsError) as error:
        Store(url, credentials_block="pmrr-stale").check_writable()
    message = str(error.value)
    assert message.startswith(f"{url}: S3 refused the credentials (SignatureDoesNotMatch: ")
    assert "AwsCredentials block 'pmrr-stale'" in message and "\n" not in message


def test_run_works_with_credentials_from_the_block(
    s3: S3Server,  # noqa: F811
    block: str,
    no_credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker has no keys and no endpoint: input discovery and download, output check,
    commit and manifest all go through the block's keys and endpoint."""
    clip = samples.carphone_clip(samples.cache_dir(), seconds=1.0)
    s3.client().upload_file(str(clip), s3.bucket, "block-in/clip.mp4")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    inputs, out = [s3.url("block-in/")], s3.url("block-out")
    with pytest.raises(CredentialsError, match="no S3 credentials found"):  # without the block
        process_archive(inputs, out, config=FAST)
    rows = process_archive(inputs, out, config={**FAST, "credentials_block": block})
    assert [r["status"] for r in rows] == ["ok"], rows
    store = Store(out, credentials_block=block)
    assert store.committed_videos() == [rows[0]["video_id"]]
    smpl = pd.read_parquet(s3.url("block-out", "smpl"), storage_options=storage_options(out, block))
    assert len(smpl) == rows[0]["person_frames"] > 0
