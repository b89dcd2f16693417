"""Record BD-rate / BD-PSNR from the FAU-LMS reference implementation (github.com/FAU-LMS/bjontegaard).

Usage: python make_vectors.py /path/to/FAU-LMS-bjontegaard-files COMMIT > fau_lms_vectors.json
(recorded from commit aef9b4d96c52873833cb76ebbe38eb928e0f5da7, 2024-07-03)

The curves are the example data of that repository's README / example_usage.py (libx265 presets,
rates in kbit/s). Its method "cubic" is the VCEG-M33 third-order polynomial fit, "pchip" the
piecewise cubic Hermite interpolation of the JCT-VC CTC spreadsheet. Nothing of its code is in
this project: it is imported from the path given on the command line.
"""

import json
import sys
import warnings

sys.path.insert(0, sys.argv[1])
import bjontegaard  # noqa: E402

CASES = {
    "test1": {
        "rate_anchor": [9487.76, 4593.60, 2486.44, 1358.24],
        "psnr_anchor": [40.037, 38.615, 36.845, 34.851],
        "rate_test": [9787.80, 4469.00, 2451.52, 1356.24],
        "psnr_test": [40.121, 38.651, 36.970, 34.987],
    },
    "test2_high_rates": {
        "rate_anchor": [82472.76, 26875.24, 9487.76, 4593.6],
        "psnr_anchor": [43.825, 41.404, 40.037, 38.615],
        "rate_test": [99896.96, 33952.04, 9787.8, 4469.0],
        "psnr_test": [44.731, 41.875, 40.121, 38.651],
    },
}


def main() -> None:
    commit = sys.argv[2] if len(sys.argv) > 2 else "unknown"
    out = {"source": "https://github.com/FAU-LMS/bjontegaard", "commit": commit, "cases": {}}
    for name, case in CASES.items():
        values = {}
        for method in ("cubic", "pchip"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                args = (case["rate_anchor"], case["psnr_anchor"], case["rate_test"], case["psnr_test"])
                values[method] = {
                    "bd_rate_percent": float(bjontegaard.bd_rate(*args, method=method)),
                    "bd_psnr_db": float(bjontegaard.bd_psnr(*args, method=method)),
                }
        out["cases"][name] = {**case, "expected": values}
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
