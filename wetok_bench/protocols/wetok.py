"""``wetok``: the official WeTok evaluation script (``evaluation_image_ddp.py``), for the paper's tables.

uint8 -> float as its dataset does (``(u8 / 127.5 - 1.0).astype(np.float32)``: float64
arithmetic, one rounding), PSNR/SSIM on uint8 made by float32 truncation of both images, SSIM
with a 7x7 uniform window and sample covariance, rFID with the pytorch-fid InceptionV3 port on
unquantized floats, LPIPS alex and vgg on floats. Verified against the official code executed
from its own source (``tests/data/official_wetok_eval``). Version 2: version 1 converted in
float32 and so lowered a different set of uint8 values by the truncation (1..63 instead of
1..95); its PSNR/SSIM were not the official ones.
"""

from wetok_bench.protocols.base import MetricProtocol

PROTOCOL = MetricProtocol(
    name="wetok",
    version=2,
    pixel_quantize="truncate",
    fid_extractor="pytorch-fid",
    fid_input="float",
    ssim_window="uniform",
    lpips_nets=("alex", "vgg"),
    lpips_input="float",
    u8_float="float64",
    notes="Replicates the official WeTok evaluation script, for the paper's tables.",
)
