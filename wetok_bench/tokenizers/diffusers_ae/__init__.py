"""Parts of the ``diffusers-vae`` family (:mod:`wetok_bench.tokenizers.diffusers_vae`).

``adapters``: what differs between diffusers' autoencoder classes (how to encode, decode, and
read the spatial factor and latent channels from the config); ``loading``: finding a model
folder (local, Hugging Face cache, single file) and building the class its ``config.json``
names; ``cards``: the released checkpoints known by name.
"""
