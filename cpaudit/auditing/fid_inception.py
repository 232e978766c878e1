"""The FID Inception network in pytorch-fid's form (Seitzer, pytorch-fid, `inception.py`), for its released
state dict `pt_inception-2015-12-05-6726825d.pth`: the TensorFlow FID graph of Heusel et al. (2017) ported
to torchvision's Inception-v3, whose blocks differ from it in two ways that change every feature:

- the average pools inside Mixed_5b-d, 6b-e and 7b do not count the zero padding (count_include_pad=False);
- the pooling branch of the last block (Mixed_7c) is a 3x3 max pool, not an average pool.

Inputs are RGB in [0, 1] at 299 x 299, scaled to [-1, 1]; the feature is the 2048-d global average pool
after Mixed_7c. The state dict must fit exactly (1008-way classifier included): a file that holds part of
the tensors, or another network's, is refused rather than half-loaded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.models.inception import Inception3, InceptionA, InceptionC, InceptionE


def _avg_no_pad(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(InceptionA):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_no_pad(x))], 1)


class FIDInceptionC(InceptionC):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_no_pad(x))], 1)


class FIDInceptionE(InceptionE):
    """Mixed_7b (average pool without padding counts) or, with max_pool, Mixed_7c."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_no_pad(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInception(torch.nn.Module):
    """x in [0, 1], (N, 3, 299, 299) -> (N, 2048) pool features of the TF FID graph."""

    def __init__(self) -> None:
        super().__init__()
        net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = (
            FIDInceptionA(192, 32),
            FIDInceptionA(256, 64),
            FIDInceptionA(288, 64),
        )
        net.Mixed_6b = FIDInceptionC(768, 128)
        net.Mixed_6c, net.Mixed_6d = FIDInceptionC(768, 160), FIDInceptionC(768, 160)
        net.Mixed_6e = FIDInceptionC(768, 192)
        net.Mixed_7b, net.Mixed_7c = FIDInceptionE(1280, max_pool=False), FIDInceptionE(2048, max_pool=True)
        self.net = net

    def load_fid_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Strict: every tensor of pytorch-fid's file, and nothing else (raises ValueError naming the misfit)."""
        own = self.net.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
        if missing or unexpected or wrong:
            raise ValueError(
                f"{len(missing)} missing, {len(unexpected)} unexpected and {len(wrong)} misshapen tensors "
                f"(first: {(missing + unexpected + wrong)[0]})"
            )
        self.net.load_state_dict(state, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = 2 * x - 1
        for layer in (
            n.Conv2d_1a_3x3,
            n.Conv2d_2a_3x3,
            n.Conv2d_2b_3x3,
            n.maxpool1,
            n.Conv2d_3b_1x1,
            n.Conv2d_4a_3x3,
            n.maxpool2,
            n.Mixed_5b,
            n.Mixed_5c,
            n.Mixed_5d,
            n.Mixed_6a,
            n.Mixed_6b,
            n.Mixed_6c,
            n.Mixed_6d,
            n.Mixed_6e,
            n.Mixed_7a,
            n.Mixed_7b,
            n.Mixed_7c,
        ):
            x = layer(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)
