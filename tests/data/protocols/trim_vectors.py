"""Keep the arrays the tests read from a ``make_vectors.py`` recording (compressed).

Usage: python trim_vectors.py FOLDER  (reads FOLDER/vectors_full.npz, writes FOLDER/vectors.npz).
Each protocol folder's make_vectors.py writes vectors.npz with every recorded array; rename it to
vectors_full.npz and run this to get the committed subset (the tests' KEEP list is below).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

KEEP = {
    "llamagen": r"^(main_(original_u8|original_float|recon_float|pair_original|rgb_gt|sample_u8|psnr|ssim)"
                r"|val_u8|val_npz_order|u8_to_float_table|adm_ref_features|adm_main_sample_features|adm_(ref|main)_mu"
                r"|adm_(ref|main)_sigma_(diag|block)|adm_random_.*)$",
    "dc-ae": r"^(original_u8|original_float|recon_float|pair_original|ref_u8|pred_u8|psnr|ssim_tm\d+|lpips_tm\d+"
             r"|fid_view_rec|inception_rec|inception_ref|ref_readme_1x64_(fid_view|features|mu|sigma_diag|sigma_block)"
             r"|rec_(mu|sigma_diag|sigma_block)|table_.*)$",
    "ibq": r"^(original_u8|original_float|recon_float|pair_original|gt_u8|rec_u8|psnr|ssim|lpips_alex|lpips_vgg"
           r"|inception_ref|inception_rec|fid_input_ref|fid_input_rec|lpips_input_rec)$",
    "open-magvit2-v1": r"^(original_u8|original_float|recon_float|pair_original|gt_u8|rec_u8|psnr_per_image_skimage"
                       r"|pooled_psnr_B\d|ssim|lpips_alex|lpips_vgg|inception_ref|inception_rec)$",
    "titok": r"^(original_float|recon_float|pair_original|real_u8|fake_u8|inception_real|inception_fake"
             r"|mu_(real|fake)_.*|sigma_(real|fake)_diag_.*)$",
}


def main(folder: str) -> None:
    path = Path(folder)
    keep = re.compile(KEEP[path.name])
    full = np.load(path / "vectors_full.npz")
    kept = {name: full[name] for name in full.files if keep.match(name)}
    np.savez_compressed(path / "vectors.npz", **kept)
    print(f"{path.name}: kept {len(kept)} of {len(full.files)} arrays")


if __name__ == "__main__":
    main(sys.argv[1])
