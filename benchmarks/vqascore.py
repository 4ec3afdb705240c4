"""VQAScore's published numbers (Lin et al., ECCV 2024, "Evaluating Text-to-Visual Generation with Image-to-Text
Generation", arXiv 2404.01291): how they are labelled. Each benchmark's module holds its own (`VQASCORE`), and its
`Grid` quotes them beside experiment 5, whose `vqa` rows compute the same score with a --vqa-model.

P("Yes" | image, 'Does this figure show "{T}"? Please answer yes or no.') from an off-the-shelf VLM
(InstructBLIP, LLaVA-1.5) and from the authors' CLIP-FlanT5-XXL. The paper names neither the InstructBLIP nor
the LLaVA-1.5 size. Read from the paper's table of Winoground and EqBen results as reproduced in
vlgiitr/papers_we_read (images/VQAScore_Results1.png); CLIP-FlanT5-XXL's group scores there (46.0, 47.9) are
the ones the authors' linzhiqiu/CLIP-FlanT5 docs/MODEL_ZOO.md gives, which names the EqBen set EqBen-Mini.
"""

SOURCE = "VQAScore (Lin et al. 2024)"


def quoted(model: str, metrics: dict) -> tuple[str, dict]:
    """One quoted row: its label (the VQA model as the paper names it) and its numbers."""
    return f"{SOURCE}, {model}", metrics
