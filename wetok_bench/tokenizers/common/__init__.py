"""Code several tokenizer families share.

- :mod:`.taming_model`: the taming-transformers encoder/decoder (VQGAN, LlamaGen VQ, IBQ, VAR);
- :mod:`.vq_model`: the VQ autoencoder on it and its nearest-code quantizer; :mod:`.vq_tokenizer`:
  the tokenizer class of the single-codebook VQ families (LlamaGen VQ, VQGAN, IBQ);
- :mod:`.vq_checkpoint`: reading ``torch.save`` checkpoints without running code (LlamaGen VQ,
  VQGAN, VAR); :mod:`.ema_checkpoint`: LitEma checkpoints (WeTok, Open-MAGVIT2, IBQ);
- :mod:`.config_files`: an official YAML config read into a mapping (WeTok, SEED-Voken, VQGAN).
"""
