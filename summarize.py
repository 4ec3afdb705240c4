"""Turn experiment result folders into README tables, figures and a browsable page of examples or queries.

For each grid folder (Winoground or any other benchmark; default: whichever of results/experiment1..3 exist)
it prints a table of every row's official metrics with 95% intervals beside the numbers the original write-up
published (reproduced minus published, and whether the published number lies in the interval) and the quoted
rows, then the paired differences; next to each results.json it writes scores.png (the compared metrics per
row), groups.png (per group of the breakdown: Winoground's tags, SugarCrepe's categories) and examples.html
(and, for experiment 5, alpha.png: each head's metric against the alpha of its prior normalization beside its
T' ratio; for a benchmark rated by people, GenAI-Bench, human.png: each row's scores against the mean human
ratings). Then one table of all rows with a published number, and one across benchmarks. For each re-ranking
folder (experiment 4) it prints the recall table beside BLIP's paper rows and the paired differences, then one
table of r_mean across those folders; it writes recalls.png and queries.html. Images come from the data
recorded in results.json, or from --data.

    python summarize.py                                   # after running the experiments
    python summarize.py results/experiment2 --latex       # booktabs tables for a paper
    python summarize.py /tmp/tiny/experiment1 --data /tmp/tiny/winoground
    python summarize.py results/experiment4-flickr results/experiment4-coco
"""

import argparse
from pathlib import Path

import datasets
import PIL.Image

from benchmarks import GRIDS
from benchmarks.data import example_fingerprints, undecoded
from benchmarks.retrieval import RECALL_COLUMNS, load_retrieval, retrieval_fingerprint
from common.errors import InputError
from common.images import open_image, thumbnail
from evaluation.cli import main_with_clean_errors
from summary import figures, tables
from summary.browser import write_browser
from summary.queries import page_data, write_queries_page
from summary.results import Result, load_result

DEFAULT_FOLDERS = [Path(f"results/experiment{n}") for n in (1, 2, 3)]


def grid_folder(result: Result, table, data_flag: str | None) -> list:
    """Print the folder's table of official metrics and its paired differences; write its figures and example page.
    Returns what it wrote."""
    folder, grid = result.folder, GRIDS[result.benchmark]
    heading = f"{result.experiment} ({folder}, {result.results['n_examples']} {grid.title} examples)"
    print(f"## {heading}\n\n{table(*tables.grid_rows(result), heading)}\n")
    compared = result.results["compared"]
    differences = tables.difference_rows(result, compared)
    if differences:
        caption = f"{heading}: paired differences"
        print(f"Paired bootstrap differences (95% intervals):\n\n"
              f"{table(['A minus B', *compared], differences, caption)}\n")
    written = [figures.scores_figure(result.results, folder / "scores.png", heading, grid.chance),
               figures.groups_figure(result.results, folder / "groups.png", heading), *alpha(result, heading)]
    if grid.human:  # rated by people: each row's scores against the mean human ratings
        written.append(figures.human_figure(result.records, result.results, grid.human, folder / "human.png", heading))
    try:
        images = example_images(result, grid, data_flag)
    except InputError as e:  # the images are elsewhere or changed: the tables and figures still stand
        print(f"{folder}: no examples.html: {e}")
        return written
    return [*written, write_browser(folder / "examples.html", heading, result.records, result.results, images, grid)]


def example_images(result: Result, grid, data_flag: str | None) -> dict[int, list]:
    """Each example's images as the run scored them (crops included), from the data recorded in results.json, or
    --data. Examples must be those the run scored: by the fingerprint of their inputs (captions, fields, image
    files, boxes) where the run recorded one and the recorded data is read, else by their captions."""
    config = result.results["config"]
    source = data_flag or config["data"] or grid.default_source
    columns = [f"image_{i}" for i in range(grid.shape[0])]
    data = grid.load(source, config.get("image_root"), config.get("limit"))
    fingerprints = dict(zip(data["id"], example_fingerprints(data, columns))) if not data_flag else {}
    rows = {row["id"]: row for row in undecoded(data, columns)}
    images = {}
    for r in result.records:
        row = rows.get(r["id"])
        if row is None or any(row[f"caption_{c}"] != r[f"caption_{c}"] for c in range(grid.shape[1])) or (
                r.get("inputs") and fingerprints and fingerprints[r["id"]] != r["inputs"]):
            raise InputError(f"{source} does not hold example {r['id']} of examples.jsonl as the run scored it (its "
                             f"captions, fields, images or boxes changed since): run the experiment again with "
                             f"that --out to score the changed examples, or pass the data the run scored with --data")
        try:
            images[r["id"]] = [open_image(row[c], row.get(f"box_{i}")) for i, c in enumerate(columns)]
        except (OSError, ValueError, PIL.Image.DecompressionBombError) as e:
            name = next((row[c]["path"] for c in columns if row[c]["path"]), f"of example {r['id']}")
            raise InputError(f"image {name} cannot be read ({type(e).__name__}): restore it, or pass the data the "
                             f"run scored with --data") from None
    return images


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
    differences = tables.difference_rows(result, RECALL_COLUMNS)
    if differences:
        caption = f"{heading}: paired differences"
        print(f"Paired bootstrap differences (95% intervals):\n\n"
              f"{table(['A minus B', *RECALL_COLUMNS], differences, caption)}\n")
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
            write = retrieval_folder if result.retrieval else grid_folder
            written = write(result, table, args.data)
        except InputError as e:
            print(f"{folder}: {e}\n")
            failed.append(folder)
            continue
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:  # a results.json edited by hand
            print(f"{folder}: cannot summarize its results.json ({type(e).__name__}: {e}): it was edited or not "
                  f"written by this code; run the experiment again with that --out\n")
            failed.append(folder)
            continue
        results.append(result)
        print("Wrote " + ", ".join(str(w) for w in written) + "\n")

    rows = tables.published_rows([r for r in results if not r.retrieval])
    if rows:
        heading = "All rows with a published number"
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
