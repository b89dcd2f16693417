"""The run's console table marks an unreliable rFID, as the report does."""

from __future__ import annotations

from types import SimpleNamespace

from wetok_bench.engine.console import format_table


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
    assert lines["small__d__256"].split()[2] == "12.35*"  # the registry's decimals for rFID
    assert lines["big__d__256"].split()[2] == "1.50"
    assert lines["none__d__256"].split()[2] == "-"
    assert table.splitlines()[-1] == "* rFID unreliable: N = 11 images < feature dimension 2048 (covariance rank-deficient; rFID is biased)"


def test_no_footnote_when_every_rfid_is_reliable():
    table = format_table([_outcome("big__d__256", 1.5, False, 5000)])
    assert "unreliable" not in table and "*" not in table


def test_images_per_s_and_peak_memory_are_shown():
    """Issue 12: images/s of the whole job and peak device memory in the console table and as
    leaderboard columns, read from the summary's cost block (2 GiB -> 2048 MiB)."""
    from wetok_bench.report.extra_columns import extra_values

    gpu, cpu = _outcome("gpu__d__256", 1.5, False, 5000), _outcome("cpu__d__256", 1.5, False, 5000)
    gpu.summary["cost"] = {"images_per_s": 171.25, "peak_memory_bytes": 2 * 2**30, "parameters": 83_653_863}
    cpu.summary["cost"] = {"images_per_s": 3.5, "peak_memory_bytes": None, "parameters": 0}
    lines = format_table([gpu, cpu]).splitlines()
    header = lines[0].split()
    at = header.index("img/s")
    assert header[at + 1] == "peakMiB"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["gpu__d__256"][at - 2: at] == ["171.2", "2048"]  # the header's "enc ms" / "dec ms" are two words each
    assert rows["cpu__d__256"][at - 2: at] == ["3.5", "-"]
    assert extra_values(gpu.summary)["images_per_s"] == 171.25
    assert extra_values(gpu.summary)["peak_mem_mib"] == 2048
    assert extra_values(cpu.summary)["images_per_s"] == 3.5
