"""``wetok``: the official WeTok evaluation script (``evaluation_image_ddp.py``), for the paper's tables.

uint8 -> float as its dataset does (``(u8 / 127.5 - 1.0).astype(np.float32)``: float64
arithmetic, one rounding), PSNR/SSIM on uint8 made by float32 truncation of both images, SSIM
with a 7x7 uniform window and sample covariance, rFID with the pytorch-fid InceptionV3 port on
unquantized floats, LPIPS alex and vgg on floats. Verified against the official code executed
from its own source (``tests/data/official_wetok_eval``). The script's mean of batch means
over 8 ranks x batch 100 is reported beside the mean over images (``psnr_official``, ``ssim_official``). Version 2: version 1 converted in
float32 and so lowered a different set of uint8 values by the truncation (1..63 instead of
1..95); its PSNR/SSIM were not the official ones.
"""

from wetok_bench.protocols.base import MetricProtocol, OfficialAggregate

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
    # scripts/evaluation/imagenet_evaluation_256_dist.sh: torchrun --nproc_per_node=8 ... --batch_size 100
    official=OfficialAggregate(ranks=8, batch_size=100, padding="strided", reduce="batch-mean"),
    notes="Replicates the official WeTok evaluation script, for the paper's tables.",
)
