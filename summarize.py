"""Turn experiment result folders into README tables, figures and a browsable page of examples or queries.

For each Winoground folder (default: whichever of results/experiment1..3 exist) it prints a table of every
row's Text / Image / Group with 95% intervals beside the published Image score (reproduced minus published,
and whether the published score lies in the interval), then one table of all rows that have a published
score; next to each results.json it writes scores.png, tags.png and examples.html (and, for experiment 5,
alpha.png: each head's metric against the alpha of its prior normalization beside its T' ratio). For each re-ranking
folder (experiment 4) it prints the recall table beside BLIP's paper rows and the paired differences,
then one table of r_mean across those folders; it writes recalls.png and queries.html. Images come from
the data recorded in results.json, or from --data.

    python summarize.py                                   # after running the experiments
    python summarize.py results/experiment2 --latex       # booktabs tables for a paper
    python summarize.py /tmp/tiny/experiment1 --data /tmp/tiny/winoground
    python summarize.py results/experiment4-flickr results/experiment4-coco
"""

import argparse
from pathlib import Path

import datasets

from benchmarks import GRIDS
from benchmarks.retrieval import load_retrieval, retrieval_fingerprint
from benchmarks.winoground import load_winoground
from common.errors import InputError
from common.images import open_image, thumbnail
from evaluation.cli import main_with_clean_errors
from reports import grids as reports_grids
from summary import figures, tables
from summary.browser import write_browser
from summary.queries import page_data, write_queries_page
from summary.results import Result, load_result

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


def winoground_folder(result: Result, table, data_flag: str | None) -> list:
    """Print the folder's table; write its figures and example page. Returns what it wrote."""
    folder = result.folder
    heading = f"{result.experiment} ({folder}, {result.results['n_examples']} Winoground examples)"
    print(f"## {heading}\n\n{table(tables.EXPERIMENT_HEADER, tables.experiment_rows(result), heading)}\n")
    written = [figures.scores_figure(result.results, folder / "scores.png", heading, GRIDS["winoground"].chance),
               figures.tags_figure(result.results, folder / "tags.png", result.experiment), *alpha(result, heading)]
    source = data_flag or result.results["config"]["data"] or GRIDS["winoground"].default_source
    try:
        data = {ex["id"]: ex for ex in load_winoground(source, result.results["config"].get("limit"))}
    except InputError as e:  # the images are elsewhere: the tables and figures still stand
        print(f"{folder}: no examples.html: {e}")
        return written
    images = example_images(data, source, result.records)
    return [*written, write_browser(folder / "examples.html", heading, result.records, result.results, images,
                                    GRIDS[result.benchmark])]


def grid_folder(result: Result, table, data_flag: str | None) -> list:
    """A grid benchmark other than Winoground: print its table of official metrics; write its example page."""
    folder, config = result.folder, result.results["config"]
    grid = GRIDS[result.benchmark]
    heading = f"{result.experiment} ({folder}, {result.results['n_examples']} {grid.name} examples)"
    print(f"## {heading}\n\n{reports_grids.tables(result.results)}\n")
    written = alpha(result, heading)
    try:
        data = grid.load(data_flag or config["data"] or grid.default_source, config.get("image_root"),
                         config.get("limit"))
    except InputError as e:  # the images are elsewhere: the table still stands
        print(f"{folder}: no examples.html: {e}")
        return written
    rows = {row["id"]: row for row in data.cast_column("image_0", data.features["image_0"])}
    images = {}
    for r in result.records:
        row = rows.get(r["id"])
        if row is None or any(row[f"caption_{c}"] != r[f"caption_{c}"] for c in range(grid.shape[1])):
            raise InputError(f"{data_flag or config['data']} does not hold example {r['id']} of examples.jsonl as "
                             f"the run scored it: pass the data the run scored with --data")
        images[r["id"]] = [open_image(row[f"image_{i}"], row.get(f"box_{i}")) for i in range(grid.shape[0])]
    return [*written, write_browser(folder / "examples.html", heading, result.records, result.results, images,
                                    GRIDS[result.benchmark])]


def alpha(result: Result, heading: str) -> list:
    """Experiment 5's figure of the metric against alpha, where the folder has cross-validated rows."""
    if not result.results.get("alpha_figure"):
        return []
    return [figures.alpha_figure(result.results, result.folder / "alpha.png", heading)]


def retrieval_folder(result: Result, table, data_flag: str | None) -> list:
    """Print the folder's recall and difference tables; write its figure and query page. Returns what it wrote."""
    folder, config = result.folder, result.results["config"]
    counts = result.results["counts"]
    heading = (f"{result.experiment} ({folder}, {Path(config['data']).name}: {counts['images']} images, "
               f"{counts['captions']} captions, k = {result.results['k']})")
    print(f"## {heading}\n\n{table(tables.RECALL_HEADER, tables.recall_rows(result), heading)}\n")
    differences = tables.difference_rows(result)
    if differences:
        caption = f"{heading}: paired differences"
        print(f"Paired bootstrap differences (95% intervals):\n\n"
              f"{table(tables.DIFFERENCE_HEADER, differences, caption)}\n")
    written = [figures.recalls_figure(result.results, folder / "recalls.png", heading)]
    source = data_flag or config["data"]
    try:
        data = load_retrieval(source, config.get("image_root"), config.get("limit"), check=False)
        if (len(data.images), len(data.captions)) != (counts["images"], counts["captions"]) or (
                not data_flag and retrieval_fingerprint(data) != config["fingerprints"]["data"]):
            raise InputError(f"{source} holds other captions or images than the run scored: pass its annotation "
                             f"file with --data")
        thumbnails = [thumbnail(row["image"], 72, 75) for row in data.images.cast_column("image", datasets.Image())]
    except InputError as e:
        print(f"{folder}: no queries.html: {e}")
        return written
    except OSError as e:  # an image file that cannot be read
        print(f"{folder}: no queries.html: an image of {source} cannot be read ({e}): pass --data, or put the "
              f"images where the annotation file says")
        return written
    page = page_data(result.records, result.results, data.captions, data.caption_image, data.image_captions,
                     thumbnails)
    return [*written, write_queries_page(folder / "queries.html", heading, page)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="*", type=Path, help="result folders (default: results/experiment1..3 that exist)")
    p.add_argument("--latex", action="store_true", help="print booktabs LaTeX tables instead of Markdown")
    p.add_argument("--data", default=None, help="data for the page's images: a Winoground source, or a retrieval "
                                                 "annotation file (default: the one recorded in results.json)")
    args = p.parse_args()
    folders = args.folders or [f for f in DEFAULT_FOLDERS if f.exists()]
    if not folders:
        raise InputError("no result folders: run `python experiment1.py` (and 2, 3) first, or name folders to read")
    table = tables.latex if args.latex else lambda header, rows, caption: tables.markdown(header, rows)

    results, failed = [], []
    for folder in folders:
        try:
            result = load_result(folder)
            write = {"retrieval": retrieval_folder, "winoground": winoground_folder}.get(result.benchmark, grid_folder)
            written = write(result, table, args.data)
        except InputError as e:
            print(f"{folder}: {e}\n")
            failed.append(folder)
            continue
        results.append(result)
        print("Wrote " + ", ".join(str(w) for w in written) + "\n")

    rows = tables.published_rows([r for r in results if r.benchmark == "winoground"])
    if rows:
        heading = "All rows with a published Image score"
        print(f"## {heading}\n\n{table(tables.PUBLISHED_HEADER, rows, heading)}")
    graded = [r for r in results if not r.retrieval]
    if len({r.benchmark for r in graded}) > 1:
        heading = "Every row on every benchmark, main metrics with 95% intervals"
        header, lines = tables.benchmark_rows(graded)
        print(f"## {heading}\n\n{table(header, lines, heading)}\n")
        figure = Path(graded[0].folder).parent / "benchmarks.png"
        print(f"Wrote {figures.benchmarks_figure(header, lines, figure, heading)}\n")
    retrieval = [r for r in results if r.retrieval]
    if len(retrieval) > 1:
        heading = "r_mean of every re-ranking row across folders"
        print(f"## {heading}\n\n{table(*tables.dataset_rows(retrieval), heading)}")
    if failed:
        raise InputError(f"{len(failed)} of {len(folders)} folder(s) could not be summarized: "
                         f"{', '.join(map(str, failed))} (reasons above)")


if __name__ == "__main__":
    main_with_clean_errors(main)
