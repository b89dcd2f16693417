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

from wetok_bench.cli.main import cli
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
        "rd_coco-sample_256_standard.csv", "rd_coco-sample_256_standard.png", "rd_coco-sample_256_standard.svg",
        "rd_imagenet-sample_256_standard.csv", "rd_imagenet-sample_256_standard.png", "rd_imagenet-sample_256_standard.svg",
    ]
    page = report.read_text()
    sources = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(sources) == 2 + 1 + 1  # two plots, the fixed-image comparison, one worst-k across tokenizers
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["coco-sample_256_standard__fixed.png", "coco-sample_256_standard__worst.png"]
    assert all(s.startswith("data:image/") for s in sources)
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    grid_captions = [c for c in captions if "columns left to right" in c]
    assert len(grid_captions) == 2  # fixed and worst; identity is in neither
    assert all(c.split("columns left to right: ")[1].startswith("original, SD-VAE ft-MSE, JPEG q10") for c in grid_captions)
    assert not re.search(r'(src|href)="(https?:|file:|//)', page)


@needs_chromium
def test_index_renders_tables_and_images_in_chromium(report, tmp_path):
    done = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    status = re.search(r'<div id="render-status" data-status="(\w+)" data-images="(\d+)" data-rows="(\d+)"', dom)
    assert status, dom[:500]
    assert status.group(1) == "ok" and int(status.group(2)) == 4 + 2  # 4 figures, the compare view's 2 images
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
    assert "Rows by LPIPS, highest first" in md
    bad = runner.invoke(cli, ["report", str(suite), "--out", str(tmp_path / "r2"), "--sort-by", "speed"])
    assert bad.exit_code == 2 and "--sort-by 'speed'" in bad.output
    missing = runner.invoke(cli, ["report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r3")])
    assert missing.exit_code == 2 and "results path not found" in missing.output


def _probe(report: Path, tmp_path: Path, script: str, width: int = 1280) -> str:
    """Run ``script`` (JavaScript whose last value is a string) in the loaded page; its result."""
    probe = ("<script>window.addEventListener('load',function(){var out=document.createElement('div');"
             "out.id='probe-'+'out';out.textContent=(function(){" + script + "})();document.body.appendChild(out);});</script>")
    page = tmp_path / "probe.html"
    page.write_text(report.read_text().replace("</body>", probe + "</body>"))
    done = _chromium(tmp_path, f"--window-size={width},900", "--dump-dom", page.as_uri())
    found = re.search(r'<div id="probe-out">([^<]*)</div>', done.stdout)
    assert found, done.stderr[-2000:]
    return found.group(1)


@needs_chromium
def test_reader_view_self_check_hidden_tables_scroll_in_their_box_grids_at_page_width(report, tmp_path):
    script = """
      var st=getComputedStyle(document.getElementById('render-status')).display;
      var page=document.documentElement.scrollWidth<=window.innerWidth;
      var box=document.querySelector('section[id^="paper-"] .table-scroll');
      var scrolls=box.scrollWidth>box.clientWidth && box.getBoundingClientRect().right<=window.innerWidth;
      var main=document.querySelector('h1').getBoundingClientRect().width;
      var grids=Array.prototype.map.call(document.querySelectorAll('#grids > figure img'),function(i){
        return Math.round(i.getBoundingClientRect().width)+'/'+Math.round(Math.min(main,4*i.naturalWidth));});
      return [st,page,scrolls].join(',')+'|'+grids.join(',');"""
    status, grids = _probe(report, tmp_path, script, width=900).split("|")
    # the self-check line is for tests: hidden; the page never scrolls sideways; a wide paper table
    # scrolls inside its own box
    assert status == "none,true,true"
    shown = [g.split("/") for g in grids.split(",")]
    assert len(shown) == 2 and all(abs(int(a) - int(b)) <= 2 for a, b in shown)  # page width, at most 4x enlarged


def test_paper_tables_only_for_matching_jobs_and_pending_notes_once(report, tmp_path):
    from conftest import REPO

    from wetok_bench.results.baselines import load_published

    page = report.read_text()
    titles = re.findall(r'<section class="table-block" id="paper-([^"]+)">', page)
    # the synthetic jobs: COCO and ImageNet samples at 256 under standard; nothing else
    assert sorted(titles) == ["coco-val2017-256-standard", "imagenet-val-256-standard"]
    pending = load_published(REPO / "baselines").pending
    assert pending and page.count("Not available here:") == len(pending)  # one footnote, not per table
    suite = write_synthetic_suite(tmp_path / "results", datasets={"samples": ("samples", 6)})
    index = build_report([suite], tmp_path / "out", n_resamples=20)
    text = index.read_text()
    assert 'class="table-block" id="paper-' not in text and "No job ran on a dataset of the published tables" in text
    assert not (tmp_path / "out" / "paper_tables.md").exists()


def test_report_into_the_same_folder_replaces_only_its_own_files(tmp_path):
    suite = write_synthetic_suite(tmp_path / "results", datasets={"coco-sample": ("coco", 8), "imagenet-sample": ("imagenet", 8)})
    add_grids(suite)
    out = tmp_path / "out"
    build_report([suite], out, n_resamples=20)
    assert (out / "grids" / "coco-sample_256_standard__worst.png").is_file()
    (out / "my_notes.txt").write_text("mine")
    (out / "plots" / "my_figure.png").write_bytes(b"mine")
    smaller = write_synthetic_suite(tmp_path / "results2", datasets={"coco-sample": ("coco", 8)})
    build_report([smaller], out, n_resamples=20)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "bd/coco-sample_256_standard.md", "index.html", "leaderboard.md", "leaderboards/coco-sample_256_standard.csv",
        "leaderboards/coco-sample_256_standard.md", "leaderboards/coco-sample_256_standard.tex",
        "my_notes.txt", "pairwise.md", "paper_tables.md", "paper_tables.tex",
        "plots/my_figure.png", "plots/rd_coco-sample_256_standard.csv", "plots/rd_coco-sample_256_standard.png",
        "plots/rd_coco-sample_256_standard.svg", "report_files.json",
    ]  # the ImageNet files and the grids of the first report are gone, the reader's files stay
    assert not (out / "grids").exists()


@needs_chromium
def test_figures_are_not_blank_in_a_screenshot(report, tmp_path):
    """Screenshot the page and look inside each figure's box: drawn pixels, not an empty frame."""
    rects = _probe(report, tmp_path, """
      window.scrollTo(0,0);
      return Array.prototype.map.call(document.querySelectorAll('section > figure img'),function(i){
        var r=i.getBoundingClientRect();return [r.left,r.top,r.right,r.bottom].map(Math.round).join(' ');}).join(';')
        +'|'+document.documentElement.scrollHeight;""")
    boxes, height = rects.split("|")
    shot = tmp_path / "page.png"
    done = _chromium(tmp_path, f"--screenshot={shot}", f"--window-size=1280,{height}", "--hide-scrollbars", report.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    found = [tuple(int(v) for v in b.split()) for b in boxes.split(";")]
    assert len(found) == 4
    for left, top, right, bottom in found:
        region = pixels[top + 2 : bottom - 2, left + 2 : right - 2]
        assert region.size > 10_000 and region.std() > 20, (left, top, right, bottom, region.std())
        assert (region < 128).mean() > 0.01  # dark pixels: lines, text or photo content


def test_default_order_is_compression_ratio_and_type_states_one_kind(tmp_path):
    import json

    import pandas as pd

    suite = write_synthetic_suite(tmp_path / "results", datasets={"coco-sample": ("coco", 8)})
    index = build_report([suite], tmp_path / "out", n_resamples=20)
    csv = pd.read_csv(tmp_path / "out" / "leaderboards" / "coco-sample_256_standard.csv")
    ratios = {json.loads(p.read_text())["tokenizer"]["name"]: json.loads(p.read_text())["compression"]["ratio"]
              for p in suite.glob("*/summary.json")}
    assert list(csv["name"]) == sorted(ratios, key=ratios.get, reverse=True)  # most compressed first
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "Rows by Compression, highest first" in md
    leaderboards = index.read_text().split('id="pairwise')[0]  # the leaderboard section comes first
    types = re.findall(r'<tr>\s*<td data-sort="[^"]*">[^<]*</td>\s*<td data-sort="([^"]*)">', leaderboards)
    assert len(types) == len(ratios) and set(types) == {"discrete", "continuous", "codec", "identity"}


@pytest.mark.slow
@needs_chromium
def test_render_check_passes_the_report_and_finds_a_blank_figure(report, tmp_path):
    import base64
    import io

    from wetok_bench.report.render_check import check_report

    assert check_report(report) == []
    page = report.read_text()
    first = re.search(r'<img alt="[^"]*" src="(data:image/png;base64,[^"]*)"', page).group(1)
    with Image.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as image:
        size = image.size
    blank = io.BytesIO()
    Image.new("RGB", size, "white").save(blank, format="PNG")
    broken = report.with_name("blank.html")
    broken.write_text(page.replace(first, "data:image/png;base64," + base64.b64encode(blank.getvalue()).decode(), 1))
    problems = check_report(broken)
    assert len(problems) == 1 and problems[0].startswith("figure 1: blank in the screenshot")


@pytest.mark.slow
@needs_chromium
def test_demo_script_writes_the_report_when_a_job_fails_and_exits_non_zero(tmp_path):
    """TAEF2 without its weights fails; identity runs: the report is written and shows the failure."""
    import os
    import sys

    from conftest import REPO

    env = {**os.environ, "WETOK_BENCH_VENV": str(Path(sys.executable).parents[1]), "WETOK_BENCH_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "WETOK_BENCH_WEIGHTS": str(tmp_path / "no_weights"),
           "WETOK_BENCH_RESULTS": str(tmp_path / "results"), "WETOK_BENCH_REPORT": str(tmp_path / "report")}
    (tmp_path / "no_weights").mkdir()
    done = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), "--only", "taef2", "--only", "identity",
                           "--num-images", "2", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout + done.stderr
    page = (tmp_path / "report" / "index.html").read_text()
    assert "taef2: job failed" in page and ">identity<" in page
    assert "report check:" in done.stdout + done.stderr  # the Chromium check ran on it


@needs_chromium
def test_compare_view_flips_to_the_original_and_the_leaderboard_fits_the_page(report, tmp_path):
    """Issue 20: a reader picks an image and a tokenizer, sees it enlarged (pixelated, at least 2x)
    beside the original, and flips it to the original on a click; the leaderboard (metrics beside
    each tokenizer; codes and cost in a second table) fits a 1,400 px page without scrolling."""
    script = """
      var box=document.querySelector('.compare');
      var recon=box.querySelector('img.compare-recon'),orig=box.querySelector('img.compare-original');
      var flip=box.querySelector('button.compare-flip');
      var first=recon.src===orig.src;
      flip.click(); var flipped=recon.src===orig.src; flip.click(); var back=recon.src!==orig.src;
      var tok=box.querySelector('select.compare-tokenizer'),before=recon.src;
      tok.selectedIndex=1; tok.dispatchEvent(new Event('change')); var changed=recon.src!==before;
      var zoom=recon.getBoundingClientRect().width/recon.naturalWidth;
      var main=document.querySelector('#leaderboards table.sortable');
      var fits=main.getBoundingClientRect().right<=window.innerWidth && main.parentNode.scrollWidth<=main.parentNode.clientWidth;
      var details=document.querySelectorAll('#leaderboards h3').length;
      return [first,flipped,back,changed,zoom>=2,fits,details>=2].join(',');"""
    assert _probe(report, tmp_path, script, width=1400) == "false,true,true,true,true,true,true"
