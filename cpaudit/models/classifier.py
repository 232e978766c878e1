"""Time-conditioned binary classifier p_phi(y = 1 | x_t, t): a residual conv encoder with a timestep
embedding and a linear head on the pooled features. It returns the logit."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cpaudit.models.blocks import ResBlock, TimeEmbedding, group_norm


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    image_size: int = 8
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        return cls(
            in_channels=int(d["in_channels"]),
            image_size=int(d["image_size"]),
            base_channels=int(d["base_channels"]),
            channel_mult=tuple(int(c) for c in d["channel_mult"]),
            num_res_blocks=int(d["num_res_blocks"]),
        )


class TimeClassifier(nn.Module):
    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.base_channels
        t_dim = 4 * ch
        self.time = TimeEmbedding(ch, t_dim)
        self.stem = nn.Conv2d(cfg.in_channels, ch, 3, padding=1)
        self.blocks = nn.ModuleList()
        c = ch
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                self.blocks.append(ResBlock(c, ch * mult, t_dim))
                c = ch * mult
            if level < len(cfg.channel_mult) - 1:
                self.blocks.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.norm = group_norm(c)
        self.head = nn.Linear(c, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W), t: (N,) -> logit of p(y = 1 | x_t, t), shape (N,)."""
        emb = self.time(t)
        h = self.stem(x)
        for block in self.blocks:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
        h = F.silu(self.norm(h)).mean(dim=(2, 3))
        return self.head(h).squeeze(1)
