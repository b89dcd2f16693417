"""The report end to end: build_report, the CLI, and index.html rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _synthetic_results import add_grids, write_synthetic_suite
from click.testing import CliRunner
from PIL import Image

from wetok_bench.cli import cli
from wetok_bench.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium; .ci/run does)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    suite = write_synthetic_suite(root / "results")
    add_grids(suite)
    index = build_report([suite], root / "out", sort_by="psnr")
    return index


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_report_folder_and_self_contained_page(report):
    out = report.parent
    for name in ("leaderboard.md", "paper_tables.md", "paper_tables.tex"):
        assert (out / name).is_file()
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "rd_coco-sample_256_standard.png", "rd_coco-sample_256_standard.svg",
        "rd_imagenet-sample_256_standard.png", "rd_imagenet-sample_256_standard.svg",
    ]
    page = report.read_text()
    sources = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(sources) == 2 + 1 + 3  # two plots, the fixed-image comparison, three jobs' worst-k
    assert all(s.startswith("data:image/") for s in sources)
    assert not re.search(r'(src|href)="(https?:|file:|//)', page)


@needs_chromium
def test_index_renders_tables_and_images_in_chromium(report, tmp_path):
    done = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    status = re.search(r'<div id="render-status" data-status="(\w+)" data-images="(\d+)" data-rows="(\d+)"', dom)
    assert status, dom[:500]
    assert status.group(1) == "ok" and int(status.group(2)) == 6
    page_rows = report.read_text().count("<tr>") - report.read_text().count("<thead><tr>")
    assert int(status.group(3)) == page_rows
    assert "JPEG q90" in dom and "Cosmos DI16x16" in dom and "not published" in dom
    assert "Uncaught" not in done.stderr  # no script error logged by the page


@needs_chromium
def test_screenshot_is_not_blank(report, tmp_path):
    shot = tmp_path / "shot.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1600", report.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # text, tables and figures, not a uniform page


@needs_chromium
def test_header_click_sorts_the_table(report, tmp_path):
    """Click 'PSNR (dB)' of the first leaderboard (ascending on first click) and read the first row."""
    probe = """<script>window.addEventListener('load',function(){
      var table=document.querySelector('table.sortable');
      var th=Array.prototype.find.call(table.tHead.rows[0].cells,function(c){return c.textContent==='PSNR (dB)';});
      th.click(); var first=table.tBodies[0].rows[0].cells[0].textContent;
      th.click(); var again=table.tBodies[0].rows[0].cells[0].textContent;
      var out=document.createElement('div');out.id='probe-'+'out';out.textContent=first+'|'+again;
      document.body.appendChild(out);});</script>"""
    page = tmp_path / "probe.html"
    page.write_text(report.read_text().replace("</body>", probe + "</body>"))
    done = _chromium(tmp_path, "--dump-dom", page.as_uri())
    found = re.search(r'<div id="probe-out">([^<]*)</div>', done.stdout)
    assert found, done.stderr[-2000:]
    assert found.group(1) == "Cosmos DI16x16|Identity"  # lowest PSNR first, then inf (lossless) first


def test_cli_report_and_its_errors(tmp_path):
    suite = write_synthetic_suite(tmp_path / "results", datasets={"coco-sample": ("coco", 12)})
    runner = CliRunner()
    done = runner.invoke(cli, ["report", str(suite), "--out", str(tmp_path / "r"), "--sort-by", "-lpips"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "r" / "index.html").is_file()
    md = (tmp_path / "r" / "leaderboard.md").read_text()
    assert md.index("| JPEG q10 |") < md.index("| JPEG q90 |")  # worst LPIPS first
    bad = runner.invoke(cli, ["report", str(suite), "--out", str(tmp_path / "r2"), "--sort-by", "speed"])
    assert bad.exit_code == 2 and "--sort-by 'speed'" in bad.output
    missing = runner.invoke(cli, ["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r3")])
    assert missing.exit_code == 2 and "results path not found" in missing.output
