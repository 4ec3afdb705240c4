"""A self-contained page to browse a re-ranking run's queries: the query, the ground truth, and the top
candidates in first-stage order and in each row's order.

One file, no server, no external assets. COCO 5K has 30,010 queries, so the page does not hold 30,010
rendered sections: it embeds the queries as JSON (each query's top candidates per ordering, at most 10,
enough for every recall the run reports), every image once as a small JPEG thumbnail, and every caption
once; its script renders one page of 50 queries at a time, of all queries or of a filter's. Filters show
the queries that one row gets right at R@1 and another wrong, for each pair of rows the run compares, and
the queries where a row moved the ground truth up or down against the first stage; their query sets are
computed here (`filter_sets`) and the script only reads them. A filter can be linked as
`queries.html#<filter name>`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from common.files import write_text

SHOWN = 10  # candidates shown per ordering: R@10 is the deepest recall a run reports
FIRST_STAGE = "first stage"
TASK_NAMES = {"text_retrieval": "text retrieval", "image_retrieval": "image retrieval"}


def query_id(query: Mapping) -> str:
    """t<n> for image query n (text retrieval), i<n> for caption query n (image retrieval)."""
    return f"{'t' if query['task'] == 'text_retrieval' else 'i'}{query['query']}"


def orders(query: Mapping, rows: Mapping[str, dict]) -> dict[str, list[int]]:
    """The candidates in first-stage order and in each row's order (ties keep the first-stage order)."""
    out = {FIRST_STAGE: list(query["candidates"])}
    for key, row in rows.items():
        scores = np.asarray(query["scores"][key], dtype=np.float64)
        order = np.argsort(-scores if row["higher_is_better"] else scores, kind="stable")
        out[key] = [query["candidates"][k] for k in order]
    return out


def ground_truth(query: Mapping, caption_image: Sequence[int], image_captions: Sequence[Sequence[int]]) -> set[int]:
    """An image query's captions, or a caption query's image."""
    if query["task"] == "text_retrieval":
        return set(image_captions[query["query"]])
    return {caption_image[query["query"]]}


def first_rank(order: Sequence[int], truth: set[int]) -> int | None:
    """The position (0 first) of the best-ranked ground truth among the candidates, None if none is there."""
    return next((n for n, c in enumerate(order) if c in truth), None)


def filter_sets(queries: Sequence[Mapping], results: Mapping, caption_image: Sequence[int],
                image_captions: Sequence[Sequence[int]]) -> dict[str, list[str]]:
    """Query ids per filter: right at R@1 under one compared row and wrong under the other (both ways, per
    task), and each row's queries whose ground truth it moved up or down against the first stage."""
    rows = results["rows"]
    right: dict[str, dict[str, bool]] = {key: {} for key in rows}
    moved: dict[str, dict[str, int]] = {key: {} for key in rows}
    for q in queries:
        truth, qid = ground_truth(q, caption_image, image_captions), query_id(q)
        ranked = orders(q, rows)
        before = first_rank(ranked[FIRST_STAGE], truth)
        for key in rows:
            right[key][qid] = bool(ranked[key]) and ranked[key][0] in truth
            after = first_rank(ranked[key], truth)
            moved[key][qid] = 0 if before is None else before - after
    sets: dict[str, list[str]] = {}
    tasks = {"text_retrieval": "t", "image_retrieval": "i"}
    for comparison in results["comparisons"]:
        for a, b in ((comparison["a"], comparison["b"]), (comparison["b"], comparison["a"])):
            for task, prefix in tasks.items():
                sets[f"{a} right, {b} wrong at R@1 ({TASK_NAMES[task]})"] = [
                    qid for qid in right[a] if qid.startswith(prefix) and right[a][qid] and not right[b][qid]]
    for key in rows:
        if key == "itc":
            continue
        for task, prefix in tasks.items():
            for direction, sign in (("up", 1), ("down", -1)):
                sets[f"{key} moved the ground truth {direction} ({TASK_NAMES[task]})"] = [
                    qid for qid, shift in moved[key].items() if qid.startswith(prefix) and shift * sign > 0]
    return sets


def page_data(queries: Sequence[Mapping], results: Mapping, captions: Sequence[str], caption_image: Sequence[int],
              image_captions: Sequence[Sequence[int]], thumbnails: Sequence[str]) -> dict:
    """What the page's script renders, as JSON: queries with their top candidates per ordering, once each."""
    rows = results["rows"]
    rendered = []
    for q in queries:
        truth = ground_truth(q, caption_image, image_captions)
        ranked = orders(q, rows)
        ranked.pop("itc", None)  # the first stage's own similarity: the first-stage order, shown once
        rendered.append({"id": query_id(q), "task": q["task"], "query": q["query"], "truth": sorted(truth),
                         "orders": {name: order[:SHOWN] for name, order in ranked.items()},
                         "ranks": {name: first_rank(order, truth) for name, order in ranked.items()}})
    return {"queries": rendered, "captions": list(captions), "thumbnails": list(thumbnails),
            "rows": {key: m["label"] for key, m in rows.items()},
            "filters": filter_sets(queries, results, caption_image, image_captions)}


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
.query{border-top:1px solid #ccc;padding:.6em 0} .query h2{font-size:1em;margin:.2em 0}
.order{display:flex;gap:.4em;align-items:flex-start;margin:.25em 0;flex-wrap:wrap}
.order .name{width:11em;font-size:.8em;color:#555;flex:none}
.cand{border:2px solid transparent;font-size:.75em;max-width:9em} .cand img{display:block;max-width:72px}
.cand.truth{border-color:#1a7f37;background:#eef8f0} .rank{color:#777;font-size:.8em}
.query img.q{max-width:120px} #pager button{margin:0 .3em} #count{color:#555;margin-left:1em}
"""

SCRIPT = """
const data = JSON.parse(document.getElementById('data').textContent);
const select = document.getElementById('filter');
const PAGE = 50;
let page = 0;
for (const name of Object.keys(data.filters)) {
  const option = document.createElement('option');
  option.value = name; option.textContent = name + ' (' + data.filters[name].length + ')';
  select.appendChild(option);
}
const byId = new Map(data.queries.map(q => [q.id, q]));
function shown() {
  return select.value === '' ? data.queries : data.filters[select.value].map(id => byId.get(id));
}
function candidate(q, id) {
  const el = document.createElement('div');
  el.className = 'cand' + (q.truth.includes(id) ? ' truth' : '');
  if (q.task === 'text_retrieval') { el.textContent = data.captions[id]; }
  else { const img = document.createElement('img'); img.src = data.thumbnails[id]; img.alt = 'image ' + id;
         el.appendChild(img); }
  el.title = (q.task === 'text_retrieval' ? 'caption ' : 'image ') + id +
             (q.truth.includes(id) ? ' (ground truth)' : '');
  return el;
}
function render() {
  const list = shown();
  const pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(page, pages - 1);
  const root = document.getElementById('queries');
  root.replaceChildren();
  for (const q of list.slice(page * PAGE, (page + 1) * PAGE)) {
    const section = document.createElement('section');
    section.className = 'query'; section.id = q.id;
    const head = document.createElement('h2');
    head.textContent = (q.task === 'text_retrieval' ? 'Image query ' : 'Caption query ') + q.query;
    section.appendChild(head);
    if (q.task === 'text_retrieval') { const img = document.createElement('img'); img.className = 'q';
      img.src = data.thumbnails[q.query]; img.alt = 'image ' + q.query; section.appendChild(img); }
    else { const p = document.createElement('p'); p.textContent = data.captions[q.query]; section.appendChild(p); }
    for (const [name, order] of Object.entries(q.orders)) {
      const row = document.createElement('div'); row.className = 'order';
      const label = document.createElement('div'); label.className = 'name';
      const rank = q.ranks[name] === null ? 'not in the top k' : 'ground truth at rank ' + (q.ranks[name] + 1);
      label.textContent = (name in data.rows ? name + ': ' + data.rows[name] : name) + ' (' + rank + ')';
      row.appendChild(label);
      for (const id of order) row.appendChild(candidate(q, id));
      section.appendChild(row);
    }
    root.appendChild(section);
  }
  document.getElementById('count').textContent = list.length + ' queries, page ' + (page + 1) + ' of ' + pages;
}
document.getElementById('previous').addEventListener('click', () => { page = Math.max(0, page - 1); render(); });
document.getElementById('next').addEventListener('click', () => { page += 1; render(); });
select.addEventListener('change', () => {
  history.replaceState(null, '', '#' + encodeURIComponent(select.value)); page = 0; render();
});
const linked = decodeURIComponent(location.hash.slice(1));
if (linked in data.filters) select.value = linked;  // a filter can be linked as queries.html#<filter name>
render();
"""


def write_queries_page(path: Path, title: str, data: Mapping) -> Path:
    """Write the page for `page_data(...)`."""
    payload = json.dumps(data).replace("</", "<\\/")  # the JSON cannot close its script element
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{len(data['queries'])} queries. Each shows the query, then its top candidates (at most {SHOWN}) in "
            f"first-stage order and in each row's order; the ground truth is framed in green.</p>"
            f"<label>Show <select id='filter'><option value=''>all queries</option></select></label>"
            f"<span id='pager'><button id='previous'>previous</button><button id='next'>next</button></span>"
            f"<span id='count'></span><div id='queries'></div>\n"
            f"<script type='application/json' id='data'>{payload}</script><script>{SCRIPT}</script></body></html>\n")
    return write_text(path, page)
