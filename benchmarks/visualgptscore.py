"""VisualGPTScore's published BLIP numbers, quoted beside experiment 5 (Lin et al., ICML 2024, "Revisiting the
role of language priors in vision-language models").

P(T|I) / P(T)^alpha from BLIP's captioning head, at alpha = 0 (plain likelihood), alpha = 1 (PMI) and the
alpha tuned on held-out data; their noise images, their number and the exact checkpoint are not published.
Only the numbers the paper gives are quoted; a metric it does not give is absent.
"""

SOURCE = "VisualGPTScore BLIP (Lin et al. 2024)"

# By the benchmark's name in benchmarks.GRIDS: {label: {metric: value}}.
QUOTED = {
    "winoground": {f"{SOURCE}, alpha = 0": {"text": 27.5, "image": 21.5}, f"{SOURCE}, alpha = 1": {"text": 33.7},
                   f"{SOURCE}, tuned alpha = 0.855": {"text": 36.6}},
    "sugarcrepe": {f"{SOURCE}, alpha = 0": {"mean_replace": 93.3, "mean_swap": 91.0, "mean_add": 91.0},
                   f"{SOURCE}, tuned alpha": {"mean_replace": 95.1, "mean_swap": 92.4, "mean_add": 97.4}},
    "aro-vg-relation": {f"{SOURCE}, alpha = 0": {"macro_accuracy": 89.1}},
    "aro-vg-attribution": {f"{SOURCE}, alpha = 0": {"macro_accuracy": 95.3}},
    "eqben-mini": {f"{SOURCE} on full EqBen, alpha = 0": {"text": 9.6},
                   f"{SOURCE} on full EqBen, alpha = 1": {"text": 19.8},
                   f"{SOURCE} on full EqBen, tuned alpha": {"text": 19.8}},
}
