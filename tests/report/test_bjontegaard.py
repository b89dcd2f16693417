"""BD-rate / BD-metric against hand-computed cases and the FAU-LMS reference implementation."""

import json
import math
from pathlib import Path

import pytest

from wetok_bench.report.bjontegaard import INTERPOLATIONS, BDUndefined, bd_metric, bd_rate

VECTORS = Path(__file__).parents[1] / "data" / "bjontegaard" / "fau_lms_vectors.json"

# an ordinary concave codec curve (bits per pixel, PSNR in dB)
BPP = [0.25, 0.5, 1.0, 2.0]
PSNR = [28.0, 31.5, 34.2, 36.4]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_rate_shift_of_minus_ten_percent_is_bd_rate_minus_ten(interpolation):
    # same PSNR at 0.9x the rate everywhere: log-rate is shifted by ln 0.9 at every quality
    result = bd_rate(BPP, PSNR, [0.9 * r for r in BPP], PSNR, interpolation=interpolation, metric="psnr")
    assert result.value == pytest.approx(-10.0, abs=1e-9)
    assert result.quality_overlap == (28.0, 36.4)  # the integration interval: the whole common range
    assert result.integration_range == (28.0, 36.4)
    assert result.rate_overlap_bpp == pytest.approx((0.25, 1.8))
    assert result.test_better


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_psnr_plus_half_db_is_bd_psnr_half(interpolation):
    result = bd_metric(BPP, PSNR, BPP, [q + 0.5 for q in PSNR], interpolation=interpolation, metric="psnr")
    assert result.value == pytest.approx(0.5, abs=1e-9)
    assert result.rate_overlap_bpp == pytest.approx((0.25, 2.0))
    assert result.integration_range == pytest.approx((0.25, 2.0))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_partial_overlap_linear_curves(interpolation):
    # Anchor: Q = 30 + 2 ln r at ln r = 0..3; test: Q = 31 + 2 ln r at ln r = 1.5..4.5. Both
    # interpolations reproduce a straight line exactly. By hand: rate overlap ln r in [1.5, 3]
    # (e^1.5 .. e^3 bpp), test - anchor = 1 dB there; quality overlap [34, 36], where
    # ln r_test - ln r_anchor = (Q-31)/2 - (Q-30)/2 = -0.5, so BD-rate = (e^-0.5 - 1) * 100.
    anchor_bpp = [math.exp(x) for x in (0, 1, 2, 3)]
    test_bpp = [math.exp(x) for x in (1.5, 2.5, 3.5, 4.5)]
    anchor_q = [30.0, 32.0, 34.0, 36.0]
    test_q = [34.0, 36.0, 38.0, 40.0]
    psnr = bd_metric(anchor_bpp, anchor_q, test_bpp, test_q, interpolation=interpolation, metric="psnr")
    assert psnr.value == pytest.approx(1.0, abs=1e-9)
    assert psnr.rate_overlap_bpp == pytest.approx((math.exp(1.5), math.exp(3.0)))
    rate = bd_rate(anchor_bpp, anchor_q, test_bpp, test_q, interpolation=interpolation, metric="psnr")
    assert rate.value == pytest.approx(-39.346934028736655, abs=1e-9)  # (e^-0.5 - 1) * 100
    assert rate.quality_overlap == (34.0, 36.0)


def test_cubic_fit_partial_overlap_of_cubics():
    # x = ln r. Anchor Q = x^3 at x = 1..4, test Q = 2 x^3 at x = 2..5: the cubic fit of four
    # points of a cubic is the cubic itself. Overlap x in [2, 4]; mean of x^3 there =
    # (4^4 - 2^4) / 4 / 2 = 30.
    anchor_bpp = [math.exp(x) for x in (1, 2, 3, 4)]
    test_bpp = [math.exp(x) for x in (2, 3, 4, 5)]
    result = bd_metric(anchor_bpp, [x**3 for x in (1, 2, 3, 4)], test_bpp, [2 * x**3 for x in (2, 3, 4, 5)],
                       interpolation="cubic", metric="psnr")
    assert result.value == pytest.approx(30.0, abs=1e-8)
    assert result.quality_overlap == (16.0, 64.0)  # test starts at 2 * 2^3, anchor ends at 4^3


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_lpips_lower_is_better(interpolation):
    lpips = [0.40, 0.25, 0.15, 0.10]
    better = [v - 0.02 for v in lpips]
    result = bd_metric(BPP, lpips, BPP, better, metric="lpips", interpolation=interpolation)
    assert result.value == pytest.approx(-0.02, abs=1e-12)
    assert not result.higher_is_better and result.test_better
    # rising LPIPS with rate is the wrong direction for LPIPS: refused
    with pytest.raises(BDUndefined, match="not monotonic"):
        bd_metric(BPP, lpips[::-1], BPP, better, metric="lpips", interpolation=interpolation)
    rate = bd_rate(BPP, lpips, [0.9 * r for r in BPP], lpips, metric="lpips", interpolation=interpolation)
    assert rate.value == pytest.approx(-10.0, abs=1e-9)


@pytest.mark.parametrize(
    "anchor, test, reason",
    [
        ((BPP[:3], PSNR[:3]), (BPP, PSNR), "3 point"),
        ((BPP, [28.0, 31.5, 31.0, 36.4]), (BPP, PSNR), "not monotonic"),
        ((BPP, PSNR), ([4.0, 8.0, 16.0, 32.0], [40.0, 41.0, 42.0, 43.0]), "no overlap"),
        ((BPP, [28.0, math.inf, 34.0, 36.0]), (BPP, PSNR), "not finite"),
        (([0.25, 0.25, 1.0, 2.0], PSNR), (BPP, PSNR), "share a rate"),
    ],
)
def test_refusals(anchor, test, reason):
    for fn in (bd_rate, bd_metric):
        with pytest.raises(BDUndefined, match=reason):
            fn(anchor[0], anchor[1], test[0], test[1], metric="psnr")


def test_unknown_interpolation_refused():
    with pytest.raises(BDUndefined, match="interpolation"):
        bd_rate(BPP, PSNR, BPP, PSNR, interpolation="akima", metric="psnr")


@pytest.mark.parametrize("case", ["test1", "test2_high_rates"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_matches_fau_lms_reference(case, interpolation):
    # Values recorded by tests/data/bjontegaard/make_vectors.py from github.com/FAU-LMS/bjontegaard
    # (its "cubic" is the VCEG-M33 polynomial fit, "pchip" the CTC spreadsheet's interpolation;
    # it uses log10 rates, which give the same BD values). Rates there are kbit/s: BD values do
    # not depend on the rate unit.
    data = json.loads(VECTORS.read_text())["cases"][case]
    expected = data["expected"][interpolation]
    args = (data["rate_anchor"], data["psnr_anchor"], data["rate_test"], data["psnr_test"])
    assert bd_rate(*args, interpolation=interpolation, metric="psnr").value == pytest.approx(expected["bd_rate_percent"], abs=1e-9)
    assert bd_metric(*args, interpolation=interpolation, metric="psnr").value == pytest.approx(expected["bd_psnr_db"], abs=1e-9)
