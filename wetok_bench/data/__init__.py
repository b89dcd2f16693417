"""Datasets (ImageNet val, MS-COCO val2017, any folder, the bundled sample photos) registered by
kind in :mod:`.registry`, their images' fingerprint, the streaming loader and the resize rules a
protocol names (:mod:`.preprocess`)."""
