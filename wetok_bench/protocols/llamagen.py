"""``llamagen``: FoundationVision/LlamaGen ``tokenizer/tokenizer_image/reconstruction_vq_ddp.py``.

The convention of LlamaGen's VQ tokenizer table (and of the papers that copy its rows):

- resize: ADM's ``center_crop_arr`` (PIL BOX halvings, BICUBIC to ``round()`` sizes, floor crop);
- tokenizer input: ``ToTensor`` + ``Normalize(0.5, 0.5)`` in float32 (the ``standard`` table);
- reconstruction -> uint8: ``clamp(127.5 x + 128, 0, 255)`` in float32, truncated (half-up);
- PSNR: skimage on ``sample / 255`` against the unquantized input (data range 1, i.e. 255 on
  uint8; the input differs from ``u8 / 255`` by at most 1.5e-8);
- SSIM: skimage's defaults (7x7 uniform window, sample covariance) with ``data_range=2.0`` on
  [0, 1] images, i.e. 510 on uint8: the inflated SSIM of its table (0.675 against about 0.54 at
  the true range for the same VQ-16, LlamaGen issue #34);
- no LPIPS;
- rFID: the ADM evaluator's TensorFlow Inception (torch-fidelity's ``inception-v3-compat``
  ports that graph) on the uint8 PNG samples, against ``val_ddp.py``'s ``center_crop_arr``
  uint8 val images (the ADM ``VIRTUAL_imagenet256`` statistics are another reference set,
  see ``docs/protocols.md``);
- aggregate: 8 ranks (``scripts/tokenizer/reconstruction_vq.sh``) with ``DistributedSampler``
  padding, the padded duplicates counted in PSNR/SSIM (``psnr_official``, ``ssim_official``).

Verified against the official script executed on the CPU (``tests/data/protocols/llamagen``).
Its 384/512 rows downscale both the input and the reconstruction bicubically to 256 before
PSNR/SSIM; that variant is not this protocol.
"""

from wetok_bench.protocols.base import MetricProtocol, OfficialAggregate

PROTOCOL = MetricProtocol(
    name="llamagen",
    version=1,
    resize="adm-center-crop",
    pixel_quantize="half_up",
    fid_extractor="inception-v3-compat",
    fid_input="uint8",
    ssim_window="uniform",
    ssim_data_range=510.0,
    undefined=("lpips",),
    u8_float="float32",
    official=OfficialAggregate(ranks=8, batch_size=1, padding="strided", reduce="image-mean"),
    notes="LlamaGen's reconstruction_vq_ddp.py: ADM crop, half-up uint8, SSIM at data range 2 on [0, 1], no LPIPS.",
)
