"""Benchmarks: one module per benchmark, holding its loader, its metric and the rows it quotes; the registry.

    from benchmarks import GRIDS
    sugarcrepe = GRIDS["sugarcrepe"]
    data = sugarcrepe.load("path/to/sugar-crepe/data", "path/to/val2017")   # a grid per example
    sugarcrepe.metrics(scores, higher_is_better, {"category": data["category"]})

Loaders read each benchmark's official release format from a local copy (Winoground and the retrieval
sets also from the hub), check captions and ids, and raise `common.errors.InputError` with one line for
anything a user can fix. Every example is a grid of m images x n captions (benchmarks/grids.py). To add a
benchmark, write one module and add one line to `GRIDS`; experiments 1-3 run on every grid (`--benchmark`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from benchmarks import (
    aro,
    colorswap,
    eqben,
    genai_bench,
    mmvp,
    naturalbench,
    sugarcrepe,
    sugarcrepe_pp,
    whatsup,
    winoground,
)
from benchmarks.formats import Format
from benchmarks.grids import check_grid_images, option_correct


@dataclass(frozen=True)
class Grid:
    """A benchmark whose examples are grids of `shape` = (images, captions) each."""
    name: str
    shape: tuple[int, int]
    load: Callable  # (source, image_root, limit) -> datasets.Dataset in the layout of benchmarks/grids.py
    metrics: Callable  # (scores (N, captions, images), higher_is_better, fields) -> {metric: percent}
    primary: str  # the metric the benchmark is known by
    fields: tuple[str, ...] = ()  # the grouping fields each example carries
    references: dict | None = None  # rows quoted from the literature: {label: {metric: value}}
    default_source: str | None = None  # where --data points when it is not given (a hub id)
    main_metrics: tuple[str, ...] = ()  # the columns of the table across benchmarks; default: (primary,)
    chance: dict | None = None  # {metric: percent} a random score gets, drawn as lines in the figures
    correct: Callable | None = None  # (scores, higher_is_better) -> {kind: bool per example}; default below
    breakdown: Callable | None = None  # (fields) -> {group: bool mask over examples}; default: each field=value
    compared: tuple[str, ...] = ()  # the metrics of the breakdown and of paired differences; default: (primary,)
    published: dict | None = None  # {row key: {metric: value}} the original write-up gave, for its model families
    published_families: tuple[str, ...] = ()
    quoted: dict | None = None  # {experiment: {label: {metric: value}}}: rows an experiment quotes beside its own
    # The official annotation file under --data (one of its kind where there are several) and its format
    # (benchmarks/formats.py), which the loader checks as a whole before anything else runs.
    annotations: tuple[str, Format] | None = None
    # Benchmarks rated by people (GenAI-Bench): each image's human score in a record, and the images' names.
    human: Callable | None = None  # (record) -> [score per image]
    image_names: tuple[str, ...] = ()
    # (scores, higher_is_better, fields, indices) -> `metrics` of each resample (rows of indices), where the
    # benchmark computes them faster than one call per resample; default: one call per resample.
    resampled: Callable | None = None
    display_name: str = ""  # how printouts name it; default: its registry name

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def groups(self, fields: dict) -> dict:
        """The breakdown's groups of examples: the benchmark's own, else one per value of each grouping field."""
        if self.breakdown:
            return self.breakdown(fields)
        return {f"{field}={value}": column == value for field, column in fields.items()
                for value in sorted(set(column.tolist()))}

    @property
    def compared_metrics(self) -> tuple[str, ...]:
        return self.compared or (self.primary,)

    def published_numbers(self, row_key: str, family: str) -> dict | None:
        """What the original write-up published for a row computed by a checkpoint of `family`, if anything."""
        return (self.published or {}).get(row_key) if family in self.published_families else None

    def example_correct(self, scores, higher_is_better: bool) -> dict:
        """What a row gets right of each example, by kind (the example page's marks and filters): the benchmark's
        own `correct`, else Text / Image / Group on 2 x 2 grids and, on 1 x n grids, caption 0 strictly best."""
        if self.correct:
            return self.correct(scores, higher_is_better)
        if self.shape == (2, 2):
            return winoground.correct(scores, higher_is_better)
        return {"right": option_correct(scores, higher_is_better)}

    @property
    def columns(self) -> tuple[str, ...]:
        """The metrics the table and figure across benchmarks show for this benchmark."""
        return self.main_metrics or (self.primary,)

    def resampled_metrics(self, scores, higher_is_better: bool, fields: dict, indices) -> list[dict]:
        """`metrics` on each resample of the examples (a row of `indices` each)."""
        if self.resampled:
            return self.resampled(scores, higher_is_better, fields, indices)
        return [self.metrics(scores[index], higher_is_better, {k: v[index] for k, v in fields.items()})
                for index in indices]

    def check(self, data) -> None:
        """Check every image file (and crop box) before any model work, naming the first bad one."""
        check_grid_images(data, self.shape[0])


def _winoground(source, image_root=None, limit=None):
    return winoground.load_winoground(source or winoground.DEFAULT_SOURCE, limit, check=False)


GRIDS = {g.name: g for g in [
    Grid("winoground", (2, 2), _winoground, winoground.metrics, "group", ("tag", "secondary_tag", "num_main_preds"),
         winoground.REFERENCES, default_source=winoground.DEFAULT_SOURCE,
         main_metrics=("group", "image"), chance=winoground.CHANCE,
         breakdown=winoground.groups, compared=winoground.KINDS, published=winoground.PUBLISHED,
         published_families=winoground.PUBLISHED_FAMILIES, display_name="Winoground",
         quoted={"experiment3": winoground.EXPERIMENT_1,
                 "experiment5": {**winoground.VISUALGPTSCORE, **winoground.VQASCORE}},
         annotations=("examples.jsonl", winoground.LINE)),
    Grid("sugarcrepe", sugarcrepe.SHAPE, sugarcrepe.load, sugarcrepe.metrics, sugarcrepe.PRIMARY, sugarcrepe.FIELDS,
         sugarcrepe.REFERENCES, main_metrics=("mean",), quoted={"experiment5": sugarcrepe.VISUALGPTSCORE},
         annotations=(f"{sugarcrepe.CATEGORIES[0]}.json", sugarcrepe.ENTRY)),
    Grid("aro-vg-relation", aro.SHAPE, partial(aro.load, "relation"), partial(aro.metrics, "relation"), aro.PRIMARY,
         aro.FIELDS["relation"], {k: {"macro_accuracy": v} for k, v in aro.REFERENCES["relation"].items()},
         quoted={"experiment5": aro.VISUALGPTSCORE["relation"]},
         annotations=(aro.FILES["relation"], aro.ENTRY["relation"])),
    Grid("aro-vg-attribution", aro.SHAPE, partial(aro.load, "attribution"), partial(aro.metrics, "attribution"),
         aro.PRIMARY, aro.FIELDS["attribution"],
         {k: {"macro_accuracy": v} for k, v in aro.REFERENCES["attribution"].items()},
         quoted={"experiment5": aro.VISUALGPTSCORE["attribution"]},
         annotations=(aro.FILES["attribution"], aro.ENTRY["attribution"])),
    Grid("whatsup-a", whatsup.SHAPE, partial(whatsup.load, "a"), partial(whatsup.metrics, "a"), whatsup.PRIMARY,
         whatsup.FIELDS, annotations=(whatsup.FILES["a"], whatsup.ENTRY)),
    Grid("whatsup-b", whatsup.SHAPE, partial(whatsup.load, "b"), partial(whatsup.metrics, "b"), whatsup.PRIMARY,
         whatsup.FIELDS, annotations=(whatsup.FILES["b"], whatsup.ENTRY)),
    Grid("mmvp-vlm", mmvp.SHAPE, mmvp.load, mmvp.metrics, mmvp.PRIMARY, mmvp.FIELDS, mmvp.REFERENCES,
         default_source=mmvp.DEFAULT_SOURCE, annotations=("Questions.csv", mmvp.ROW)),
    Grid("colorswap", colorswap.SHAPE, colorswap.load, colorswap.metrics, colorswap.PRIMARY,
         default_source=colorswap.DEFAULT_SOURCE, annotations=(colorswap.FILE, colorswap.ENTRY)),
    Grid("eqben-mini", eqben.SHAPE, eqben.load, eqben.metrics, eqben.PRIMARY, (), eqben.REFERENCES,
         quoted={"experiment5": {**eqben.VISUALGPTSCORE, **eqben.VQASCORE}}, annotations=(eqben.FILE, eqben.ENTRY)),
    Grid("naturalbench-retrieval", naturalbench.SHAPE, naturalbench.load, naturalbench.metrics, naturalbench.PRIMARY,
         annotations=(naturalbench.FILE, naturalbench.ENTRY)),
    Grid("sugarcrepe-pp", sugarcrepe_pp.SHAPE, sugarcrepe_pp.load, sugarcrepe_pp.metrics, sugarcrepe_pp.PRIMARY,
         sugarcrepe_pp.FIELDS, correct=sugarcrepe_pp.correct,
         annotations=(f"{sugarcrepe_pp.CATEGORIES[0]}.json", sugarcrepe_pp.ENTRY)),
    Grid("genai-bench", genai_bench.SHAPE, genai_bench.load, genai_bench.metrics, genai_bench.PRIMARY,
         genai_bench.FIELDS, genai_bench.REFERENCES, default_source=genai_bench.DEFAULT_SOURCE,
         main_metrics=genai_bench.METRICS, breakdown=genai_bench.groups, compared=genai_bench.METRICS,
         correct=genai_bench.correct, display_name="GenAI-Bench", annotations=("genai_image.json", genai_bench.ENTRY),
         human=genai_bench.record_human, image_names=genai_bench.GENERATORS, resampled=genai_bench.resampled_metrics),
]}
__all__ = ["GRIDS", "Grid"]
