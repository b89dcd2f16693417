"""Metrics: PSNR, SSIM, LPIPS and rFID as streaming metric objects."""
