"""Check the rules written in REPORT.md against the recorded official outputs (not a reference itself).

Usage:

    PYTHONPATH=/work/vectors/seed_voken/site /work/main/.venv/bin/python /work/vectors/seed_voken/check_rules.py

Reads ibq/ and open-magvit2-v1/ (vectors.npz, vectors.json, inputs/) and writes rules_check.json in each:
every rule is restated here with library calls (cv2, numpy, skimage) and compared with what the official
code produced; a rule is reported true only if the official arrays/values equal the restatement exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

ROOT = Path(__file__).resolve().parent


def ranges(values) -> list[str]:
    """[1, 2, 3, 7] -> ["1-3", "7"]"""
    out, values = [], list(values)
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return [f"{a}-{b}" if a != b else f"{a}" for a, b in out]


def emulate_aggregate(values: np.ndarray, batch_size: int, numpy_major: int) -> float:
    """The script's `x_temp = 0; x_temp += v; x_value += x_temp / B; ...; x_value / num_iter`, by dtype."""
    dtype = np.float32 if (numpy_major >= 2 and values.dtype == np.float32) else np.float64
    total, count = dtype(0), 0
    for start in range(0, len(values), batch_size):
        batch = values[start : start + batch_size]
        temp = dtype(0)
        for v in batch:
            temp = dtype(temp + dtype(v))
        total = dtype(total + dtype(temp / dtype(len(batch))))
        count += 1
    return float(dtype(total / dtype(count)))


def common(folder: Path, vec: dict, meta: dict) -> dict:
    out = {}
    pair = vec["pair_original"]
    u8 = vec["original_u8"]
    out["u8_to_float_is_(u/127.5-1.0)_in_float64_then_float32"] = bool(
        np.array_equal(vec["original_float"], (u8 / 127.5 - 1.0).astype(np.float32)))
    table64 = (np.arange(256) / 127.5 - 1.0).astype(np.float32)
    table32 = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1)
    out["u8_values_where_float32_arithmetic_differs"] = ranges(np.nonzero(table64 != table32)[0].tolist())
    # truncation: ((x + 1) / 2 * 255.0).to(uint8) in float32
    ref = vec["original_float"][pair]
    gt = np.floor((ref + np.float32(1)) / np.float32(2) * np.float32(255.0)).astype(np.uint8)
    rec = np.clip(vec["recon_float"], -1, 1)
    rec_u8 = np.floor((rec + np.float32(1)) / np.float32(2) * np.float32(255.0)).astype(np.uint8)
    out["gt_u8_is_floor_of_float32_((x+1)/2*255)"] = bool(np.array_equal(gt, vec["gt_u8"]))
    out["rec_u8_is_floor_of_float32_((clamp(x)+1)/2*255)"] = bool(np.array_equal(rec_u8, vec["rec_u8"]))
    lowered = (table64 + np.float32(1)) / np.float32(2) * np.float32(255.0)
    out["u8_values_lowered_by_the_truncation"] = ranges(np.nonzero(np.floor(lowered).astype(int) != np.arange(256))[0].tolist())
    out["gt_u8_differs_from_original_u8_in_pixels"] = int((vec["gt_u8"] != u8[pair]).sum())
    out["views_are_u8_float32_/255"] = bool(
        np.array_equal(vec["gt_f32"], vec["gt_u8"].astype(np.float32) / 255.0)
        and np.array_equal(vec["rec_f32"], vec["rec_u8"].astype(np.float32) / 255.0))
    ssim = [
        structural_similarity(r, g, data_range=1.0, channel_axis=-1, win_size=7, gaussian_weights=False,
                              use_sample_covariance=True, K1=0.01, K2=0.03)
        for g, r in zip(vec["gt_f32"], vec["rec_f32"])
    ]
    out["ssim_is_skimage_7x7_uniform_sample_cov_data_range_1_float32"] = bool(np.array_equal(np.float64(ssim), vec["ssim"]))
    out["ssim_per_image_dtype_returned_by_skimage"] = str(np.asarray(ssim[0]).dtype)
    out["lpips_inputs"] = {
        "ref_is_original_float": bool(np.array_equal(vec["lpips_input_ref"], vec["original_float"][pair])),
        "rec_is_clamped_float": bool(np.array_equal(vec["lpips_input_rec"], np.clip(vec["recon_float"], -1, 1))),
    }
    out["fid_inputs_are_(x+1)/2_unquantized"] = bool(
        np.array_equal(vec["fid_input_ref"], (vec["lpips_input_ref"] + np.float32(1)) / np.float32(2))
        and np.array_equal(vec["fid_input_rec"], (vec["lpips_input_rec"] + np.float32(1)) / np.float32(2)))
    out["tokenizer_input_is_original_float"] = bool(np.array_equal(vec["tokenizer_input"], vec["original_float"][pair]))
    return out


def ibq() -> dict:
    folder = ROOT / "ibq"
    vec = dict(np.load(folder / "vectors.npz"))
    meta = json.loads((folder / "vectors.json").read_text())
    out = common(folder, vec, meta)
    size = meta["size"]
    rule_rows = []
    for index, crop in enumerate(meta["crops"]):
        image = np.array(Image.open(folder / "inputs" / f"{crop['name']}.png").convert("RGB"))
        h, w = image.shape[:2]
        scale = size / float(min(h, w))
        nh, nw = round(h * scale), round(w * scale)  # Python round: half to even
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        y, x = (nh - size) // 2, (nw - size) // 2
        area = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)[y : y + size, x : x + size]
        rule_rows.append({
            "name": crop["name"], "resized_hw": [nh, nw], "offset_yx": [y, x],
            "equals_cv2_INTER_LINEAR_round_floor": bool(np.array_equal(resized[y : y + size, x : x + size], vec["original_u8"][index])),
            "equals_cv2_INTER_AREA_(antialiased)": bool(np.array_equal(area, vec["original_u8"][index])),
            "torchvision_long_side_int": int(max(h, w) * size / min(h, w)),
            "torchvision_offset_round": [int(round((r - size) / 2.0)) for r in meta["resize"][index]["torchvision_resized_hw"]],
            "recorded": meta["resize"][index],
        })
    out["resize"] = rule_rows
    gt, rec = vec["gt_f32"], vec["rec_f32"]
    mse = np.array([np.mean((g - r) ** 2, dtype=np.float64) for g, r in zip(gt, rec)])
    out["psnr_is_10log10(1/mse)_float32_diff_float64_mean"] = bool(np.array_equal(10 * np.log10(1.0 / mse), vec["psnr"]))
    aggregates = []
    for layout in meta["layouts"]:
        major = int(layout["numpy"].split(".")[0])
        b = layout["batch_size"]
        ssim32 = vec["ssim"].astype(np.float32)  # skimage returned float32 values
        aggregates.append({
            "numpy": layout["numpy"], "batch_size": b,
            "PSNR_equals_mean_of_batch_means_float64": bool(emulate_aggregate(vec["psnr"], b, major) == layout["PSNR"]),
            "SSIM_equals_emulation": bool(emulate_aggregate(ssim32, b, major) == layout["SSIM"]),
            "SSIM_accumulator_dtype": "float32" if major >= 2 else "float64",
            "per_image_mean_psnr": float(vec["psnr"].mean()), "PSNR": layout["PSNR"],
        })
    out["aggregates"] = aggregates
    return out


def magvit() -> dict:
    folder = ROOT / "open-magvit2-v1"
    vec = dict(np.load(folder / "vectors.npz"))
    meta = json.loads((folder / "vectors.json").read_text())
    out = common(folder, vec, meta)
    out["preprocessing_equals_wetok_bitwise"] = bool(np.array_equal(vec["original_float"], vec["original_float_wetok"]))
    gt, rec = vec["gt_f32"], vec["rec_f32"]
    pooled = {}
    for b in (8, 4, 3):
        values = []
        for start in range(0, len(gt), b):
            d = gt[start : start + b] - rec[start : start + b]
            values.append(10 * np.log10(1.0 / np.mean(d ** 2, dtype=np.float64)))
        mse_mean = [10 * np.log10(1.0 / np.mean([np.mean((g - r) ** 2, dtype=np.float64) for g, r in
                                                  zip(gt[s : s + b], rec[s : s + b])])) for s in range(0, len(gt), b)]
        pooled[b] = {
            "equals_10log10(1/MSE over all B*H*W*3 values)": bool(np.array_equal(values, vec[f"pooled_psnr_B{b}"])),
            "equals_10log10(1/mean of per-image MSE)_to_1e-12": bool(np.allclose(mse_mean, vec[f"pooled_psnr_B{b}"], rtol=0, atol=1e-12)),
            "pooled": vec[f"pooled_psnr_B{b}"].tolist(),
        }
    out["pooled_psnr"] = pooled
    aggregates = []
    for layout in meta["layouts"]:
        major = int(layout["numpy"].split(".")[0])
        b = layout["batch_size"]
        batch_values = np.asarray(layout["per_batch_pooled_psnr"])
        # psnr_temp = B copies of the pooled value, / B, then mean over batches
        total, count = 0.0, 0
        for value, n in zip(batch_values, layout["batches"]):
            temp = 0
            for _ in range(n):
                temp += value
            total += temp / n
            count += 1
        aggregates.append({
            "numpy": layout["numpy"], "commit": layout["commit"][:7], "batch_size": b,
            "PSNR_equals_mean_over_batches_of_pooled": bool(total / count == layout["PSNR"]),
            "PSNR": layout["PSNR"], "mean_of_per_image_psnr": float(vec["psnr_per_image_skimage"].mean()),
            "SSIM_equals_emulation": bool(emulate_aggregate(vec["ssim"].astype(np.float32), b, major) == layout["SSIM"]),
        })
    out["aggregates"] = aggregates
    return out


if __name__ == "__main__":
    for name, fn in (("ibq", ibq), ("open-magvit2-v1", magvit)):
        if (ROOT / name / "vectors.npz").exists():
            result = fn()
            (ROOT / name / "rules_check.json").write_text(json.dumps(result, indent=1) + "\n")
            print(name, json.dumps(result, indent=1)[:6000])
