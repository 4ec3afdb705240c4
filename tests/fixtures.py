"""Tiny offline stand-ins for the real checkpoints and data, for the tests and for a smoke run.

Random-weight BLIP and RoBERTa models built from configs and saved with `save_pretrained` (so code
loads them by path exactly as it would load a hub id), and a Winoground-format folder whose images are
drawn with Pillow. Nothing here touches the network. From the command line:

    python tests/fixtures.py /tmp/tiny      # writes winoground/, blip-clm/, blip-itm/, mlm/ there
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent

# Caption pairs use the same words in a different order, as Winoground's do.
CAPTION_PAIRS = [
    ("a red circle left of a blue square", "a blue circle left of a red square"),
    ("the dog chases the cat", "the cat chases the dog"),
    ("a big tree next to a small house", "a small tree next to a big house"),
    ("there is more grass than sky", "there is more sky than grass"),
    ("A green triangle above a yellow star.", "A yellow triangle above a green star."),
    ("the person with the hat is taller", "the person is taller with the hat"),
    ("two cups and one plate", "one cup and two plates"),
    ("the sky is blue and the grass is green", "the grass is blue and the sky is green"),
    ("a cat on a mat", "a mat on a cat"),
    ("someone talks to the dog", "the dog talks to someone"),
]
TAGS = [("Object", "", 1), ("Relation", "Symbolic", 1), ("Both", "Pragmatic,Series", 2), ("Object", "Series", 1),
        ("Relation", "", 2)]
WORDS = sorted({w.strip(".").lower() for pair in CAPTION_PAIRS for c in pair for w in c.split()} |
               {"picture", "of", "an", "is", "##s", "."})
BLIP_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def draw_image(index: int, which: int) -> Image.Image:
    """A distinct picture per (example, image), in a mix of sizes and PIL modes."""
    size = [(64, 48), (40, 72), (96, 96), (50, 50)][index % 4]
    image = Image.new("RGB", size, ((37 * index) % 256, 80 * which, 200 - 20 * index % 200))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse([w // 8 + which * w // 3, h // 8, w // 2 + which * w // 3, h // 2], fill=(255, 20 * index % 256, 0))
    draw.rectangle([w // 2 - which * w // 3, h // 2, w - 2 - which * w // 3, h - 2], fill=(0, 0, 255 - 10 * index))
    mode = ["RGB", "L", "P", "RGBA", "RGB"][(2 * index + which) % 5]
    if mode == "P":
        return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return image.convert(mode)


def write_winoground_folder(folder: Path, n: int = len(CAPTION_PAIRS)) -> Path:
    """Write examples.jsonl and images/<stem>.png in the hub's original layout."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with open(folder / "examples.jsonl", "w") as f:
        for i in range(n):
            c0, c1 = CAPTION_PAIRS[i % len(CAPTION_PAIRS)]
            tag, secondary, preds = TAGS[i % len(TAGS)]
            for which in (0, 1):
                draw_image(i, which).save(folder / "images" / f"ex_{i}_{which}.png")
            f.write(json.dumps({"id": i, "image_0": f"ex_{i}_0", "image_1": f"ex_{i}_1", "caption_0": c0,
                                "caption_1": c1, "tag": tag, "secondary_tag": secondary, "num_main_preds": preds,
                                "collapsed_tag": tag}) + "\n")
    return folder


def blip_processor(folder: Path):
    from transformers import BertTokenizer, BlipImageProcessorPil, BlipProcessor

    vocab = BLIP_SPECIALS + WORDS + ["[DEC]"]
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True, bos_token="[DEC]")
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer), vocab


def blip_config(vocab_size: int, bos: int, sep: int, pad: int = 0, image_size: int = 32, patch: int = 8,
                vision_hidden: int = 32, vision_layers: int = 2, text_hidden: int = 32, text_layers: int = 2,
                text_heads: int = 4, vision_heads: int = 4, projection: int = 16):
    from transformers import BlipConfig

    config = BlipConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=text_hidden, encoder_hidden_size=vision_hidden,
                         intermediate_size=2 * text_hidden, num_hidden_layers=text_layers,
                         num_attention_heads=text_heads, max_position_embeddings=64, bos_token_id=bos,
                         sep_token_id=sep, pad_token_id=pad, eos_token_id=sep,
                         # With the default 0.02 the tiny text side barely tells word orders apart.
                         initializer_range=0.2),
        vision_config=dict(hidden_size=vision_hidden, intermediate_size=2 * vision_hidden,
                           num_hidden_layers=vision_layers, num_attention_heads=vision_heads,
                           image_size=image_size, patch_size=patch,
                           # The default 1e-10 makes every random image look the same to the model.
                           initializer_range=0.5),
        image_text_hidden_size=projection,
    )
    return config


def build_roberta(folder: Path, seed: int = 3, hidden: int = 32) -> Path:
    """A tiny RobertaForMaskedLM with a byte-level BPE tokenizer trained here on the test captions."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    corpus = [c for pair in CAPTION_PAIRS for c in pair] * 4
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    tokenizer = RobertaTokenizerFast(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    torch.manual_seed(seed)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=2 * hidden, max_position_embeddings=130, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2, type_vocab_size=1)
    model = RobertaForMaskedLM(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_blip(folder: Path, kind: str, seed: int) -> Path:
    """A tiny random BlipForConditionalGeneration (kind 'clm') or BlipForImageTextRetrieval ('itm')."""
    from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval

    folder.mkdir(parents=True, exist_ok=True)
    cls = {"clm": BlipForConditionalGeneration, "itm": BlipForImageTextRetrieval}[kind]
    processor, vocab = blip_processor(folder)
    torch.manual_seed(seed)
    cls(blip_config(len(vocab), bos=vocab.index("[DEC]"), sep=vocab.index("[SEP]"))).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_all(root: Path) -> dict[str, Path]:
    """Everything a smoke run of the three experiments needs, under root."""
    root = Path(root)
    return {"winoground": write_winoground_folder(root / "winoground"),
            "blip-clm": build_blip(root / "blip-clm", "clm", seed=1),
            "blip-itm": build_blip(root / "blip-itm", "itm", seed=2),
            "mlm": build_roberta(root / "mlm")}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/fixtures.py OUTPUT_FOLDER")
    for name, path in build_all(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
