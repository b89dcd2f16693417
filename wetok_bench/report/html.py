"""One self-contained ``index.html``: tables, plots and grids, every image embedded as base64.

The page needs no other file and no network. Two small inline scripts: one sorts a table when
a header is clicked (numbers by value, missing values last, a second click reverses), one
checks after loading that every image decoded (``naturalWidth > 0``) and writes the outcome
into ``#render-status`` (``data-status="ok"`` or ``"error"``), which the tests read back from a
headless browser; that line is hidden from readers. Wide tables scroll inside their own box
(paper tables also vertically), so the page itself never scrolls sideways.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from wetok_bench.report.compare import CSS as COMPARE_CSS
from wetok_bench.report.compare import SCRIPT as COMPARE_SCRIPT

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}
th.asc::after{content:" \\25B2"} th.desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pm{color:#777;font-size:90%}
.notes{font-size:12px;color:#555}
img{max-width:100%;border:1px solid #eee}
img.wide{width:100%;height:auto;image-rendering:pixelated}
figure{margin:1em 0} figcaption{font-size:12px;color:#555}
nav a{margin-right:1em}
.table-scroll{overflow:auto;max-width:100%}
section[id^="paper-"] .table-scroll{max-height:28em}
#render-status{display:none}
""" + COMPARE_CSS

SORT_SCRIPT = """
(function(){
  function key(td){var s=td.getAttribute('data-sort');if(s===null||s==='')return null;return s;}
  function sortTable(th){
    var table=th.closest('table'),idx=Array.prototype.indexOf.call(th.parentNode.children,th);
    var numeric=th.getAttribute('data-type')==='num',asc=!th.classList.contains('asc');
    Array.prototype.forEach.call(th.parentNode.children,function(h){h.classList.remove('asc','desc');});
    th.classList.add(asc?'asc':'desc');
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=key(a.cells[idx]),y=key(b.cells[idx]);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      var c=numeric?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
      if(isNaN(c))c=0;return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});
  }
  window.wetokSortTable=sortTable;
  document.querySelectorAll('table.sortable th').forEach(function(th){
    th.addEventListener('click',function(){sortTable(th);});});
})();
"""

STATUS_SCRIPT = """
window.addEventListener('load',function(){
  var imgs=document.images,bad=[];
  for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0)bad.push(imgs[i].alt||i);}
  var rows=document.querySelectorAll('table tbody tr').length;
  var el=document.getElementById('render-status');
  el.setAttribute('data-status',bad.length?'error':'ok');
  el.setAttribute('data-images',imgs.length);
  el.setAttribute('data-rows',rows);
  el.textContent=(bad.length?'broken images: '+bad.join(', '):'all images decoded')+' ('+imgs.length+' images, '+rows+' table rows)';
});
"""


#: A wide figure (a reconstruction grid) is drawn at the page width, enlarged at most this many
#: times (pixelated, so reconstruction pixels stay visible).
MAX_ENLARGE = 4


def embed_image(path: Path, alt: str, *, wide: bool = False) -> str:
    """An ``<img>`` whose source is the file's bytes as a data URI (PNG or SVG).

    ``wide``: a PNG shown at the page width (at most :data:`MAX_ENLARGE` times its own width).
    """
    data = Path(path).read_bytes()
    mime = "image/svg+xml" if Path(path).suffix.lower() == ".svg" else "image/png"
    encoded = base64.b64encode(data).decode("ascii")
    extra = ""
    if wide and mime == "image/png":
        from PIL import Image

        with Image.open(path) as image:
            width = image.size[0]
        extra = f' class="wide" style="max-width:min(100%,{MAX_ENLARGE * width}px)"'
    return f'<img alt="{html.escape(alt)}"{extra} src="data:{mime};base64,{encoded}">'


@dataclass
class Section:
    """A titled part of the page: HTML fragments (tables) and figures (path, caption)."""

    title: str
    anchor: str
    fragments: list[str] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)
    wide: bool = False  # figures drawn at the page width (reconstruction grids)


def render_page(title: str, intro: list[str], sections: list[Section]) -> str:
    """The whole page as a string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<div id="render-status" data-status="pending">rendering…</div>',
    ]
    parts += [f"<p>{html.escape(line)}</p>" for line in intro]
    parts.append("<nav>" + "".join(f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in sections) + "</nav>")
    for section in sections:
        parts.append(f'<section id="{html.escape(section.anchor)}"><h2>{html.escape(section.title)}</h2>')
        parts.extend(section.fragments)
        for path, caption in section.figures:
            parts.append(f"<figure>{embed_image(path, caption, wide=section.wide)}<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</section>")
    parts.append(f"<script>{SORT_SCRIPT}</script>")
    parts.append(f"<script>{COMPARE_SCRIPT}</script>")
    parts.append(f"<script>{STATUS_SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
