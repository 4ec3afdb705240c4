"""Figures from a results.json: a grid run's compared metrics per row with 95% intervals, and per group of its
breakdown; re-ranking's recalls; the rows across benchmarks; experiment 5's metric against alpha.

Headless (matplotlib's Agg backend), sized to stay readable at README width: row labels are wrapped
and the canvas grows to fit them, so nothing is clipped.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")


def _labels(rows: dict) -> list[str]:
    return ["\n".join(textwrap.wrap(m["label"], 38)) for m in rows.values()]


def scores_figure(results: dict, path: Path, title: str, chance: dict | None = None) -> Path:
    """Horizontal bars per row and compared metric (results["compared"]) with 95% interval whiskers; dotted lines at
    random chance where the benchmark gives it (`Grid.chance`)."""
    rows, kinds = results["rows"], results["compared"]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(9, 1.1 + 0.75 * n), dpi=110)
    y = np.arange(n)[::-1]
    height = 0.78 / len(kinds)
    for k, kind in enumerate(kinds):
        color = COLORS[k % len(COLORS)]
        values = np.array([np.nan if m.get(kind) is None else m[kind] for m in rows.values()])
        intervals = [m["interval95"].get(kind) or [np.nan, np.nan] for m in rows.values()]
        low, high = np.array([iv[0] for iv in intervals]), np.array([iv[1] for iv in intervals])
        offset = ((len(kinds) - 1) / 2 - k) * height
        ax.barh(y + offset, values, height, color=color, label=kind, xerr=[values - low, high - values],
                error_kw={"elinewidth": 1, "capsize": 2})
        if chance and kind in chance:
            ax.vlines(chance[kind], y.min() - 0.5, y.max() + 0.5, colors=color, linestyles=":", linewidth=1.2)
    ax.set_yticks(y, _labels(rows), fontsize=8)
    lows = [iv[0] for m in rows.values() for iv in m["interval95"].values() if iv]  # correlations can be negative
    ax.set_xlim(min([0.0, *(v - 5 for v in lows)]), 100)
    ax.set_xlabel("percent (bars: 95% bootstrap interval; dotted: random chance)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8, ncol=3)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def human_figure(records, results: dict, human, path: Path, title: str) -> Path:
    """For benchmarks rated by people: one small scatter per row of its score of every image against the image's mean
    human rating (`human(record)`, per image), with the row's pairwise accuracy in its title."""
    rows = results["rows"]
    cols = min(3, len(rows))
    lines = -(-len(rows) // cols)
    fig, axes = plt.subplots(lines, cols, figsize=(3.3 * cols, 2.9 * lines), dpi=110, squeeze=False)
    ratings = [human(r) for r in records]
    x = np.concatenate(ratings)
    for ax, (key, m) in zip(axes.flat, rows.items()):
        y = np.array([r[key][f"c0_i{i}"] for r, h in zip(records, ratings) for i in range(len(h))])
        ax.scatter(x, y, s=6, alpha=0.5, color=COLORS[0], linewidths=0)
        label = "\n".join(textwrap.wrap(m["label"], 34))
        ax.set_title(f"{label}\npairwise accuracy {m.get('pairwise_accuracy', float('nan')):.1f}", fontsize=7)
        ax.set_xlabel("mean human rating", fontsize=7)
        ax.set_ylabel("score" + ("" if m["higher_is_better"] else " (lower is better)"), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the panels
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def groups_figure(results: dict, path: Path, title: str) -> Path:
    """One heat map per compared metric: rows x the breakdown's groups (Winoground's tags, SugarCrepe's categories),
    in the order the report lists them."""
    rows, kinds = results["rows"], results["compared"]
    groups = list(dict.fromkeys(g for m in rows.values() for g in m["breakdown"]))
    counts = {g: next(m["breakdown"][g]["n"] for m in rows.values() if g in m["breakdown"]) for g in groups}
    height = 0.42 * len(rows) + 0.6
    fig, axes = plt.subplots(len(kinds), 1, figsize=(3.6 + 0.85 * len(groups), len(kinds) * height + 1.2), dpi=110,
                             sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, kind in zip(axes, kinds):
        grid = np.array([[np.nan if m["breakdown"].get(g, {}).get(kind) is None else m["breakdown"][g][kind]
                          for g in groups] for m in rows.values()], dtype=np.float64)
        ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v < 60 else "black")
        ax.set_yticks(range(len(rows)), _labels(rows), fontsize=7)
        ax.set_title(kind, fontsize=9, loc="left")
    axes[-1].set_xticks(range(len(groups)), [f"{g.replace('=', chr(10))}\n(n={counts[g]})" for g in groups],
                        fontsize=7)
    fig.suptitle(f"{title}: per group", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


RECALL_COLORS = {1: "#4C72B0", 5: "#DD8452", 10: "#55A868"}


def recalls_figure(results: dict, path: Path, title: str) -> Path:
    """Recall@1, 5, 10 per row, text and image retrieval side by side, with 95% interval whiskers; the first
    stage's row is labelled as such and its R@1 drawn as a dashed line, so each row's gain shows at a glance."""
    rows = results["rows"]
    n = len(rows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 1.2 + 0.7 * n), dpi=110, sharey=True)
    y = np.arange(n)[::-1]
    height = 0.26
    labels = ["\n".join(textwrap.wrap(f"{key}{' (first stage)' if key == 'itc' else ''}: {m['label']}", 38))
              for key, m in rows.items()]
    for ax, (prefix, task) in zip(axes, (("txt", "text retrieval (image query)"),
                                         ("img", "image retrieval (caption query)"))):
        for j, k in enumerate((1, 5, 10)):
            column = f"{prefix}_r{k}"
            values = np.array([m[column] for m in rows.values()])
            low = np.array([m["interval95"][column][0] for m in rows.values()])
            high = np.array([m["interval95"][column][1] for m in rows.values()])
            ax.barh(y + (1 - j) * height, values, height, color=RECALL_COLORS[k], label=f"R@{k}",
                    xerr=[values - low, high - values], error_kw={"elinewidth": 1, "capsize": 2})
        if "itc" in rows:
            ax.axvline(rows["itc"][f"{prefix}_r1"], color=RECALL_COLORS[1], linestyle="--", linewidth=1,
                       label="first stage R@1")
        ax.set_xlim(0, 100)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("recall, percent (bars: 95% bootstrap interval)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def benchmarks_figure(header, lines, path: Path, title: str) -> Path:
    """The table across benchmarks as a heat map: rows x benchmark metrics, percent, '-' where not run."""
    grid = np.array([[np.nan if c is None else c[0] for c in line[1:]] for line in lines], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(3 + 1.1 * len(header[1:]), 1 + 0.45 * len(lines)), dpi=110)
    ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (r, c), v in np.ndenumerate(grid):
        ax.text(c, r, "-" if np.isnan(v) else f"{v:.1f}", ha="center", va="center", fontsize=7,
                color="white" if np.isnan(v) or v < 60 else "black")
    ax.set_yticks(range(len(lines)), ["\n".join(textwrap.wrap(line[0], 40)) for line in lines], fontsize=7)
    ax.set_xticks(range(len(header) - 1), ["\n".join(textwrap.wrap(h, 16)) for h in header[1:]], fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def alpha_figure(results: dict, path: Path, title: str) -> Path:
    """Experiment 5: per head, the primary metric on the whole set against the alpha of log P(T|I) - alpha log P(T),
    with the head's T' ratio, gated ratio and blind rows as horizontal lines and its five CV alphas as ticks."""
    rows, primary = results["rows"], results["primary"]
    panels = results["alpha_figure"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 5.2), dpi=110, squeeze=False)
    styles = {"_ratio_improved": ("#C44E52", "-"), "_ratio_gated": ("#8172B2", "-."), "_null": ("#777777", ":"),
              "mlm_pll": ("#937860", "--")}
    for ax, (tuned, lines) in zip(axes[0], panels.items()):
        row = rows[tuned]
        values = np.array([np.nan if v is None else v for v in row["metric_by_alpha"]], dtype=np.float64)
        ax.plot(row["alpha_grid"], values, "o-", color="#4C72B0", markersize=3, label="log P(T|I) - alpha log P(T)")
        for key in lines:
            color, style = next(s for suffix, s in styles.items() if key.endswith(suffix))
            if rows[key].get(primary) is not None:
                ax.axhline(rows[key][primary], color=color, linestyle=style, linewidth=1.3,
                           label="\n".join(textwrap.wrap(rows[key]["label"], 34)))
        ax.plot(row["alphas"], [np.nanmin(values)] * len(row["alphas"]), "|", color="black", markersize=10,
                label="alpha chosen in each CV fold")
        ax.set_title("\n".join(textwrap.wrap(row["label"], 44)), fontsize=8)
        ax.set_xlabel("alpha", fontsize=8)
        ax.set_ylabel(f"{primary} (whole set)", fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
