"""Where S3 credentials come from, and one clear error when there are none or they are refused.

Two sources, for outputs (:class:`storage.Store`) and inputs (:func:`storage.discover`,
:func:`storage.localize`) alike:

1. the environment of the process that runs the flow (the Prefect worker's, or your shell's for
   ``pmrr process``): ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``,
   ``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``), ``AWS_PROFILE``, ``~/.aws/credentials``,
   an instance role: whatever botocore finds; this is the default;
2. a Prefect block, named by the ``credentials_block`` setting
   (:class:`flows.config.PipelineConfig`, ``--credentials-block``): a prefect-aws
   ``AwsCredentials`` block (keys, optional session token, profile, region and, in its
   ``aws_client_parameters``, the ``endpoint_url`` of an S3-compatible server).

Why ``AwsCredentials`` and not a ``Secret`` block: it is the block type Prefect operators already
use for AWS, the UI shows it as a form with the secret fields masked, and it holds what S3 needs
besides the keys (session token, region, endpoint URL) in named fields; a ``Secret`` would hold
an ad-hoc JSON string the UI cannot check. prefect-aws is small (itself and tenacity; its
boto3/aiobotocore needs are s3fs's already) and works with the pinned Prefect.

Without credentials botocore raises ``NoCredentialsError`` ("Unable to locate credentials")
before any request; refused ones come back as ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``
or ``AccessDenied``. :func:`raise_for_credentials` turns either into a
:class:`~storage.errors.CredentialsError` naming the URL and what to set.
"""

from __future__ import annotations

from typing import Any

from storage.errors import CredentialsError, StorageError

BLOCK_TYPE = "aws-credentials"
_S3_PROTOCOLS = ("s3://", "s3a://")
# error codes of S3 (and STS) meaning the keys are unknown, wrong, expired or not allowed
REFUSED_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
    }
)
ENV_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for an S3-compatible "
    "server) in the environment of the worker (or of `pmrr process`), or save them in a "
    "prefect-aws AwsCredentials block and name it in the credentials_block setting "
    "(--credentials-block NAME)"
)


def is_s3(url: str) -> bool:
    return str(url).startswith(_S3_PROTOCOLS)


def block_name(name: str) -> str:
    """``NAME`` or ``aws-credentials/NAME`` (the block's slug as the Prefect UI shows it)."""
    return name.removeprefix(BLOCK_TYPE + "/")


def storage_options(url: str, block: str | None) -> dict[str, Any]:
    """fsspec options for ``url``: the credentials of the ``AwsCredentials`` block ``block``
    when one is named and the URL is on S3; else none (s3fs then uses the environment)."""
    if not block or not is_s3(url):
        return {}
    try:
        from prefect_aws import AwsCredentials
    except ImportError as error:  # a project dependency: only a broken install gets here
        raise StorageError(
            f"{url}: credentials block {block!r} needs prefect-aws ({error})"
        ) from None
    try:
        creds = AwsCredentials.load(block_name(block))
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CredentialsError(
            f"{url}: cannot load the Prefect block {BLOCK_TYPE}/{block_name(block)} ({first}): "
            f"create it on the Prefect server the worker uses (README, Scheduled runs) or fix "
            f"the credentials_block setting"
        ) from None
    return options_from_block(creds)


def options_from_block(creds: Any) -> dict[str, Any]:
    """s3fs options from an ``AwsCredentials`` block. A block with ``assume_role_arn`` is
    resolved through boto3 into temporary keys (each flow and video resolves them again)."""
    options: dict[str, Any] = {}
    client: dict[str, Any] = {}
    if getattr(creds, "assume_role_arn", None):
        frozen = creds.get_boto3_session().get_credentials().get_frozen_credentials()
        options.update(key=frozen.access_key, secret=frozen.secret_key, token=frozen.token)
    else:
        if creds.aws_access_key_id:
            options["key"] = creds.aws_access_key_id
        if creds.aws_secret_access_key:
            options["secret"] = creds.aws_secret_access_key.get_secret_value()
        if creds.aws_session_token:
            options["token"] = creds.aws_session_token
        if creds.profile_name:
            options["profile"] = creds.profile_name
    if creds.region_name:
        client["region_name"] = creds.region_name
    params = creds.aws_client_parameters
    if params is not None:
        if params.endpoint_url:
            options["endpoint_url"] = params.endpoint_url
        if params.verify is False:
            client["verify"] = False
        elif params.verify_cert_path:
            client["verify"] = str(params.verify_cert_path)
    if client:
        options["client_kwargs"] = client
    return options


def credentials_problem(error: BaseException) -> tuple[str, str] | None:
    """``("missing" | "refused", reason)`` when ``error`` or an exception it was raised from is
    about credentials; else None."""
    from botocore import exceptions as bx

    missing = (
        bx.NoCredentialsError,
        bx.PartialCredentialsError,
        bx.CredentialRetrievalError,
        bx.ProfileNotFound,
    )
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, missing):
            return "missing", _one_line(current)
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            err = response.get("Error") or {}
            if err.get("Code") in REFUSED_CODES:
                return "refused", f"{err['Code']}: {_one_line(err.get('Message') or '')}"
        current = current.__cause__ or current.__context__
    return None


def credentials_message(error: BaseException, url: str, block: str | None = None) -> str | None:
    """One line naming ``url`` and what to set, when ``error`` is a credentials problem."""
    problem = credentials_problem(error)
    if problem is None:
        return None
    kind, reason = problem
    if block:
        where = f"the AwsCredentials block {block_name(block)!r}"
        fix = (
            f"fill in aws_access_key_id and aws_secret_access_key of {where} (Prefect UI: Blocks)"
            if kind == "missing"
            else f"correct the keys of {where} (Prefect UI: Blocks) and their rights on the bucket"
        )
    else:
        fix = ENV_HINT
    what = "no S3 credentials found" if kind == "missing" else "S3 refused the credentials"
    return f"{url}: {what} ({reason}): {fix}"


def raise_for_credentials(error: BaseException, url: str, block: str | None = None) -> None:
    """Raise :class:`CredentialsError` (from ``error``) when it is a credentials problem."""
    message = credentials_message(error, url, block)
    if message is not None:
        raise CredentialsError(message) from error


def _one_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__
