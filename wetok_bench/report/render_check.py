"""Open a report in headless Chromium and check what a reader would see.

``python -m wetok_bench.report.render_check REPORT/index.html`` (``scripts/demo.sh`` runs it
when Chromium is installed) exits 0 when the page's own self-check says every image decoded
and every figure, cut out of a full-page screenshot at 1280 px width, is not blank (pixel
standard deviation above :data:`MIN_STD` and some dark pixels: lines, text, photo content);
otherwise it prints one line per problem and exits 1. Exit 2: Chromium not found.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

WIDTH = 1280
MIN_STD = 20.0
MIN_DARK = 0.01  # fraction of the figure's pixels darker than mid-grey

_PROBE = """<script>window.addEventListener('load',function(){
  var s=document.getElementById('render-status'),out=document.createElement('div');
  var boxes=Array.prototype.map.call(document.querySelectorAll('figure img'),function(i){
    var r=i.getBoundingClientRect();return [r.left,r.top+window.scrollY,r.right,r.bottom+window.scrollY].map(Math.round).join(' ');});
  out.id='probe-'+'out';
  out.textContent=(s?s.getAttribute('data-status'):'none')+'|'+document.documentElement.scrollHeight+'|'+boxes.join(';');
  document.body.appendChild(out);});</script>"""


def chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def check_report(index: Path, binary: str | None = None) -> list[str]:
    """Problems a reader would see in ``index`` (empty list: none)."""
    from PIL import Image

    binary = binary or chromium()
    if binary is None:
        raise FileNotFoundError("chromium not found on PATH")
    index = Path(index).resolve()
    if not index.is_file():
        return [f"{index} does not exist"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        probe = index.with_name(f".render_check_{index.stem}.html")  # beside it: same relative paths
        probe.write_text(index.read_text().replace("</body>", _PROBE + "</body>"))
        try:
            done = _run(binary, work / "profile", f"--window-size={WIDTH},900", "--dump-dom", probe.as_uri())
        finally:
            probe.unlink()
        found = re.search(r'<div id="probe-out">([^<]*)</div>', done.stdout)
        if not found:
            return [f"the page did not load in Chromium: {done.stderr.strip()[-300:]}"]
        status, height, boxes = found.group(1).split("|")
        problems = [] if status == "ok" else [f"self-check: {status} (an image did not decode)"]
        shot = work / "page.png"
        _run(binary, work / "profile", f"--window-size={WIDTH},{int(height)}", f"--screenshot={shot}", index.as_uri())
        if not shot.is_file():
            return problems + ["no screenshot written"]
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    for number, box in enumerate(b for b in boxes.split(";") if b):
        left, top, right, bottom = (int(v) for v in box.split())
        region = pixels[top + 2 : bottom - 2, left + 2 : right - 2]
        if region.size == 0:
            problems.append(f"figure {number + 1}: not on the page (box {box})")
        elif region.std() <= MIN_STD or (region < 128).mean() <= MIN_DARK:
            problems.append(f"figure {number + 1}: blank in the screenshot (std {region.std():.1f}, box {box})")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m wetok_bench.report.render_check REPORT/index.html", file=sys.stderr)
        return 2
    try:
        problems = check_report(Path(args[0]))
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"report check: {problem}", file=sys.stderr)
    if not problems:
        print(f"report check: {args[0]} renders, every figure drawn")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
