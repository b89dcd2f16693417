"""Metrics: one class per metric (:mod:`.psnr`, :mod:`.ssim`, :mod:`.lpips`, :mod:`.rfid`,
:mod:`.kid`) registered in :mod:`.registry`, the one source of each metric's name, direction,
label, decimals, unit, CI tolerance, weights and settings. :class:`~.evaluator.ReconstructionEvaluator`
drives them on batches; their computations are in :mod:`.functional`, their networks in
:mod:`.networks` (feature extractors registered in :mod:`.extractors`).
"""
