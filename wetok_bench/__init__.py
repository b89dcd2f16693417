"""wetok-bench: an evaluation harness for image tokenizers.

Measures how well a tokenizer reconstructs images (rFID, PSNR, SSIM, LPIPS) under a named,
versioned metric protocol, with every tokenizer's compression ratio accounted for.
"""

__version__ = "0.1.0"
