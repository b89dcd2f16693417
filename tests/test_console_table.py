"""The run's console table marks an unreliable rFID, as the report does."""

from __future__ import annotations

from types import SimpleNamespace

from wetok_bench.run.console import format_table


def _outcome(job_id: str, rfid: float | None, unreliable: bool, n: int) -> SimpleNamespace:
    reason = f"N = {n} images < feature dimension 2048 (covariance rank-deficient; rFID is biased)" if unreliable else None
    summary = {"metrics": {"psnr": 30.0, **({"rfid": rfid} if rfid is not None else {})},
               "compression": {"ratio": 12.0}, "counts": {"images": n, "skipped": 0}}
    if rfid is not None:
        summary["rfid"] = {"rfid": rfid, "n": n, "n_ref": n, "feature_dim": 2048, "unreliable": unreliable, "reason": reason}
    return SimpleNamespace(job=SimpleNamespace(id=job_id), summary=summary, status="ok", error=None)


def test_unreliable_rfid_is_marked_and_explained():
    table = format_table([_outcome("small__d__256", 12.3456, True, 11), _outcome("big__d__256", 1.5, False, 5000),
                          _outcome("none__d__256", None, False, 11)])
    lines = {line.split()[0]: line for line in table.splitlines() if "__d__" in line}
    assert lines["small__d__256"].split()[2] == "12.346*"
    assert lines["big__d__256"].split()[2] == "1.500"
    assert lines["none__d__256"].split()[2] == "-"
    assert table.splitlines()[-1] == "* rFID unreliable: N = 11 images < feature dimension 2048 (covariance rank-deficient; rFID is biased)"


def test_no_footnote_when_every_rfid_is_reliable():
    table = format_table([_outcome("big__d__256", 1.5, False, 5000)])
    assert "unreliable" not in table and "*" not in table
