"""The one configuration of a run: a typed, validated pydantic model.

It is the ``config`` parameter of the Prefect flows (so the Prefect UI renders a form with
choices for every Literal field), the source the ``pmrr process`` options are generated from
(:func:`pmrr_interviews.cli.add_config_options`), and what ``prefect.yaml`` fills (a test
validates every deployment's parameters against it). Invalid values fail here, naming the field,
before any frame is decoded; unknown keys are refused (a typo such as ``smoothig`` is an error,
not a silently ignored option).

Which fields change which results is decided in :mod:`flows.identity`, not here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

Estimator = Literal["landmark-fit", "pmrr", "pmrr+fit"]
Detector = Literal["mediapipe", "mmdet"]
Smoothing = Literal["offline", "gaussian", "online", "none"]
Precision = Literal["fp32", "bf16"]
Role = Literal["interviewer", "interviewee", "other"]

#: ``chunk_size`` when none is given. The landmark fit warm-starts a chunk's frames from the
#: solution before it, so its chunks stay short.
CHUNK_FRAMES = 32
#: ... and for ``--estimator pmrr`` on a GPU, which sends a chunk's crops through the network
#: together: 256 frames of two people fill one batch of
#: :data:`pmrr_model.estimators.pmrr_estimator.GPU_BATCH` (512) crops, where 32 frames gave 64
#: crops a batch, between the H200's batch-32 and batch-128 speeds, a third and seven tenths of
#: its batch-512 speed (README, "On a GPU"). Memory: one
#: chunk of decoded frames is 256 x H x W x 3 bytes (180 MB at 640x360, 1.6 GB at 1080p).
GPU_CHUNK_FRAMES = 256

# One roles override per video: the key is the video's id (content hash) or its file name.
RolesByVideo = dict[str, dict[int, Role]]


class ConfigError(ValueError):
    """The run configuration is invalid; the message names each bad field."""


class PipelineConfig(BaseModel):
    """Settings of a run. Field descriptions are the CLI's help texts."""

    # NaN and infinity are refused as such (a NaN passed "gt=0" and failed "le=5", misleadingly)
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    estimator: Estimator = Field(
        "landmark-fit",
        description="per-person body estimator: offline landmark fit, PMRR (needs --checkpoint), "
        "or PMRR refined by the fit",
    )
    checkpoint: str | None = Field(None, description="PMRR checkpoint ({'model': state_dict})")
    data_dir: str | None = Field(
        None, description="folder with the SMPL files in the seed's data/ layout"
    )
    device: str = Field(
        "cpu", pattern=r"^(cpu|cuda(:\d+)?|mps)$", description="torch device: cpu, cuda, cuda:1"
    )
    precision: Precision | None = Field(
        None,
        validate_default=True,
        description="PMRR network precision, --estimator pmrr only (unset: bf16 on a cuda "
        "device, whose vertices are within 1 mm of fp32's; fp32 otherwise)",
    )
    detector: Detector = Field("mediapipe", description="person detector")
    detector_config: str | None = Field(None, description="mmdet config file")
    detector_checkpoint: str | None = Field(None, description="mmdet checkpoint file")
    detect_every_k: int = Field(
        3, ge=1, le=60, description="detect on every k-th frame, boxes interpolated in between"
    )
    split_screen: bool = Field(
        True,
        description="find a video call's split-screen tiles and detect and estimate each person "
        "within their own tile (tasks/layout.py); off: every frame is one picture",
    )
    estimate_every_k: int = Field(
        1,
        ge=1,
        le=10,
        description="estimate bodies on every k-th frame of each track, parameters interpolated "
        "in between (faster by about k on the estimate stage)",
    )
    smoothing: Smoothing = Field(
        "offline",
        description="offline: zero-lag Gaussian with a per-joint width; gaussian: fixed width; "
        "online: One-Euro; none",
    )
    smoothing_sigma_s: float = Field(
        0.2, gt=0, le=5, description="widest kernel offline may use; the fixed width of gaussian"
    )
    people_max_distance: float = Field(
        0.25,
        ge=0,
        le=1,
        description="tracks of different shots whose clothing and head colours are closer than "
        "this (0-1) are one person (the tracks table's person_id); 0: every track its own person",
    )
    chunk_size: int | None = Field(
        None,
        ge=1,
        le=4096,
        validate_default=True,
        description=f"frames per decode/estimate batch (unset: {GPU_CHUNK_FRAMES} for estimator "
        f"pmrr on a cuda device, whose crops go through the network together; {CHUNK_FRAMES} "
        "otherwise)",
    )
    unit_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="longest span of a shot detected, tracked and estimated as one unit of work "
        "(the unit a Dask worker takes; tracks are joined across span borders)",
    )
    # Where the units run; changes no result, so no fingerprint (flows.identity).
    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="Dask worker processes started on this machine for the units of work "
        "(1: everything in this process; with device cuda, one worker per GPU)",
    )
    cluster: str | None = Field(
        None,
        pattern=r"^(tcp|tls|ucx|inproc)://\S+$",
        description="address of a running Dask scheduler to send the units of work to "
        "(tcp://host:8786); its workers need this project installed and the input files",
    )
    render: bool = Field(True, description="write renders/<video_id>.mp4")
    render_max_side: int = Field(
        1280,
        ge=0,
        le=16384,
        description="longest side of the render in pixels: a larger video is drawn scaled down "
        "(HD and 4K renders cost more than the rest of the pipeline); 0: the video's own size",
    )
    analytics: bool = Field(True, description="compute the body-language tables and plots")
    export_npz: bool = Field(True, description="write exports/<video_id>/track_<n>.npz")
    roles: RolesByVideo = Field(
        default_factory=dict,
        description="roles override: {video_id or file name: {track_id: role}}; "
        "a JSON string or a .json file on the command line",
    )
    # Where s3:// credentials come from; changes no result, so no fingerprint (flows.identity).
    credentials_block: str | None = Field(
        None,
        description="name of a Prefect AwsCredentials block (prefect-aws) with the S3 keys "
        "and endpoint for s3:// inputs and outputs; unset: the worker's environment "
        "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL) or AWS config files",
    )

    @field_validator("precision")
    @classmethod
    def _precision_for_the_device(cls, value: str | None, info: ValidationInfo) -> str:
        """bf16 where the scale-out issue allows it: PMRR on a GPU (vertices 0.31 mm from fp32's
        at most on the H200, 0.3 mm on this CPU, tests/test_network.py bounds them at 1 mm),
        which it ran 1.3x as fast at batch 512. Not on a CPU, where bf16 is only fast on chips
        with bf16 instructions. As for ``chunk_size``, the config holds the value taken."""
        if value is not None:
            return value
        return "bf16" if _pmrr_on_a_gpu(info) else "fp32"

    @field_validator("chunk_size")
    @classmethod
    def _chunk_for_the_device(cls, value: int | None, info: ValidationInfo) -> int:
        """The number itself, also where the default was taken, so that it is what the run's
        fingerprints, its recorded configuration and the stages read."""
        if value is not None:
            return value
        return GPU_CHUNK_FRAMES if _pmrr_on_a_gpu(info) else CHUNK_FRAMES

    @model_validator(mode="after")
    def _consistent(self) -> PipelineConfig:
        if self.estimator in ("pmrr", "pmrr+fit") and not self.checkpoint:
            raise ValueError(f"checkpoint: estimator {self.estimator!r} needs a PMRR checkpoint")
        if self.detector == "mmdet" and not (self.detector_config and self.detector_checkpoint):
            raise ValueError("detector_config, detector_checkpoint: detector 'mmdet' needs both")
        if self.precision == "bf16" and self.estimator != "pmrr":
            raise ValueError("precision: bf16 applies to estimator 'pmrr' only")
        for field in ("checkpoint", "detector_config", "detector_checkpoint"):
            value = getattr(self, field)
            if value and "://" not in value and not Path(value).is_file():
                raise ValueError(f"{field}: {value}: no such file")
        if self.workers > 1 and self.cluster:
            raise ValueError("workers, cluster: give one (workers starts a local cluster)")
        if (self.workers > 1 or self.cluster) and self.device.startswith("cuda:"):
            raise ValueError(
                "device: with workers or cluster use 'cuda' (each worker is given its own GPU)"
            )
        if self.data_dir and not Path(self.data_dir).is_dir():
            raise ValueError(f"data_dir: {self.data_dir}: no such folder")
        return self

    def roles_for(self, video_id: str, source: str) -> dict[int, str] | None:
        """The override of one video, looked up by id first, then by file name."""
        found = self.roles.get(video_id) or self.roles.get(Path(source).name)
        return dict(found) if found else None


def _pmrr_on_a_gpu(info: ValidationInfo) -> bool:
    """The fields validated so far ask for the PMRR network on a CUDA device (where the device
    defaults of ``precision`` and ``chunk_size`` differ)."""
    on_gpu = str(info.data.get("device", "")).startswith("cuda")
    return on_gpu and info.data.get("estimator") == "pmrr"


def load_config(values: PipelineConfig | dict | None = None, **overrides) -> PipelineConfig:
    """A validated config from a model, a dict (Prefect parameters, JSON) and/or keywords.

    Raises :class:`ConfigError` with one line per bad field (pydantic's own wording). Of a model
    only the fields set in it are kept, so a default that depends on other fields
    (``chunk_size``) follows the overrides."""
    if isinstance(values, PipelineConfig):
        base = values.model_dump(exclude_unset=True)
    else:
        base = dict(values or {})
    try:
        return PipelineConfig(**{**base, **overrides})
    except ValidationError as error:
        lines = []
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"]) or "config"
            lines.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from None


def parse_roles(text: str) -> RolesByVideo:
    """``--roles``: a JSON object, or the path of a .json file holding one."""
    path = Path(text)
    if path.suffix == ".json":
        if not path.is_file():
            raise ConfigError(f"roles: {text}: no such file")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigError(f"roles: {text}: not valid JSON ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"roles: not JSON and not a .json file ({error})") from None
