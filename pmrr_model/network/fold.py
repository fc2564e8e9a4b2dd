"""Batch norm folded into the convolution before it, for inference.

In eval mode a BatchNorm is a fixed per-channel scale and shift, so it can be folded into the
weights and bias of the convolution that feeds it; the network then computes the same function
(to float rounding) without a separate pass over every feature map. ResNet-50 has 53 of them
and the feature pyramid 3. On a GPU each is a kernel of its own, around which cuDNN converts
memory layouts (the README's GPU section); on the CPU a pass over the map.

The folding itself is torch's (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`). What this
module adds is *which* pairs to fold. A pair is safe only where the BatchNorm reads the
convolution's output and nothing else does: consecutive children of an ``nn.Sequential``, and
the pairs a module lists in ``CONV_BN_PAIRS`` (its ``forward`` applies them in that way).
Registration order alone is not proof of data flow, so nothing else is folded.

Folded weights are no longer the checkpoint's: fold only a model that is used for inference
and never saved or trained afterwards (:class:`pmrr_model.inference.PMRRPredictor`).
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)


def _pairs(module: nn.Module) -> list[tuple[str, str]]:
    """(convolution name, BatchNorm name) pairs of ``module``'s own children that may fold."""
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        return [
            (a, b)
            for a, b in zip(names, names[1:], strict=False)
            if isinstance(module._modules[a], CONVOLUTIONS)
            and isinstance(module._modules[b], nn.BatchNorm2d)
        ]
    return list(getattr(module, "CONV_BN_PAIRS", ()))


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every safe (convolution, BatchNorm) pair of ``model`` in place: the convolution gets
    the BatchNorm's scale and shift, the BatchNorm becomes ``nn.Identity`` (so indices into a
    ``Sequential`` keep their meaning). Returns how many pairs were folded (0 the second time).
    ``model`` must be in eval mode: in training a BatchNorm uses the batch's statistics, not
    fixed ones."""
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (model.eval())")
    folded = 0
    for module in list(model.modules()):
        for conv_name, bn_name in _pairs(module):
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            if isinstance(bn, nn.Identity):  # folded before
                continue
            if not isinstance(conv, CONVOLUTIONS) or not isinstance(bn, nn.BatchNorm2d):
                raise TypeError(
                    f"{type(module).__name__}.CONV_BN_PAIRS names ({conv_name}, {bn_name}), "
                    f"which are {type(conv).__name__} and {type(bn).__name__}"
                )
            transpose = isinstance(conv, nn.ConvTranspose2d)
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn, transpose=transpose))
            setattr(module, bn_name, nn.Identity())
            folded += 1
    return folded
