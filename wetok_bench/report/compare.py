"""The report's compare view: one image at a time, original against the reconstruction a reader
picks, enlarged so that artifacts show.

A reader chooses an image (the grid images every job saved) and a tokenizer; the view shows that
reconstruction enlarged (pixelated, :data:`MIN_SIDE` px at least, a whole multiple of its size)
with the original at the same size beside it, and flips the reconstruction to the original while
pressed (or on "show original"), the blink comparison that makes small losses visible. Every image
is embedded (PNG as base64): the page still needs no other file.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Sequence

import numpy as np
from PIL import Image

#: The shown side is the image side times the smallest whole factor that reaches this (at most 8).
MIN_SIDE = 512
MAX_ZOOM = 8

SCRIPT = """
(function(){
  document.querySelectorAll('.compare').forEach(function(box){
    var data=JSON.parse(box.querySelector('script.compare-data').textContent);
    var image=box.querySelector('select.compare-image'),tok=box.querySelector('select.compare-tokenizer');
    var recon=box.querySelector('img.compare-recon'),orig=box.querySelector('img.compare-original');
    var label=box.querySelector('.compare-label'),flip=box.querySelector('button.compare-flip');
    var showing=false;
    function show(){
      var item=data.images[image.selectedIndex];
      orig.src=item.original;
      recon.src=showing?item.original:item.recons[tok.selectedIndex];
      label.textContent=showing?'original (release to see '+tok.value+')':tok.value+' (press to see the original)';
      flip.textContent=showing?'show reconstruction':'show original';
    }
    function hold(v){return function(e){showing=v;show();if(e)e.preventDefault();};}
    image.addEventListener('change',show);tok.addEventListener('change',show);
    recon.addEventListener('mousedown',hold(true));recon.addEventListener('mouseup',hold(false));
    recon.addEventListener('mouseleave',hold(false));recon.addEventListener('touchstart',hold(true));
    recon.addEventListener('touchend',hold(false));
    flip.addEventListener('click',function(){showing=!showing;show();});
    show();
  });
})();
"""

CSS = """
.compare{margin:1em 0;padding:.5em;border:1px solid #ddd}
.compare .pair{display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start}
.compare img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc;cursor:pointer}
.compare .compare-label{font-size:13px;color:#444}
"""


def _png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def zoom_for(side: int) -> int:
    """The whole enlargement of an image of this side: the smallest reaching :data:`MIN_SIDE`, 1..8."""
    return max(1, min(MAX_ZOOM, -(-MIN_SIDE // max(1, side))))


def compare_view(title: str, keys: Sequence[str], originals: Sequence[np.ndarray],
                 columns: Sequence[tuple[str, Sequence[np.ndarray]]]) -> str:
    """The HTML fragment of one compare view: ``originals`` (H x W x 3 uint8, one per key) and each
    tokenizer's reconstructions of them (``columns``: ``[(tokenizer, images)]``, same order)."""
    height, width = originals[0].shape[:2]
    zoom = zoom_for(max(height, width))
    data = {"images": [{"key": key, "original": _png(original), "recons": [_png(images[i]) for _, images in columns]}
                       for i, (key, original) in enumerate(zip(keys, originals))]}
    size = f'width="{width * zoom}" height="{height * zoom}"'
    options = "".join(f"<option>{html.escape(key)}</option>" for key in keys)
    tokenizers = "".join(f"<option>{html.escape(name)}</option>" for name, _ in columns)
    payload = json.dumps(data).replace("</", "<\\/")  # JSON inside a script element: only "</" could end it
    return "\n".join([
        f'<div class="compare"><h3>{html.escape(title)}</h3>',
        f'<label>image <select class="compare-image">{options}</select></label> ',
        f'<label>tokenizer <select class="compare-tokenizer">{tokenizers}</select></label> ',
        '<button type="button" class="compare-flip">show original</button>',
        f'<p class="compare-label"></p><div class="pair">'
        f'<figure><img class="compare-recon" alt="reconstruction" {size}><figcaption>as chosen, x{zoom}</figcaption></figure>'
        f'<figure><img class="compare-original" alt="original" {size}><figcaption>original, x{zoom}</figcaption></figure>'
        "</div>",
        f'<script type="application/json" class="compare-data">{payload}</script>',
        "</div>",
    ])
