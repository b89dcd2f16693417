"""The report's files and page with odd inputs (issue 20: 6, 7): names that carry HTML, the same
job given from two folders."""

from __future__ import annotations

import json
import shutil

from _synthetic_results import TOKENIZERS, write_synthetic_suite

from wetok_bench.report.build import build_report

SMALL = {"coco-sample": ("coco", 8)}
SOME = {k: TOKENIZERS[k] for k in ("jpeg-q50", "identity")}


def test_markdown_files_show_html_in_names_as_text(tmp_path):
    suite = write_synthetic_suite(tmp_path / "r", datasets=SMALL, tokenizers=SOME)
    for summary in suite.rglob("summary.json"):
        data = json.loads(summary.read_text())
        data["tokenizer"]["display_name"] = '<img src=x onerror=alert(1)>|<b>bold</b>'
        summary.write_text(json.dumps(data))
    out = tmp_path / "report"
    build_report([suite], out)
    for md in [out / "leaderboard.md", *(out / "leaderboards").glob("*.md")]:
        text = md.read_text()
        assert "<img" not in text and "<b>" not in text, md
        assert "&lt;img src=x onerror=alert(1)>\\|&lt;b>bold&lt;/b>" in text
    assert "<img src=x" not in (out / "index.html").read_text()  # the page escapes too


def test_the_same_job_from_two_folders_is_one_row_with_a_note(tmp_path):
    suite = write_synthetic_suite(tmp_path / "r", datasets=SMALL, tokenizers=SOME)
    copy = tmp_path / "copy"
    shutil.copytree(suite, copy)
    out = tmp_path / "report"
    build_report([suite, copy], out)
    text = (out / "leaderboard.md").read_text()
    assert text.count("| JPEG q50 |") == 1
    assert "the same results in" in text and "shown once" in text
