"""Turn experiment result folders into README tables, figures and a browsable page of examples.

For each folder (default: whichever of results/experiment1..3 exist) it prints a table of every row's
Text / Image / Group with 95% intervals beside the published Image score (reproduced minus published,
and whether the published score lies in the interval), then one table of all rows that have a
published score. Next to each results.json it writes scores.png, tags.png and examples.html; the
examples' images come from the data source recorded in results.json, or from --data.

    python summarize.py                                   # after running the experiments
    python summarize.py results/experiment2 --latex       # booktabs tables for a paper
    python summarize.py /tmp/tiny/experiment1 --data /tmp/tiny/winoground
"""

import argparse
from pathlib import Path

from benchmarks.winoground import load_winoground
from common.errors import InputError
from evaluation.cli import main_with_clean_errors
from summary import figures, tables
from summary.browser import write_browser
from summary.results import load_result

DEFAULT_FOLDERS = [Path(f"results/experiment{n}") for n in (1, 2, 3)]


def example_images(data: dict, source: str, records) -> dict:
    """(image_0, image_1) for each record's example; the data must hold the records' examples with the same
    captions, or the page would pair scores with the wrong images."""
    for r in records:
        ex = data.get(r["id"])
        if ex is None or (ex["caption_0"], ex["caption_1"]) != (r["caption_0"], r["caption_1"]):
            what = "has no example" if ex is None else "has other captions for example"
            raise InputError(f"{source} {what} {r['id']} of examples.jsonl: pass the data the run scored with --data")
    return {r["id"]: (data[r["id"]]["image_0"], data[r["id"]]["image_1"]) for r in records}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", type=Path, help="result folders (default: results/experiment1..3 that exist)")
    p.add_argument("--latex", action="store_true", help="print booktabs LaTeX tables instead of Markdown")
    p.add_argument("--data", default=None, help="Winoground source for the example page's images (default: the one "
                                                 "recorded in results.json)")
    args = p.parse_args()
    folders = args.folders or [f for f in DEFAULT_FOLDERS if f.exists()]
    if not folders:
        raise InputError("no result folders: run `python experiment1.py` (and 2, 3) first, or name folders to read")
    table = tables.latex if args.latex else lambda header, rows, caption: tables.markdown(header, rows)

    results, failed = [], []
    for folder in folders:
        try:
            result = load_result(folder)
        except InputError as e:
            print(f"{folder}: {e}\n")
            failed.append(folder)
            continue
        results.append(result)
        n = result.results["n_examples"]
        heading = f"{result.experiment} ({folder}, {n} Winoground examples)"
        print(f"## {heading}\n\n{table(tables.EXPERIMENT_HEADER, tables.experiment_rows(result), heading)}\n")

        written = [figures.scores_figure(result.results, folder / "scores.png", heading),
                   figures.tags_figure(result.results, folder / "tags.png", result.experiment)]
        source = args.data or result.results["config"]["data"]
        try:
            data = {ex["id"]: ex for ex in load_winoground(source, result.results["config"].get("limit"))}
        except InputError as e:  # the images are elsewhere: the tables and figures still stand
            print(f"{folder}: no examples.html: {e}")
            data = None
        if data is not None:
            try:
                images = example_images(data, source, result.records)
            except InputError as e:
                print(f"{folder}: no examples.html: {e}")
                failed.append(folder)
            else:
                written.append(write_browser(folder / "examples.html", heading, result.records, result.results,
                                             images))
        print("Wrote " + ", ".join(str(w) for w in written) + "\n")

    rows = tables.published_rows(results)
    if rows:
        heading = "All rows with a published Image score"
        print(f"## {heading}\n\n{table(tables.PUBLISHED_HEADER, rows, heading)}")
    if failed:
        raise InputError(f"{len(failed)} of {len(folders)} folder(s) could not be summarized: "
                         f"{', '.join(map(str, failed))} (reasons above)")


if __name__ == "__main__":
    main_with_clean_errors(main)
