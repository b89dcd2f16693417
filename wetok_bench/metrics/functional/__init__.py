"""The metric computations as functions on tensors (as torchmetrics keeps ``functional/``):
PSNR, SSIM, the Frechet distance from streaming float64 sums, KID, token statistics.
"""
