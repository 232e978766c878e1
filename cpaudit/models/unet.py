"""A small UNet eps_theta(x_t, t) for DDPM (Ho et al. 2020), sized by UNetConfig."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import cast

import torch
from torch import nn

from cpaudit.errors import ConfigError
from cpaudit.models.blocks import ResBlock, SelfAttention, TimeEmbedding, group_norm


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 1
    image_size: int = 8
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = field(default_factory=tuple)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        step = 2 ** (len(self.channel_mult) - 1)  # the UNet halves the image this many times
        if self.image_size % step != 0:
            down, up = self.image_size - self.image_size % step, self.image_size + step - self.image_size % step
            raise ConfigError(
                f"images are {self.image_size}x{self.image_size}, but this UNet needs sides divisible by {step}: "
                f"pass --resize {down}x{down} or --resize {up}x{up}"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        return cls(
            in_channels=int(d["in_channels"]),
            image_size=int(d["image_size"]),
            base_channels=int(d["base_channels"]),
            channel_mult=tuple(int(c) for c in d["channel_mult"]),
            num_res_blocks=int(d["num_res_blocks"]),
            attention_resolutions=tuple(int(r) for r in d.get("attention_resolutions", ())),
            dropout=float(d.get("dropout", 0.0)),
        )


class UNet(nn.Module):
    """Encoder levels of num_res_blocks residual blocks each, halving the resolution between levels;
    the decoder mirrors them and concatenates each level's encoder output (one skip per level)."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.base_channels
        t_dim = 4 * ch
        self.time = TimeEmbedding(ch, t_dim)
        self.stem = nn.Conv2d(cfg.in_channels, ch, 3, padding=1)
        widths = [ch * m for m in cfg.channel_mult]
        resolutions = [cfg.image_size // 2**i for i in range(len(widths))]

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = ch
        for level, (w, res) in enumerate(zip(widths, resolutions)):
            blocks = []
            for _ in range(cfg.num_res_blocks):
                blocks.append(self._block(c, w, t_dim, res))
                c = w
            self.down.append(nn.ModuleList(blocks))
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            w, res = widths[level], resolutions[level]
            blocks = [self._block(c + w, w, t_dim, res)]  # concatenated skip of this level
            blocks += [self._block(w, w, t_dim, res) for _ in range(cfg.num_res_blocks - 1)]
            self.up.append(nn.ModuleList(blocks))
            c = w
            if level > 0:
                self.upsample.append(nn.ConvTranspose2d(c, widths[level - 1], 4, stride=2, padding=1))
                c = widths[level - 1]
        self.head = nn.Sequential(group_norm(c), nn.SiLU(), nn.Conv2d(c, cfg.in_channels, 3, padding=1))

    def _block(self, c_in: int, c_out: int, t_dim: int, res: int) -> nn.Module:
        block = ResBlock(c_in, c_out, t_dim, self.cfg.dropout)
        if res in self.cfg.attention_resolutions:
            return _ResAttn(block, SelfAttention(c_out))
        return block

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) noised images, t: (N,) integer timesteps -> eps_hat (N, C, H, W)."""
        emb = self.time(t)
        h = self.stem(x)
        skips = []
        # ModuleList types its items as Module: these two hold one ModuleList of blocks per level.
        for level, blocks in enumerate(cast(list[nn.ModuleList], self.down)):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        for i, blocks in enumerate(cast(list[nn.ModuleList], self.up)):
            h = blocks[0](torch.cat([h, skips.pop()], dim=1), emb)
            for block in blocks[1:]:
                h = block(h, emb)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.head(h)


class _ResAttn(nn.Module):
    def __init__(self, block: ResBlock, attn: SelfAttention) -> None:
        super().__init__()
        self.block = block
        self.attn = attn

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        return self.attn(self.block(x, t_emb))
