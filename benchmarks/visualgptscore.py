"""VisualGPTScore's published BLIP numbers (Lin et al., ICML 2024, "Revisiting the role of language priors in
vision-language models"): what they are and how they are labelled. Each benchmark's module holds its own
(`VISUALGPTSCORE`), and its `Grid` quotes them beside experiment 5.

P(T|I) / P(T)^alpha from BLIP's captioning head, at alpha = 0 (plain likelihood), alpha = 1 (PMI) and the
alpha tuned on held-out data; their noise images, their number and the exact checkpoint are not published.
Only the numbers the paper gives are quoted; a metric it does not give is absent.
"""

SOURCE = "VisualGPTScore BLIP (Lin et al. 2024)"


def quoted(alpha: str, metrics: dict, on: str = "") -> tuple[str, dict]:
    """One quoted row: its label (`alpha` as the paper names it; `on`, a set other than the one scored) and numbers."""
    return f"{SOURCE}{' on ' + on if on else ''}, {alpha}", metrics
