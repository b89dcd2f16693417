"""``titok``: bytedance/1d-tokenizer (TiTok) ``utils/train_utils.eval_reconstruction`` + ``evaluator``.

rFID only (the evaluator computes no PSNR, SSIM or LPIPS):

- images: the val set re-encoded as JPEG quality 100 in the webdataset shards, then torchvision
  ``Resize(R, BICUBIC, antialias=True)`` and ``CenterCrop(R)``;
- reconstruction -> uint8: ``clamp(0, 1)``, ``round(255 x) / 255`` (half to even), exact in uint8;
- rFID: torch-fidelity's InceptionV3 run entirely in float64 with pytorch-fid's weights file,
  on uint8; the reference is the same JPEG-round-tripped val images, computed in the same pass.

Verified against the official evaluator executed on the CPU (``tests/data/protocols/titok``).
"""

from wetok_bench.protocols.base import MetricProtocol

PROTOCOL = MetricProtocol(
    name="titok",
    version=1,
    resize="jpeg-q100+bicubic+center-crop",
    pixel_quantize="round",
    fid_extractor="inception-v3-compat-float64",
    fid_input="uint8",
    undefined=("psnr", "ssim", "lpips"),
    u8_float="float32",
    notes="TiTok's evaluator: JPEG q100 val shards, bicubic resize, float64 Inception; rFID only.",
)
