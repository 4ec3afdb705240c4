"""ARO's Visual Genome sets (Yuksekgonul et al., ICLR 2023; mertyg/vision-language-models-are-bows):
VG-Relation and VG-Attribution, 1 x 2 grids of an image crop with its true and its false caption.

The official files `visual_genome_relation.json` and `visual_genome_attribution.json` are lists of
{"image_path", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "true_caption", "false_caption", ...} with
"relation_name" (VG-R) or "attributes" [a, b] (VG-A); image paths are relative to `images/` (from
`vgr_vga_images.zip`). Each image is cropped to (x, y, x + w, y + h), as the official code does. The
official metric is a macro accuracy: for VG-R the mean of per-relation accuracies over the relations
not in SYMMETRIC (the list in the official notebook `notebooks/Replicate ARO! VG-Relation,
VG-Attribution.ipynb`, copied as data below); for VG-A the mean over attribute pairs "a_b" with at least
25 examples. The order sets (COCO-/Flickr-Order) were generated with unreleased shuffles and are left out.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, FILE, NUMBER, POSITIVE, TEXT, Field, Format, list_of
from benchmarks.grids import grid_dataset, local_image, option_correct, percent, read_list
from benchmarks.visualgptscore import quoted
from common.errors import InputError

SHAPE = (1, 2)
PRIMARY = "macro_accuracy"
FILES = {"relation": "visual_genome_relation.json", "attribution": "visual_genome_attribution.json"}
FIELDS = {"relation": ("relation",), "attribution": ("attribute_pair",)}
MIN_PAIR_EXAMPLES = 25  # VG-A's macro accuracy counts attribute pairs with at least this many examples
DOWNLOAD = ("visual_genome_relation.json, visual_genome_attribution.json and vgr_vga_images.zip (unzipped to "
            "images/) as linked from https://github.com/mertyg/vision-language-models-are-bows; pass their folder "
            "as --data")
_BOX = (Field("image_path", FILE, image=True), Field("bbox_x", NUMBER), Field("bbox_y", NUMBER),
        Field("bbox_w", POSITIVE), Field("bbox_h", POSITIVE), Field("true_caption", CAPTION),
        Field("false_caption", CAPTION))
ENTRY = {"relation": Format("ARO's visual_genome_relation.json", (*_BOX, Field("relation_name", TEXT))),
         "attribution": Format("ARO's visual_genome_attribution.json", (*_BOX, Field("attributes", list_of(TEXT, 2))))}

# From the official notebook `notebooks/Replicate ARO! VG-Relation, VG-Attribution.ipynb` (mertyg/
# vision-language-models-are-bows): relations whose true and false captions mean the same, left out of
# VG-R's macro accuracy.
SYMMETRIC = frozenset([
    'adjusting', 'attached to', 'between', 'bigger than', 'biting', 'boarding', 'brushing', 'chewing', 'cleaning',
    'climbing', 'close to', 'coming from', 'coming out of', 'contain', 'crossing', 'dragging', 'draped over',
    'drinking', 'drinking from', 'driving', 'driving down', 'driving on', 'eating from', 'eating in', 'enclosing',
    'exiting', 'facing', 'filled with', 'floating in', 'floating on', 'flying', 'flying above', 'flying in',
    'flying over', 'flying through', 'full of', 'going down', 'going into', 'going through', 'grazing in',
    'growing in', 'growing on', 'guiding', 'hanging from', 'hanging in', 'hanging off', 'hanging over',
    'higher than', 'holding onto', 'hugging', 'in between', 'jumping off', 'jumping on', 'jumping over', 'kept in',
    'larger than', 'leading', 'leaning over', 'leaving', 'licking', 'longer than', 'looking in', 'looking into',
    'looking out', 'looking over', 'looking through', 'lying next to', 'lying on top of', 'making', 'mixed with',
    'mounted on', 'moving', 'on the back of', 'on the edge of', 'on the front of', 'on the other side of',
    'opening', 'painted on', 'parked at', 'parked beside', 'parked by', 'parked in', 'parked in front of',
    'parked near', 'parked next to', 'perched on', 'petting', 'piled on', 'playing', 'playing in', 'playing on',
    'playing with', 'pouring', 'reaching for', 'reading', 'reflected on', 'riding on', 'running in', 'running on',
    'running through', 'seen through', 'sitting behind', 'sitting beside', 'sitting by', 'sitting in front of',
    'sitting near', 'sitting next to', 'sitting under', 'skiing down', 'skiing on', 'sleeping in', 'sleeping on',
    'smiling at', 'sniffing', 'splashing', 'sprinkled on', 'stacked on', 'standing against', 'standing around',
    'standing behind', 'standing beside', 'standing in front of', 'standing near', 'standing next to',
    'staring at', 'stuck in', 'surrounding', 'swimming in', 'swinging', 'talking to', 'topped with', 'touching',
    'traveling down', 'traveling on', 'tying', 'typing on', 'underneath', 'wading in', 'waiting for',
    'walking across', 'walking by', 'walking down', 'walking next to', 'walking through', 'working in',
    'working on', 'worn on', 'wrapped around', 'wrapped in', 'by', 'of', 'near', 'next to', 'with', 'beside',
    'on the side of', 'around'])


def load(kind: str, source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    """VG-Relation (kind "relation") or VG-Attribution ("attribution"), in file order."""
    path, entries = read_list(source, FILES[kind], "ARO", ENTRY[kind].describe(), DOWNLOAD)
    root = Path(image_root).expanduser() if image_root else path.parent / "images"
    rows = []
    for n, (label, entry) in enumerate(ENTRY[kind].entries(path, entries, limit)):
        x, y, w, h = (float(entry[f"bbox_{k}"]) for k in "xywh")
        row = {"id": n, "images": [local_image(root, entry["image_path"], f"{path} {label}, field 'image_path'")],
               "boxes": [[x, y, x + w, y + h]], "captions": [entry["true_caption"], entry["false_caption"]]}
        if kind == "relation":
            row["relation"] = entry["relation_name"]
        else:
            row["attribute_pair"] = "_".join(entry["attributes"])
        rows.append(row)
    if not rows:
        raise InputError(f"{path} holds no examples")
    return grid_dataset(rows, *SHAPE, fields=FIELDS[kind], boxes=True)


def metrics(kind: str, scores: np.ndarray, higher_is_better: bool, fields: dict[str, np.ndarray]) -> dict[str, float]:
    """The official macro accuracy (see the module docstring) and the plain accuracy, in percent."""
    correct = option_correct(scores, higher_is_better)
    groups = np.asarray(fields[FIELDS[kind][0]])
    if kind == "relation":
        kept = [g for g in np.unique(groups) if g not in SYMMETRIC]
    else:
        kept = [g for g in np.unique(groups) if (groups == g).sum() >= MIN_PAIR_EXAMPLES]
    macro = float(np.mean([correct[groups == g].mean() for g in kept])) if kept else float("nan")
    return {"macro_accuracy": round(100.0 * macro, 2), "accuracy": percent(correct)}


# VG-R / VG-A macro accuracy (VisualGPTScore, Lin et al., ICML 2024, project page tables; ARO paper for CLIP).
REFERENCES = {
    "relation": {"BLIP ITC (VisualGPTScore)": 63.1, "BLIP ITM (VisualGPTScore)": 58.7,
                 "BLIP P(T given I) (VisualGPTScore)": 89.1, "P(T) from noise images (VisualGPTScore)": 87.6,
                 "CLIP ViT-B/32 (ARO paper, about)": 59.0},
    "attribution": {"BLIP ITC (VisualGPTScore)": 81.6, "BLIP ITM (VisualGPTScore)": 90.3,
                    "BLIP P(T given I) (VisualGPTScore)": 95.3, "P(T) from noise images (VisualGPTScore)": 80.7,
                    "CLIP ViT-B/32 (ARO paper, about)": 62.0},
}
# VisualGPTScore's BLIP rows (benchmarks/visualgptscore.py), beside experiment 5.
VISUALGPTSCORE = {"relation": dict([quoted("alpha = 0", {"macro_accuracy": 89.1})]),
                  "attribution": dict([quoted("alpha = 0", {"macro_accuracy": 95.3})])}
