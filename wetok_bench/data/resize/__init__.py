"""Resize rules of the baselines' official evaluations, one module each (registered by name in
:data:`wetok_bench.data.preprocess.RESIZE_RULES`, imported when a protocol first names them).

Each rule takes an RGB PIL image and the target size R and returns the uint8 3 x R x R tensor the
official script's data pipeline gives, pixel for pixel (verified against the official code:
``tests/data/protocols``)."""
