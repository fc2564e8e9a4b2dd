"""Run a TensorFlow.js graph model (``model.json`` + weight shards) with torch operations.

Why our own: the models here ship in npm packages in TF.js's graph format, and what reads that
format in Python is TensorFlow itself (the ``tensorflowjs`` converter), about 600 MB for one
small network. The format is plain data: a JSON GraphDef (nodes, ops, attributes) and a
manifest of little-endian weight arrays, some stored as float16. A graph is run node by node in
the file's order (the converter writes it topologically sorted), each node by its torch
equivalent; only the operations MoveNet's graphs use are implemented, and any other is refused
by name when the model is loaded, never guessed. Nothing in the files is executed as code.

Tensors keep TensorFlow's NHWC layout between nodes; convolutions permute to torch's NCHW and
back, and pad "SAME" as TensorFlow does (the extra row and column at the end, for stride 2).
Against TensorFlow 2.21 on a real photo the outputs agree to 1e-6 (``tests/test_movenet.py``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

_DTYPES = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8}
_CONVOLUTIONS = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")
_ELEMENTWISE = {
    "Sub": torch.sub,
    "AddV2": torch.add,
    "Mul": torch.mul,
    "RealDiv": torch.div,
    "SquaredDifference": lambda x, y: (x - y) ** 2,
    "FloorDiv": lambda x, y: torch.div(x, y, rounding_mode="floor"),
}
_STRUCTURAL = (
    "Const", "Placeholder", "Identity", "Cast", "Unpack", "Pack", "ExpandDims", "Squeeze",
    "Reshape", "ConcatV2", "GatherNd", "ArgMax", "Sqrt", "Sigmoid", "ResizeBilinear",
)  # fmt: skip
SUPPORTED_OPS = frozenset((*_CONVOLUTIONS, *_ELEMENTWISE, *_STRUCTURAL))


class TfjsModelError(ValueError):
    """A TF.js model file is missing, damaged or uses an operation not implemented here; the
    message names the file."""


def read_weights(model_json: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """The weight arrays of ``manifest`` (the shards next to ``model_json``), by name;
    float16-stored ones widened to their original type."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        shards = [model_json.parent / p for p in group["paths"]]
        for shard in shards:
            if not shard.is_file():
                raise TfjsModelError(f"{shard}: weight file of {model_json.name} not found")
        data = b"".join(p.read_bytes() for p in shards)
        offset = 0
        for entry in group["weights"]:
            shape = [int(s) for s in entry["shape"]]
            count = int(np.prod(shape)) if shape else 1
            stored = (entry.get("quantization") or {}).get("dtype", entry["dtype"])
            if stored not in _DTYPES or entry["dtype"] not in _DTYPES:
                raise TfjsModelError(f"{model_json}: {entry['name']} has dtype {stored}")
            dtype = np.dtype(_DTYPES[stored])
            if offset + count * dtype.itemsize > len(data):
                raise TfjsModelError(
                    f"{shards[0]}: shorter than its manifest says ({len(data)} bytes; "
                    f"{entry['name']} needs {offset + count * dtype.itemsize})"
                )
            array = np.frombuffer(data, dtype, count, offset).reshape(shape)
            offset += count * dtype.itemsize
            quantization = entry.get("quantization")
            if quantization and quantization["dtype"] == "uint8":
                array = array * np.float32(quantization["scale"]) + np.float32(quantization["min"])
            weights[entry["name"]] = array.astype(_DTYPES[entry["dtype"]])
        if offset != len(data):
            raise TfjsModelError(f"{shards[0]}: {len(data) - offset} bytes more than its manifest")
    return weights


def _text(attr: dict, key: str) -> str:
    return base64.b64decode(attr[key]["s"]).decode()


def _ints(attr: dict, key: str, default: tuple[int, ...] = ()) -> list[int]:
    return [int(i) for i in attr[key]["list"].get("i", [])] if key in attr else list(default)


def _pad_same(x: torch.Tensor, kernel: tuple[int, int], stride: int, dilation: int):
    """TensorFlow's "SAME" padding of NCHW ``x``: the odd pixel goes after, not before."""
    pads: list[int] = []
    for size, k in ((x.shape[3], kernel[1]), (x.shape[2], kernel[0])):
        total = max((-(-size // stride) - 1) * stride + (k - 1) * dilation + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class TfjsGraph:
    """A loaded graph model; ``run`` maps the input placeholder's array to the named output."""

    def __init__(self, model_json: str | Path, output: str = "Identity") -> None:
        self.path = Path(model_json)
        try:
            model = json.loads(self.path.read_text())
            self.nodes: list[dict] = model["modelTopology"]["node"]
            manifest = model["weightsManifest"]
        except FileNotFoundError:
            raise TfjsModelError(f"{self.path}: model file not found") from None
        except (ValueError, KeyError, TypeError) as error:
            raise TfjsModelError(f"{self.path}: not a TF.js graph model ({error})") from None
        unknown = sorted({n["op"] for n in self.nodes} - SUPPORTED_OPS)
        if unknown:
            raise TfjsModelError(f"{self.path}: operations not implemented here: {unknown}")
        for node in self.nodes:
            attr = node.get("attr", {})
            if node["op"] == "ResizeBilinear" and not attr.get("half_pixel_centers", {}).get("b"):
                raise TfjsModelError(
                    f"{self.path}: {node['name']} resizes without half-pixel centres"
                )
        self.output = output
        self.constants = {
            name: torch.from_numpy(np.array(array))
            for name, array in read_weights(self.path, manifest).items()
        }
        self._filters: dict[str, torch.Tensor] = {}

    def _filter(self, name: str, depthwise: bool) -> torch.Tensor:
        """A convolution's HWIO (or HW,C,1 depthwise) filter in torch's OIHW, cached."""
        if name not in self._filters:
            w = self.constants[name].float()
            if depthwise:
                w = w.permute(2, 3, 0, 1).reshape(-1, 1, w.shape[0], w.shape[1])
            else:
                w = w.permute(3, 2, 0, 1)
            self._filters[name] = w.contiguous()
        return self._filters[name]

    def _convolve(self, node: dict, inputs: list[torch.Tensor]) -> torch.Tensor:
        attr, op = node["attr"], node["op"]
        depthwise = op != "_FusedConv2D"
        stride = _ints(attr, "strides")[1]
        dilation = _ints(attr, "dilations", (1, 1, 1, 1))[1]
        w = self._filter(node["input"][1], depthwise)
        x = inputs[0].permute(0, 3, 1, 2)
        if _text(attr, "padding") == "SAME":
            x = _pad_same(x, w.shape[2:], stride, dilation)
        y = F.conv2d(x, w, stride=stride, dilation=dilation, groups=x.shape[1] if depthwise else 1)
        y = y.permute(0, 2, 3, 1)
        listed = attr.get("fused_ops", {}).get("list", {}).get("s", [])
        fused = [base64.b64decode(s).decode() for s in listed]
        if "BiasAdd" in fused:
            y = y + inputs[2].float()
        if "Relu6" in fused:
            y = y.clamp(0.0, 6.0)
        elif "Relu" in fused:
            y = y.clamp(min=0.0)
        return y

    @torch.no_grad()
    def run(self, inputs: np.ndarray) -> np.ndarray:
        values: dict[str, torch.Tensor] = {}

        def value(name: str) -> torch.Tensor:
            if name in values:
                return values[name]
            name = name.removesuffix(":0")
            return values[name] if name in values else self.constants[name]

        for node in self.nodes:
            op, name, attr = node["op"], node["name"], node.get("attr", {})
            if op == "Const":
                continue
            args = [value(i) for i in node.get("input", []) if not i.startswith("^")]
            if op == "Placeholder":
                out = torch.from_numpy(np.asarray(inputs))
            elif op in _CONVOLUTIONS:
                out = self._convolve(node, args)
            elif op in _ELEMENTWISE:
                x, y = args
                if x.is_floating_point() or y.is_floating_point():
                    x, y = x.float(), y.float()
                out = _ELEMENTWISE[op](x, y)
            elif op == "Unpack":
                for k, part in enumerate(torch.unbind(args[0], int(attr["axis"].get("i", 0)))):
                    values[f"{name}:{k}" if k else name] = part
                continue
            else:
                out = self._structural(op, attr, args)
            values[name] = out
        return values[self.output].numpy()

    @staticmethod
    def _structural(op: str, attr: dict, args: list[torch.Tensor]) -> torch.Tensor:
        if op == "Identity":
            return args[0]
        if op == "Cast":
            return args[0].float() if attr["DstT"]["type"] == "DT_FLOAT" else args[0].long()
        if op == "Pack":
            return torch.stack(args, int(attr["axis"].get("i", 0)))
        if op == "ExpandDims":
            return args[0].unsqueeze(int(args[1]))
        if op == "Squeeze":
            out = args[0]
            for dim in sorted(_ints(attr, "squeeze_dims"), reverse=True):
                out = out.squeeze(dim)
            return out
        if op == "Reshape":
            return args[0].reshape([int(s) for s in args[1].reshape(-1)])
        if op == "ConcatV2":
            parts = args[:-1]
            floating = any(p.is_floating_point() for p in parts)
            return torch.cat([p.float() if floating else p.long() for p in parts], int(args[-1]))
        if op == "GatherNd":
            params, index = args[0], args[1].long()
            return params[tuple(index[..., k] for k in range(index.shape[-1]))]
        if op == "ArgMax":
            return args[0].argmax(int(args[1]))
        if op == "Sqrt":
            return args[0].sqrt()
        if op == "Sigmoid":
            return args[0].sigmoid()
        if op == "ResizeBilinear":  # half-pixel centres, as checked on loading
            size = [int(s) for s in args[1]]
            x = args[0].permute(0, 3, 1, 2)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False).permute(
                0, 2, 3, 1
            )
        raise TfjsModelError(f"operation {op} not implemented")
