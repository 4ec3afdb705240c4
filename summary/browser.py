"""A self-contained HTML page to browse an experiment's examples: images, captions, T', every row's scores.

One file, no server and no external assets: thumbnails are embedded as base64 JPEG. Each example shows
its two images and captions, the T' of each caption where the experiment has one, and for every row its
four scores with each image's preferred caption in bold, whether Text / Image / Group are right, and
which pairing wins (matched c0-i0 + c1-i1, or crossed). Filters show the examples that one row gets
right and another wrong, for the row pairs the experiment compares; their example sets are computed
here (`filter_sets`) and embedded as JSON, which the page's script only reads.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from common.files import write_text
from common.images import thumbnail
from evaluation.records import SWAP_NAMES, score_grid, swaps_of


def correctness(records: Sequence[dict], row_results: Mapping[str, dict], grid) -> dict[str, dict[str, np.ndarray]]:
    """Per row and kind, a bool per record: does the row get that part of the example right (`Grid.example_correct`)?"""
    return {key: grid.example_correct(score_grid(records, key), m["higher_is_better"]) for key, m in row_results.items()}


def filter_sets(records: Sequence[dict], results: dict, grid) -> dict[str, list[int]]:
    """For each compared pair of rows (both ways) and kind: ids of the examples A gets right and B wrong."""
    flags = correctness(records, results["rows"], grid)
    ids = np.array([r["id"] for r in records])
    sets = {}
    for comparison in results["comparisons"]:
        for a, b in ((comparison["a"], comparison["b"]), (comparison["b"], comparison["a"])):
            for kind in flags[a]:
                chosen = flags[a][kind] & ~flags[b][kind]
                name = f"{a} right, {b} wrong" + ("" if kind == "right" else f" ({kind})")
                sets[name] = ids[chosen].tolist()
    return sets


def _scores_table(record: dict, row_results: Mapping[str, dict], flags: Mapping[str, dict], n: int) -> str:
    rows, shape = [], None
    for key, m in row_results.items():
        s = record[key]
        n_captions = 1 + max(int(k[1:].split("_")[0]) for k in s)
        n_images = 1 + max(int(k.split("_i")[1]) for k in s)
        shape = (n_captions, n_images)
        grid = [[s[f"c{c}_i{i}"] for i in range(n_images)] for c in range(n_captions)]
        best = max if m["higher_is_better"] else min
        cells = []
        for c in range(n_captions):
            for i in range(n_images):
                text = f"{grid[c][i]:.4g}"
                column = [grid[k][i] for k in range(n_captions)]
                winner = grid[c][i] == best(column) and column.count(grid[c][i]) == 1
                cells.append(f"<td class='num'>{'<b>' + text + '</b>' if winner else text}</td>")
        pairing = ""
        if shape == (2, 2):
            matched, crossed = grid[0][0] + grid[1][1], grid[0][1] + grid[1][0]
            won = matched > crossed if m["higher_is_better"] else matched < crossed
            pairing = f"<td>{'matched' if won else 'crossed'}</td>"
        marks = "".join("<td class='ok'>&#10003;</td>" if flags[key][k][n] else "<td class='no'>&#10007;</td>"
                        for k in flags[key])
        rows.append(f"<tr><td>{html.escape(m['label'])}</td>{''.join(cells)}{pairing}{marks}</tr>")
    kinds = next(iter(flags.values())).keys()
    head = "".join(f"<th>c{c}&middot;i{i}</th>" for c in range(shape[0]) for i in range(shape[1]))
    head += "<th>winning pairing</th>" if shape == (2, 2) else ""
    head += "".join(f"<th>{k[0].upper() if k != 'right' else 'right'}</th>" for k in kinds)
    return f"<table class='scores'><tr><th>row</th>{head}</tr>" + "".join(rows) + "</table>"


def _human_orders(record: dict, row_results: Mapping[str, dict], human: Sequence[float]) -> str:
    """Per row, the example's images from its best score to its worst, each with its mean human rating."""
    lines = []
    for key, m in row_results.items():
        scores = np.array([record[key][f"c0_i{i}"] for i in range(len(human))], dtype=np.float64)
        ranked = np.argsort(-scores if m["higher_is_better"] else scores, kind="stable")
        cells = "".join(f"<td>i{i} <small>({human[i]:.2f})</small></td>" for i in ranked)
        lines.append(f"<tr><td>{html.escape(m['label'])}</td>{cells}</tr>")
    return ("<table class='scores'><tr><th>row: images from its best score to its worst (mean human rating)</th>"
            f"</tr>{''.join(lines)}</table>")


def example_card(record: dict, images: Sequence[Image.Image], row_results: Mapping[str, dict],
                 flags: Mapping[str, dict], n: int, fields: Sequence[str] = (), grid=None) -> str:
    captions = []
    for c in range(sum(k.startswith("caption_") for k in record)):
        lines = [f"<div class='caption'><b>c{c}</b> {html.escape(record[f'caption_{c}'])}</div>"]
        for search, swap in swaps_of(record, c).items():
            shown = html.escape(swap) if swap is not None else "<i>none (T' = T)</i>"
            lines.append(f"<div class='swap'>{SWAP_NAMES[search]}: {shown}</div>")
        captions.append("".join(lines))
    human = grid.human(record) if grid is not None and grid.human else None
    names = grid.image_names if grid is not None else ()
    notes = [(f" {html.escape(names[i])}" if i < len(names) else "")
             + (f", human {human[i]:.2f}" if human is not None else "") for i in range(len(images))]
    pictures = "".join(f"<figure><img src='{thumbnail(im, 160, 80)}' alt='image {i} of example {record['id']}'>"
                       f"<figcaption>i{i}{notes[i]}</figcaption></figure>" for i, im in enumerate(images))
    shown = [f for f in fields if record.get(f) not in (None, "") and not (human is not None and f == "ratings")]
    tags = html.escape(", ".join(f"{f}: {record[f]}" for f in shown))
    orders = _human_orders(record, row_results, human) if human is not None else ""
    return (f"<section class='example' data-id='{record['id']}'><h2>Example {record['id']} "
            f"<small>{tags}</small></h2><div class='row'>{pictures}<div>{''.join(captions)}</div></div>"
            f"{orders}{_scores_table(record, row_results, flags, n)}</section>")


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
.example{border-top:1px solid #ccc;padding:.6em 0}
.example h2{font-size:1.05em;margin:.2em 0} .example h2 small{color:#777;font-weight:normal}
.row{display:flex;gap:1em;align-items:flex-start} figure{margin:0;text-align:center}
figure img{max-width:160px;max-height:160px;display:block} figcaption{font-size:.8em;color:#555}
.caption{margin:.2em 0} .swap{font-size:.85em;color:#555;margin-left:1.6em}
table.scores{border-collapse:collapse;font-size:.82em;margin-top:.4em}
table.scores td,table.scores th{border:1px solid #ddd;padding:2px 6px} td.num{text-align:right}
td.ok{color:#1a7f37;text-align:center} td.no{color:#c00;text-align:center}
#count{color:#555;margin-left:1em}
"""

SCRIPT = """
const filters = JSON.parse(document.getElementById('filters').textContent);
const select = document.getElementById('filter');
for (const name of Object.keys(filters)) {
  const option = document.createElement('option');
  option.value = name; option.textContent = name + ' (' + filters[name].length + ')';
  select.appendChild(option);
}
function apply() {
  const keep = select.value === '' ? null : new Set(filters[select.value].map(String));
  let shown = 0;
  for (const card of document.querySelectorAll('.example')) {
    const visible = keep === null || keep.has(card.dataset.id);
    card.style.display = visible ? '' : 'none';
    shown += visible;
  }
  document.getElementById('count').textContent = shown + ' examples shown';
}
select.addEventListener('change', () => {
  history.replaceState(null, '', '#' + encodeURIComponent(select.value));
  apply();
});
const linked = decodeURIComponent(location.hash.slice(1));
if (linked in filters) select.value = linked;  // a filter can be linked as examples.html#<filter name>
apply();
"""


def write_browser(path: Path, title: str, records: Sequence[dict], results: dict,
                  images: Mapping[int, Sequence[Image.Image]], grid) -> Path:
    """Write the page for `records` of the benchmark `grid` (benchmarks.Grid: what a row gets right, and the grouping
    fields shown beside each example's id); images[id] holds each example's images."""
    row_results = {k: m for k, m in results["rows"].items() if k in records[0]}
    flags = correctness(records, row_results, grid)
    filters = filter_sets(records, {**results, "rows": row_results}, grid)
    cards = "\n".join(example_card(r, images[r["id"]], row_results, flags, n, grid.fields, grid)
                      for n, r in enumerate(records))
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{len(records)} examples. Bold: each image's preferred caption under that row. T / I / G: Text, "
            f"Image and Group right.</p><label>Show <select id='filter'><option value=''>all examples</option>"
            f"</select></label><span id='count'></span>\n{cards}\n"
            f"<script type='application/json' id='filters'>{json.dumps(filters)}</script>"
            f"<script>{SCRIPT}</script></body></html>\n")
    return write_text(path, page)
