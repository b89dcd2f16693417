"""``dc-ae``: mit-han-lab/efficientvit ``applications/dc_ae`` (``aecore/evaluator.py``).

The convention of DC-AE's reconstruction tables:

- resize: ``DMCrop`` (ADM's ``center_crop_arr``, pixel for pixel);
- tokenizer input: ``ToTensor`` + ``Normalize(0.5, 0.5)`` in float32;
- both images -> uint8: ``(255 ((x + 1) / 2) + 0.5).clamp(0, 255)`` in float32, truncated
  (half-up; gives back the original's own pixels);
- PSNR: per image on the uint8 pair, data range 255;
- SSIM: torchmetrics ``StructuralSimilarityIndexMeasure(data_range=(0, 255))``: Gaussian 11x11,
  sigma 1.5, on the reflect-padded image, the whole map averaged (torchmetrics >= 1.4.2, current
  at the DC-AE release; 1.4.1 dropped the border);
- LPIPS: torchmetrics ``LearnedPerceptualImagePatchSimilarity(net_type='alex', normalize=True)``
  on ``u8 / 255`` (the lpips package's alex weights);
- rFID: pytorch-fid's InceptionV3 on ``u8 / 255`` of the quantized images, resized bilinear to
  299 without antialiasing; reference statistics of the ``DMCrop`` val images (the README's
  ``image_mean=[0,0,0] image_std=[1,1,1]`` overrides of ``generate_reference``);
- aggregate: 8 ranks (the README's ``torchrun --nproc_per_node=8``), each a contiguous range of
  the cyclically padded list; duplicates counted (``psnr_official``, ``ssim_official``,
  ``lpips_official``; in the official rFID they are counted too, not reproduced here).

Verified against the official evaluator executed on the CPU (``tests/data/protocols/dc-ae``).
"""

from wetok_bench.protocols.base import MetricProtocol, OfficialAggregate

PROTOCOL = MetricProtocol(
    name="dc-ae",
    version=1,
    resize="adm-center-crop",
    pixel_quantize="half_up_unit",
    fid_extractor="pytorch-fid",
    fid_input="uint8_unit",
    ssim_window="gaussian-reflect",
    lpips_nets=("alex",),
    lpips_input="uint8",
    u8_float="float32",
    official=OfficialAggregate(ranks=8, batch_size=1, padding="contiguous", reduce="image-mean",
                               metrics=("psnr", "ssim", "lpips")),
    notes="DC-AE's evaluator: ADM crop, half-up uint8 for every metric, torchmetrics SSIM and LPIPS.",
)
