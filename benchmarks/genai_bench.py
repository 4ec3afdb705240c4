"""GenAI-Bench (Lin et al., "Evaluating Text-to-Visual Generation with Image-to-Text Generation", ECCV 2024; Li et
al., "GenAI-Bench", arXiv 2406.13743): images that six text-to-image generators made from each prompt, each rated
1-5 for its alignment with the prompt by several people. A score agrees with people as far as it orders the
images as their mean ratings do.

The layout is the one linzhiqiu/t2v_metrics downloads (`dataset.py`, GenAIBench_Image; hub dataset
zhiqiulin/GenAI-Bench-527), read from a local folder or from the hub:
- `genai_image.json`: {"<prompt index>": {"prompt": ..., "models": {"<generator>": [rating, ...]}, ...}},
  indexes as 5-digit strings ("00001");
- `<generator>/<prompt index>.jpeg` for the generators of `GENERATORS` (on the hub, one `<generator>.zip` each);
- `genai_skills.json`: {"<skill>": [prompt index as an integer, ...]}; "basic" and "advanced" are skills too.

As a grid: one example per prompt, its one caption the prompt and its six images the generators' in
`GENERATORS` order, so scores are (N, 1, 6); each image's human score is the mean of its ratings (field
`ratings`, a JSON list of six means) and the prompt's skills are field `skills`.

The official metrics (t2v_metrics `genai_image_eval.py`, from google-research/mt-metrics-eval) compare each
row's score of every image with its mean human rating over all images pooled, with no grouping, in percent:
- `pairwise_accuracy`: over all pairs of images, the share the row orders as people do, with tie calibration
  (Deutsch, Foster and Freitag, "Ties Matter", EMNLP 2023): a pair is a human tie where the two means are
  equal, a metric tie where the two scores differ by at most epsilon; it counts as right when both tie, or when
  neither does and both order it the same way. Epsilon is the best of 0 and every distance between two scores
  (the smallest where several give the same accuracy);
- `pearson`: the linear correlation; `kendall_tau_b`: (concordant - discordant) over the square root of the
  pairs not tied in the scores times those not tied in the ratings.
A row whose lower score is better is negated first. Per skill (`skill=<tag>`) the same metrics over the
images of that skill's prompts.

Intervals resample prompts (each prompt with its six images). A prompt drawn k times stands for k copies of
its images, so every pair among them is counted as an expanded sample would count it: `resampled_metrics`
computes that with weights, over pairs sorted once per row, instead of sorting millions of pairs per resample.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, Field, Format, Kind, problem_line
from benchmarks.grids import grid_dataset, read_json
from benchmarks.hub import Hub, HuggingFaceHub
from common.errors import InputError

GENERATORS = ("DALLE_3", "SDXL_Turbo", "DeepFloyd_I_XL_v1", "Midjourney_6", "SDXL_2_1", "SDXL_Base")
SHAPE = (len(GENERATORS), 1)  # images, captions
FIELDS = ("ratings", "skills")
PRIMARY = "pairwise_accuracy"
METRICS = ("pairwise_accuracy", "pearson", "kendall_tau_b")
DEFAULT_SOURCE = "zhiqiulin/GenAI-Bench-527"
DOWNLOAD = ("genai_image.json, genai_skills.json and the six generators' image folders of the hub dataset "
            "zhiqiulin/GenAI-Bench-527 (as linzhiqiu/t2v_metrics downloads them), or a folder holding them")


def _ratings(value):
    if not isinstance(value, dict):
        return f"is {type(value).__name__}, not an object of each generator's ratings"
    for generator in GENERATORS:
        if generator not in value:
            return f"lacks the ratings of generator {generator}"
        ratings = value[generator]
        if not isinstance(ratings, list) or not ratings:
            return f"has {ratings!r} as {generator}'s ratings, not a non-empty list"
        bad = [r for r in ratings if isinstance(r, bool) or not isinstance(r, (int, float)) or not 1 <= r <= 5]
        if bad:
            return f"has {bad[0]!r} among {generator}'s ratings, not a number from 1 to 5"
    return None


RATINGS = Kind("each generator's ratings", _ratings, {g: [3] for g in GENERATORS})
ENTRY = Format("GenAI-Bench's genai_image.json", (Field("prompt", CAPTION), Field("models", RATINGS)),
               layout="object")


def load(source: str | None = DEFAULT_SOURCE, image_root: str | None = None, limit: int | None = None, *,
         hub: Hub | None = None) -> datasets.Dataset:
    """Every prompt in index order (the first `limit`), from a local folder or the hub copy."""
    source = source or DEFAULT_SOURCE
    folder = Path(source).expanduser()
    if folder.exists() or source.startswith((".", "/", "~")):
        if not folder.is_dir():
            raise InputError(f"{source} is not a folder: pass the folder holding genai_image.json ({DOWNLOAD})")
        root = Path(image_root).expanduser() if image_root else folder
        images = _folder_images(root)
        annotations, skills = folder / "genai_image.json", folder / "genai_skills.json"
    else:
        hub = hub or HuggingFaceHub()
        files = set(hub.list_files(source, None))
        missing = [f for f in ("genai_image.json", "genai_skills.json", *(f"{g}.zip" for g in GENERATORS))
                   if f not in files]
        if missing:
            raise InputError(f"{source} lacks {', '.join(missing)}: pass zhiqiulin/GenAI-Bench-527 or a local copy "
                             f"({DOWNLOAD})")
        annotations, skills = (Path(hub.download(source, f, None)) for f in ("genai_image.json", "genai_skills.json"))
        images = _zip_images({g: Path(hub.download(source, f"{g}.zip", None)) for g in GENERATORS})
    entries = ENTRY.entries(annotations, read_json(annotations, f"GenAI-Bench's genai_image.json is "
                                                                f"{ENTRY.describe()}; download {DOWNLOAD}"))
    problems = [f"{label}: its key is not a prompt index (digits)" for label, _ in entries
                if not label.removeprefix("entry ").isdigit()]
    if problems:
        raise InputError(problem_line(annotations, problems, "key each prompt by its index"))
    by_index = sorted(((int(label.removeprefix("entry ")), label.removeprefix("entry "), entry)
                       for label, entry in entries), key=lambda e: e[0])
    tags = _skills(skills, {index for index, _, _ in by_index})
    rows = []
    for index, key, entry in by_index[:limit]:
        means = [float(np.mean(entry["models"][g])) for g in GENERATORS]
        rows.append({"id": index, "captions": [entry["prompt"]], "ratings": json.dumps(means),
                     "skills": ",".join(sorted(tags.get(index, ()))),
                     "images": [images(g, key, f"{annotations} entry {key}") for g in GENERATORS]})
    if not rows:
        raise InputError(f"{annotations} holds no prompts: {DOWNLOAD}")
    return grid_dataset(rows, *SHAPE, fields=FIELDS)


def _skills(path: Path, indexes: set[int]) -> dict[int, set[str]]:
    """Each prompt's skill tags, from genai_skills.json; a listed prompt that does not exist is named."""
    skills = read_json(path, f"GenAI-Bench's genai_skills.json is {{\"<skill>\": [prompt indexes]}}; download "
                             f"{DOWNLOAD}")
    if not isinstance(skills, dict):
        raise InputError(f"{path} is not a JSON object of skills: GenAI-Bench's genai_skills.json is "
                         f"{{\"<skill>\": [prompt indexes]}}")
    problems, tags = [], {}
    for skill, listed in skills.items():
        if not isinstance(listed, list):
            problems.append(f"skill {skill!r} is {type(listed).__name__}, not a list of prompt indexes")
            continue
        for index in listed:
            if isinstance(index, bool) or not isinstance(index, int):
                problems.append(f"skill {skill!r} lists {index!r}, not a prompt index (an integer)")
            elif index not in indexes:
                problems.append(f"skill {skill!r} lists prompt {index}, which genai_image.json does not hold")
            else:
                tags.setdefault(index, set()).add(skill)
    if problems:
        raise InputError(problem_line(path, problems, "fix them"))
    return tags


def _folder_images(root: Path):
    def image(generator: str, key: str, where: str) -> dict:
        folder = root / generator
        if not folder.is_dir():
            raise InputError(f"the image folder of generator {generator} ({folder}) is missing: pass the folder that "
                             f"holds the six generators' folders with --image-root ({DOWNLOAD})")
        file = folder / f"{key}.jpeg"
        if not file.is_file():
            raise InputError(f"image {file} (for {where}) is missing: restore it ({DOWNLOAD})")
        return {"bytes": None, "path": str(file.resolve())}
    return image


def _zip_images(archives: dict[str, Path]):
    opened = {}
    for generator, archive in archives.items():
        try:
            zf = zipfile.ZipFile(archive)
        except (OSError, zipfile.BadZipFile):
            raise InputError(f"cannot open {archive} as a zip file: delete it from the hub cache and run "
                             f"again") from None
        opened[generator] = (zf, {Path(name).name: name for name in zf.namelist() if name.endswith(".jpeg")})

    def image(generator: str, key: str, where: str) -> dict:
        zf, names = opened[generator]
        if f"{key}.jpeg" not in names:
            raise InputError(f"image {key}.jpeg (for {where}) is missing from {generator}.zip")
        return {"bytes": zf.read(names[f"{key}.jpeg"]), "path": f"{generator}/{key}.jpeg"}
    return image


# --- the metrics -------------------------------------------------------------------------------------

class Pairs:
    """Every pair of images (i < j) of a row, sorted once by the distance of their scores: what the metrics need
    for the whole set and for every resample of prompts (`metrics(prompt_counts)`). Per resample, only the
    tie-calibrated accuracy passes over the pairs (one cumulative sum); the other sums are kept per pair of
    prompts."""

    def __init__(self, scores: np.ndarray, human: np.ndarray, higher_is_better: bool, per_prompt: int = 1):
        m = np.asarray(scores, dtype=np.float64).reshape(-1) * (1.0 if higher_is_better else -1.0)
        h = np.asarray(human, dtype=np.float64).reshape(-1)
        self.scores, self.human, self.per_prompt = m, h, per_prompt
        self.n_prompts = len(m) // per_prompt
        i, j = np.triu_indices(len(m), 1)
        distance = np.abs(m[i] - m[j])
        order = np.argsort(distance, kind="stable")
        i, j, distance = i[order], j[order], distance[order]
        sign_m, sign_h = np.sign(m[i] - m[j]), np.sign(h[i] - h[j])
        human_tie, agree = sign_h == 0, (sign_m != 0) & (sign_m == sign_h)  # agree: ordered alike, neither tied
        # Tying the first k pairs (those up to a threshold) gains their human ties and loses their agreements:
        # accuracy(k) = (agreements + cumsum(tie - agree)[k] + copies) / pairs.
        self.gain = human_tie.astype(np.float64) - agree
        # The candidate thresholds: 0 and every distinct distance, each tying every pair up to it; k = 0 (no
        # pair tied) only where no two scores are equal.
        ends = np.r_[distance[1:] != distance[:-1], True]
        self.ends = None if ends.all() else np.flatnonzero(ends)  # None: every distance differs, every k counts
        self.none_tied = not (len(distance) and distance[0] == 0)
        self.prompt_pair = (i // per_prompt) * self.n_prompts + j // per_prompt  # np.intp: `take` needs no copy
        by_prompt_pair = lambda x: np.bincount(self.prompt_pair, weights=x, minlength=self.n_prompts ** 2)  # noqa: E731
        self.agree, self.sign_product = by_prompt_pair(agree), by_prompt_pair(sign_m * sign_h)
        self.metric_untied, self.human_untied = by_prompt_pair(sign_m != 0), by_prompt_pair(sign_h != 0)
        self.pair_count = by_prompt_pair(None)  # pairs of distinct images between (or within) two prompts

    def metrics(self, prompt_counts: np.ndarray | None = None) -> dict[str, float]:
        """The three metrics, in percent, with each prompt's images counted `prompt_counts` times (default once)."""
        c = np.ones(self.n_prompts) if prompt_counts is None else np.asarray(prompt_counts, dtype=np.float64)
        w = np.outer(c, c).reshape(-1)  # the weight of a pair of images: how often the expanded sample has it
        item_w = np.repeat(c, self.per_prompt)
        # Copies of one image pair with each other: tied on both sides, right at every threshold.
        copies = float(np.sum(item_w * (item_w - 1) / 2))
        pairs = float(self.pair_count @ w) + copies
        gained = np.take(w, self.prompt_pair)
        np.multiply(gained, self.gain, out=gained)
        np.cumsum(gained, out=gained)
        if self.ends is not None:
            gained = gained[self.ends]
        best = max(float(gained.max()) if len(gained) else 0.0, 0.0 if self.none_tied else -np.inf)
        accuracy = (float(self.agree @ w) + best + copies) / pairs if pairs else float("nan")
        metric_untied, human_untied = float(self.metric_untied @ w), float(self.human_untied @ w)
        tau = float(self.sign_product @ w) / np.sqrt(metric_untied * human_untied) \
            if metric_untied and human_untied else float("nan")
        return {"pairwise_accuracy": _percent(accuracy),
                "pearson": _percent(_pearson(self.scores, self.human, item_w)), "kendall_tau_b": _percent(tau)}


def _pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    w = w / w.sum()
    dx, dy = x - w @ x, y - w @ y
    denominator = np.sqrt((w @ (dx * dx)) * (w @ (dy * dy)))
    return float(w @ (dx * dy) / denominator) if denominator > 0 else float("nan")


def _percent(value: float) -> float:
    return float("nan") if np.isnan(value) else round(100.0 * float(value), 2)


def human_means(fields: dict) -> np.ndarray:
    """(N, 6) mean human ratings, from each example's `ratings` field."""
    return np.array([json.loads(r) for r in fields["ratings"]], dtype=np.float64)


def record_human(record: dict) -> list[float]:
    """An examples.jsonl record's mean human rating of each image, in GENERATORS order."""
    return json.loads(record["ratings"])


def metrics(scores: np.ndarray, higher_is_better: bool, fields: dict) -> dict[str, float]:
    """Pairwise accuracy with tie calibration, Pearson and Kendall tau-b over every image, in percent."""
    return Pairs(np.asarray(scores)[:, 0, :], human_means(fields), higher_is_better, len(GENERATORS)).metrics()


def resampled_metrics(scores: np.ndarray, higher_is_better: bool, fields: dict,
                      indices: np.ndarray) -> list[dict[str, float]]:
    """`metrics` on each resample of prompts (rows of `indices`), equal to computing it on the resampled examples."""
    pairs = Pairs(np.asarray(scores)[:, 0, :], human_means(fields), higher_is_better, len(GENERATORS))
    return [pairs.metrics(np.bincount(index, minlength=len(scores))) for index in indices]


def groups(fields: dict) -> dict[str, np.ndarray]:
    """The per-skill breakdown: the prompts of each skill tag."""
    skills = [set(filter(None, s.split(","))) for s in fields["skills"]]
    return {f"skill={tag}": np.array([tag in s for s in skills]) for tag in sorted(set().union(*skills))}


def correct(scores: np.ndarray, higher_is_better: bool) -> dict[str, np.ndarray]:
    """What the example page marks right or wrong: nothing, as the metrics pool every prompt's images and a
    prompt alone is neither."""
    return {}


# The GenAI-Bench paper (arXiv 2406.13743), Table 2, image columns: pairwise accuracy (tie calibration), Pearson
# and Kendall, as a Markdown copy of the paper states them. The table does not say which prompt set it used; the
# paper describes 1,600 prompts.
REFERENCES = {
    "CLIPScore (GenAI-Bench paper, Table 2)": {"pairwise_accuracy": 50.8, "pearson": 16.4, "kendall_tau_b": 11.8},
    "BLIPv2Score (GenAI-Bench paper, Table 2)": {"pairwise_accuracy": 52.2, "pearson": 17.2, "kendall_tau_b": 14.7},
    "VQAScore, CLIP-FlanT5 (GenAI-Bench paper, Table 2)": {"pairwise_accuracy": 64.1, "pearson": 49.9,
                                                            "kendall_tau_b": 39.8},
}
