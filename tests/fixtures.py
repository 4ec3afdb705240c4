"""Tiny offline stand-ins for the real checkpoints and data, for the tests and for a smoke run.

Random-weight models of every scorer family (BLIP, BLIP-2 with OPT and with T5, CLIP, SigLIP) and a
RoBERTa MLM, built from configs and saved with `save_pretrained` (so code loads them by path exactly as
it would load a hub id), with small tokenizers built here, and a Winoground-format folder whose images
are drawn with Pillow. Nothing here touches the network. From the command line:

    python tests/fixtures.py /tmp/tiny      # writes winoground/, blip-clm/, blip-itm/, clip/, ..., mlm/ there
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


def write_retrieval_data(folder: Path, n_images: int = 8) -> dict[str, Path]:
    """A retrieval test set of drawn images with two or three captions each, in BLIP's and Karpathy's formats.

    Returns the two annotation files: `blip_test.json` (a list of {"image", "caption"}) and
    `karpathy.json` ({"images": [...]}, with train images before and after the test ones, to be skipped).
    """
    (folder / "images").mkdir(parents=True, exist_ok=True)
    entries = []
    for k in range(n_images):
        draw_image(k + 20, k % 2).save(folder / "images" / f"im_{k}.png")
        pair = CAPTION_PAIRS[k % len(CAPTION_PAIRS)]
        captions = [pair[0], pair[1].upper() + "!"] + ([f"{pair[0]} (again)"] if k % 3 == 0 else [])
        entries.append({"image": f"images/im_{k}.png", "caption": captions})
    (folder / "blip_test.json").write_text(json.dumps(entries, indent=1))
    draw_image(0, 0).save(folder / "images" / "train.png")
    train = {"filepath": "images", "filename": "train.png", "split": "train", "sentences": [{"raw": "a train"}]}
    test = [{"filepath": "images", "filename": f"im_{k}.png", "split": "test",
             "sentences": [{"raw": c} for c in e["caption"]]} for k, e in enumerate(entries)]
    (folder / "karpathy.json").write_text(json.dumps({"images": [train, *test, train]}, indent=1))
    return {"blip": folder / "blip_test.json", "karpathy": folder / "karpathy.json"}


# Each registered grid benchmark's drawn copy among the paths `write_compositional_data` returns: the keys of its
# --data and --image-root (None: none). A benchmark added to benchmarks.GRIDS needs its line here, and its files
# drawn below; tests/benchmarks/test_grids.py fails until it has both.
# GenAI-Bench's generators, as its release names their folders (the loader checks it reads these).
GENAI_GENERATORS = ("DALLE_3", "SDXL_Turbo", "DeepFloyd_I_XL_v1", "Midjourney_6", "SDXL_2_1", "SDXL_Base")
GRID_FIXTURES = {"winoground": ("winoground", None), "sugarcrepe": ("sugarcrepe", "sugarcrepe_images"),
                 "aro-vg-relation": ("aro", None), "aro-vg-attribution": ("aro", None), "whatsup-a": ("whatsup", None),
                 "whatsup-b": ("whatsup", None), "mmvp-vlm": ("mmvp", None), "colorswap": ("colorswap", None),
                 "eqben-mini": ("eqben", None), "naturalbench-retrieval": ("naturalbench", None),
                 "sugarcrepe-pp": ("sugarcrepe_pp", None), "genai-bench": ("genai", None)}


def grid_source(paths: dict[str, Path], name: str) -> tuple[str, str | None]:
    """A registered grid benchmark's --data and --image-root in the drawn copies of `write_compositional_data`."""
    data, root = GRID_FIXTURES[name]
    return str(paths[data]), None if root is None else str(paths[root])


def write_compositional_data(root: Path) -> dict[str, Path]:
    """Small copies of every grid benchmark in its official file layout, with drawn images (Winoground's a few
    examples of its local folder layout).

    Returns each benchmark's --data path (and `sugarcrepe_images`, its --image-root): `grid_source` finds them.
    """
    root = Path(root)
    paths = {"winoground": write_winoground_folder(root / "winoground", n=4)}
    coco = root / "val2017"
    coco.mkdir(parents=True, exist_ok=True)
    for k in range(3):
        draw_image(k, 0).convert("RGB").save(coco / f"00000000{k}.jpg")
    sugar = root / "sugarcrepe" / "data"
    sugar.mkdir(parents=True, exist_ok=True)
    for n, category in enumerate(("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att",
                                  "swap_obj")):
        pair = CAPTION_PAIRS[n % len(CAPTION_PAIRS)]
        entries = {str(10 * n + j): {"filename": f"00000000{(n + j) % 3}.jpg", "caption": pair[j % 2],
                                     "negative_caption": pair[1 - j % 2]} for j in range(2)}
        (sugar / f"{category}.json").write_text(json.dumps(entries))
    paths |= {"sugarcrepe": sugar, "sugarcrepe_images": coco}

    aro = root / "aro"
    (aro / "images").mkdir(parents=True, exist_ok=True)
    for k in range(2):
        draw_image(k + 5, 1).convert("RGB").save(aro / "images" / f"{k}.jpg")
    box = {"bbox_x": 2, "bbox_y": 3, "bbox_w": 30, "bbox_h": 20}
    relation = [{"image_path": f"{k % 2}.jpg", **box, "true_caption": f"the dog is {rel} the cat",
                 "false_caption": f"the cat is {rel} the dog", "relation_name": rel}
                for k, rel in enumerate(["on", "on", "next to", "behind"])]
    attribution = [{"image_path": f"{k % 2}.jpg", **box, "true_caption": "the red circle and the blue square",
                    "false_caption": "the blue circle and the red square", "attributes": ["red", "blue"]}
                   for k in range(3)]
    (aro / "visual_genome_relation.json").write_text(json.dumps(relation))
    (aro / "visual_genome_attribution.json").write_text(json.dumps(attribution))
    paths["aro"] = aro

    whatsup = root / "whatsup"
    (whatsup / "data" / "controlled_images").mkdir(parents=True, exist_ok=True)
    entries = []
    for a, b in (("mug", "plate"), ("cup", "bowl")):
        for slot in ("left_of", "right_of", "on", "under"):
            name = f"{a}_{slot}_{b}.jpeg"
            draw_image(len(entries), 0).convert("RGB").save(whatsup / "data" / "controlled_images" / name)
            word = slot.split("_")[0]
            others = [w for w in ("left of", "right of", "on", "under") if w.split()[0] != word]
            entries.append({"image_path": f"data/controlled_images/{name}",
                            "caption_options": [f"a {a} {slot.replace('_', ' ')} a {b}",
                                                *(f"a {a} {w} a {b}" for w in others)]})
    (whatsup / "data" / "controlled_images_dataset.json").write_text(json.dumps(entries))
    (whatsup / "data" / "controlled_clevr").mkdir(exist_ok=True)
    clevr = []
    for a, b in (("cube", "sphere"),):
        for slot in ("left_of", "right_of", "in-front_of", "behind"):
            name = f"{a}_{slot}_{b}.png"
            draw_image(len(clevr) + 12, 1).convert("RGB").save(whatsup / "data" / "controlled_clevr" / name)
            words = {"left_of": "left of", "right_of": "right of", "in-front_of": "in front of", "behind": "behind"}
            others = [w for s2, w in words.items() if s2 != slot]
            clevr.append({"image_path": f"data/controlled_clevr/{name}",
                          "caption_options": [f"a {a} {words[slot]} a {b}", *(f"a {a} {w} a {b}" for w in others)]})
    (whatsup / "data" / "controlled_clevr_dataset.json").write_text(json.dumps(clevr))
    paths["whatsup"] = whatsup / "data"

    mmvp = root / "mmvp"
    rows = [("1", "Orientation and Direction", "the dog faces left"), ("2", "Orientation and Direction",
                                                                       "the dog faces right"),
            ("4", "Orientation and Direction", "the cup is empty"), ("3", "Orientation and Direction",
                                                                     "the cup is full")]
    (mmvp / "MLLM_VLM Images" / "Orientation and Direction").mkdir(parents=True, exist_ok=True)
    for q, kind, _ in rows:
        draw_image(int(q), 0).convert("RGB").save(mmvp / "MLLM_VLM Images" / kind / f"{q}.jpg")
    (mmvp / "Questions.csv").write_text("Question ID,Type,Statement\n" + "".join(",".join(r) + "\n" for r in rows))
    paths["mmvp"] = mmvp

    for name, file, keys, id_key in (("colorswap", "test.json", ("caption_1", "caption_2", "image_1", "image_2"), "id"),
                                     ("eqben", "all_select.json", ("caption0", "caption1", "image0", "image1"), None),
                                     ("naturalbench", "metadata.json", ("caption_0", "caption_1", "image_0", "image_1"),
                                      "index")):
        folder = root / name
        (folder / "images").mkdir(parents=True, exist_ok=True)
        entries = []
        for n in range(2):
            pair = CAPTION_PAIRS[n]
            for i in (0, 1):
                draw_image(n + 30, i).convert("RGB").save(folder / "images" / f"{n}_{i}.png")
            entry = dict(zip(keys, [pair[0], pair[1], f"{n}_0.png", f"{n}_1.png"]))
            entries.append({**({id_key: 100 + n} if id_key else {}), **entry})
        (folder / file).write_text(json.dumps(entries))
        paths[name] = folder

    scpp = root / "scpp"  # data/<category>.json beside one flat images/ folder, as in Sri-Harsha/scpp
    (scpp / "data").mkdir(parents=True, exist_ok=True)
    (scpp / "images").mkdir(exist_ok=True)
    for k in range(3):
        draw_image(k + 40, 1).convert("RGB").save(scpp / "images" / f"00000004{k}.jpg")
    for n, category in enumerate(("replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")):
        pair = CAPTION_PAIRS[n % len(CAPTION_PAIRS)]
        entries = [{"id": j, "filename": f"00000004{(n + j) % 3}.jpg", "caption": pair[0] + (" " if j else ""),
                    "caption2": f"{pair[0]} indeed", "negative_caption": pair[1]} for j in range(2)]
        (scpp / "data" / f"{category}.json").write_text(json.dumps(entries))
    paths["sugarcrepe_pp"] = scpp / "data"

    genai = root / "genai"  # genai_image.json, genai_skills.json and <generator>/<index>.jpeg, as t2v_metrics unzips
    prompts = {}
    for n in range(1, 5):
        key = f"{n:05d}"
        # Three people's ratings; prompts 1 and 2 give some images equal means (human ties).
        ratings = {g: [1 + (n + g_index) % 5, 1 + (n * g_index) % 5, 3] for g_index, g in enumerate(GENAI_GENERATORS)}
        prompts[key] = {"id": n, "prompt": CAPTION_PAIRS[n % len(CAPTION_PAIRS)][0], "models": ratings}
        for g_index, g in enumerate(GENAI_GENERATORS):
            (genai / g).mkdir(parents=True, exist_ok=True)
            draw_image(10 * n + g_index, g_index % 2).convert("RGB").save(genai / g / f"{key}.jpeg")
    (genai / "genai_image.json").write_text(json.dumps(prompts))
    (genai / "genai_skills.json").write_text(json.dumps({"basic": [1, 2, 3], "attribute": [1, 3], "advanced": [4],
                                                         "counting": [4]}))
    paths["genai"] = genai
    return paths


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
    # As in BLIP's own vocabulary, the embedding has one more row than the tokenizer: [ENC], right after [DEC].
    config = blip_config(len(vocab) + 1, bos=vocab.index("[DEC]"), sep=vocab.index("[SEP]"))
    cls(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def word_tokenizer(specials: list[str], template: str, **roles):
    """A fast word-level tokenizer over the fixture words; `template` places the specials, e.g. "$A </s>"."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(specials + WORDS + ["<image>"])}
    tok = Tokenizer(WordLevel(vocab, unk_token=roles["unk_token"]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, vocab[t]) for t in specials if t in template.split()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, **roles), vocab


def _small_vision(**extra) -> dict:
    # A large initializer_range: with the default the random vision towers see every image alike.
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                patch_size=8, initializer_range=0.5, **extra)


def build_clip(folder: Path, seed: int = 5) -> Path:
    """A tiny random CLIPModel with a word-level tokenizer (<|startoftext|> text <|endoftext|>)."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab = word_tokenizer(["<pad>", "<unk>", "<|startoftext|>", "<|endoftext|>"],
                                      "<|startoftext|> $A <|endoftext|>", pad_token="<pad>", unk_token="<unk>",
                                      bos_token="<|startoftext|>", eos_token="<|endoftext|>")
    config = CLIPConfig(text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32,
                                         pad_token_id=0, bos_token_id=2, eos_token_id=3, initializer_factor=4.0),
                        vision_config=_small_vision(), projection_dim=16)
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_siglip(folder: Path, seed: int = 6) -> Path:
    """A tiny random SiglipModel; its tokenizer appends </s> and texts are padded to the full 16 positions."""
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab = word_tokenizer(["<pad>", "</s>", "<unk>"], "$A </s>", pad_token="<pad>", unk_token="<unk>",
                                      eos_token="</s>")
    config = SiglipConfig(text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16,
                                           pad_token_id=0, eos_token_id=1),
                          vision_config=_small_vision())
    torch.manual_seed(seed)
    SiglipModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _blip2_config(text_config: dict, image_token_index: int | None = None, qformer_text_input: bool = False):
    from transformers import Blip2Config

    vocab = BLIP_SPECIALS + WORDS + ["[DEC]"]
    return Blip2Config(vision_config=_small_vision(),
                       qformer_config=dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=4, intermediate_size=64, encoder_hidden_size=32,
                                           cross_attention_frequency=1, max_position_embeddings=64, pad_token_id=0,
                                           initializer_range=0.2, use_qformer_text_input=qformer_text_input),
                       text_config=text_config, num_query_tokens=4, image_text_hidden_size=16,
                       image_token_index=image_token_index)


def _distinct_queries(model):
    # transformers initializes the learned queries to zeros, which makes every query output the same.
    with torch.no_grad():
        model.query_tokens.normal_(0.0, 1.0)
    return model


def build_blip2_retrieval(folder: Path, seed: int = 7) -> Path:
    """A tiny random Blip2ForImageTextRetrieval with BLIP's BERT tokenizer."""
    from transformers import Blip2ForImageTextRetrieval

    folder.mkdir(parents=True, exist_ok=True)
    processor, _ = blip_processor(folder)
    torch.manual_seed(seed)
    model = Blip2ForImageTextRetrieval(_blip2_config({"model_type": "opt"}, qformer_text_input=True))
    _distinct_queries(model).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _tiny_t5():
    """A word-level tokenizer that appends </s>, as T5's does, and a tiny T5 language model's config."""
    tokenizer, vocab = word_tokenizer(["<pad>", "</s>", "<unk>"], "$A </s>", pad_token="<pad>", unk_token="<unk>",
                                      eos_token="</s>")
    return tokenizer, dict(model_type="t5", vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                           num_decoder_layers=2, num_heads=4, feed_forward_proj="gated-gelu", pad_token_id=0,
                           eos_token_id=1, decoder_start_token_id=0, tie_word_embeddings=False)


def build_blip2_captioning(folder: Path, language_model: str, seed: int = 8) -> Path:
    """A tiny random Blip2ForConditionalGeneration over a decoder-only OPT or an encoder-decoder T5."""
    from transformers import Blip2ForConditionalGeneration, BlipImageProcessorPil

    folder.mkdir(parents=True, exist_ok=True)
    if language_model == "opt":  # OPT's tokenizer puts </s> first and appends nothing
        tokenizer, vocab = word_tokenizer(["<s>", "<pad>", "</s>", "<unk>"], "</s> $A", pad_token="<pad>",
                                          unk_token="<unk>", bos_token="</s>", eos_token="</s>")
        text = dict(model_type="opt", vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, ffn_dim=64,
                    num_attention_heads=4, max_position_embeddings=64, word_embed_proj_dim=32, pad_token_id=1,
                    bos_token_id=2, eos_token_id=2, init_std=0.2)
    else:
        tokenizer, text = _tiny_t5()
    torch.manual_seed(seed)
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    model = Blip2ForConditionalGeneration(_blip2_config(text, image_token_index=image_token))
    _distinct_queries(model).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


# --- generative vision-language models (scoring/vlm.py) ------------------------------------------------------------

# Prompt words of the VLM families and of the chat templates below, so that tiny tokenizers read them.
VLM_PROMPT_TEXT = ('Does this figure show "x"? Please answer yes or no. Does this image show "x"? Answer the question '
                   'with Yes or No. Please answer Yes or No. Provide a one-sentence caption for the provided image. '
                   'caption en user assistant system you are a helpful : USER ASSISTANT User Assistant '
                   'Question: A short image description:')


def vlm_tokenizer(specials: list[str], **roles):
    """A word-level fast tokenizer over the fixture and prompt words; `specials` (the roles' tokens, image tokens and
    template markers) are atomic; roles name them (bos_token=..., image_token=... as an extra special token)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = {w for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(VLM_PROMPT_TEXT.lower())}
    words |= {w for pair in CAPTION_PAIRS for c in pair for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(c.lower())}
    vocab = {t: i for i, t in enumerate(specials + ["<unk>"] + sorted(words))}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(specials)
    extra = {k: roles.pop(k) for k in [k for k in roles if k.endswith("image_token")]}
    if roles.pop("bos_first", False):
        from tokenizers import processors
        tok.post_processor = processors.TemplateProcessing(single=f"{roles['bos_token']} $A",
                                                           special_tokens=[(roles["bos_token"], vocab[roles["bos_token"]])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", extra_special_tokens=extra, **roles)


def _llama(tokenizer, **extra) -> dict:
    return dict(model_type="llama", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.2,
                pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, **extra)


# The structure of llava-hf/llava-1.5-7b-hf's template: "USER: <image>\n{text} ASSISTANT:".
LLAVA_TEMPLATE = ("{% for m in messages %}{{ m['role'].upper() + ': ' }}"
                  "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>\n' }}{% endif %}{% endfor %}"
                  "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] + ' ' }}{% endif %}{% endfor %}"
                  "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")
# ChatML, as Qwen2.5-VL and LLaVA-OneVision (Qwen2) write it.
CHATML_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                   "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ IMAGE }}{% else %}{{ c['text'] }}"
                   "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Idefics3's own template (SmolVLM's DEFAULT_CHAT_TEMPLATE): "<|im_start|>User:<image>{text}<end_of_utterance>\nAssistant:".
IDEFICS3_TEMPLATE = ("<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}"
                     "{% if m['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
                     "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}"
                     "{% elif c['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
                     "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")


def _save_vlm(folder: Path, model, processor) -> Path:
    model.eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_llava(folder: Path, seed: int = 11) -> Path:
    """A tiny random LlavaForConditionalGeneration (CLIP 32/8: 16 image tokens, Llama) with LLaVA-1.5's template."""
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tok = vlm_tokenizer(["<pad>", "<s>", "</s>", "<image>"], pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                        image_token="<image>", bos_first=True)
    processor = LlavaProcessor(CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                               tok, patch_size=8, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=LLAVA_TEMPLATE)
    config = LlavaConfig(vision_config=dict(model_type="clip_vision_model", **_small_vision()), text_config=_llama(tok),
                         image_token_id=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-2,
                         vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    return _save_vlm(folder, LlavaForConditionalGeneration(config), processor)


def build_llava_onevision(folder: Path, seed: int = 12) -> Path:
    """A tiny random LlavaOnevisionForConditionalGeneration: SigLIP 32/8, tiles by image size, Qwen2, ChatML."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
    )

    from scoring.vlm import image_only_processors

    folder.mkdir(parents=True, exist_ok=True)
    tok = vlm_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"],
                        pad_token="<|endoftext|>", eos_token="<|im_end|>")
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64]]
    processor = image_only_processors()["LlavaOnevisionProcessor"](
        LlavaOnevisionImageProcessorPil(size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints), tok,
        num_image_tokens=16, vision_feature_select_strategy="full",
        chat_template=CHATML_TEMPLATE.replace("{{ IMAGE }}", "<image>\n"))
    text = dict(_llama(tok), model_type="qwen2")
    config = LlavaOnevisionConfig(vision_config=dict(model_type="siglip_vision_model", vision_use_head=False,
                                                     **_small_vision()), text_config=text,
                                  image_token_index=tok.convert_tokens_to_ids("<image>"),
                                  video_token_index=tok.convert_tokens_to_ids("<video>"),
                                  vision_feature_select_strategy="full", vision_feature_layer=-1,
                                  image_grid_pinpoints=pinpoints)
    torch.manual_seed(seed)
    return _save_vlm(folder, LlavaOnevisionForConditionalGeneration(config), processor)


def build_qwen25_vl(folder: Path, seed: int = 13) -> Path:
    """A tiny random Qwen2_5_VLForConditionalGeneration: 4 to 16 image tokens by image size, M-RoPE, ChatML."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil

    from scoring.vlm import image_only_processors

    folder.mkdir(parents=True, exist_ok=True)
    tok = vlm_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                         "<|image_pad|>", "<|video_pad|>"], pad_token="<|endoftext|>", eos_token="<|im_end|>")
    ids = tok.convert_tokens_to_ids
    processor = image_only_processors()["Qwen2_5_VLProcessor"](
        Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112, patch_size=14, merge_size=2,
                                 temporal_patch_size=2), tok,
        chat_template=CHATML_TEMPLATE.replace("{{ IMAGE }}", "<|vision_start|><|image_pad|><|vision_end|>"))
    text = dict(_llama(tok), model_type="qwen2_5_vl_text", max_position_embeddings=1024,
                rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [1, 1, 2]})
    text["bos_token_id"] = None
    config = Qwen2_5_VLConfig(text_config=text, vision_config=dict(depth=2, hidden_size=32, intermediate_size=64,
                                                                   num_heads=4, patch_size=14, spatial_merge_size=2,
                                                                   temporal_patch_size=2, window_size=112,
                                                                   out_hidden_size=32, fullatt_block_indexes=[1],
                                                                   initializer_range=0.5),
                              image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                              vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    torch.manual_seed(seed)
    return _save_vlm(folder, Qwen2_5_VLForConditionalGeneration(config), processor)


def build_paligemma(folder: Path, seed: int = 14) -> Path:
    """A tiny random PaliGemmaForConditionalGeneration: SigLIP 32/8 (16 image tokens), Gemma, no chat template."""
    from transformers import (
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessorPil,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tok = vlm_tokenizer(["<pad>", "<eos>", "<bos>", "<image>"], pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                        image_token="<image>")
    processor = PaliGemmaProcessor(SiglipImageProcessorPil(size={"height": 32, "width": 32}, image_seq_length=16), tok)
    tok = processor.tokenizer  # the processor adds PaliGemma's <loc> and <seg> tokens
    text = dict(_llama(tok), model_type="gemma", num_key_value_heads=1, head_dim=8)
    config = PaliGemmaConfig(vision_config=dict(model_type="siglip_vision_model", vision_use_head=False,
                                                **_small_vision()), text_config=text,
                             image_token_index=tok.convert_tokens_to_ids("<image>"), vocab_size=len(tok),
                             projection_dim=32, hidden_size=32)
    torch.manual_seed(seed)
    return _save_vlm(folder, PaliGemmaForConditionalGeneration(config), processor)


def build_idefics3(folder: Path, seed: int = 15) -> Path:
    """A tiny random Idefics3ForConditionalGeneration: image split into 32-pixel tiles plus a global view (4 tokens
    each), Llama, Idefics3's chat template."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tiles = [f"<row_{r}_col_{c}>" for r in range(1, 4) for c in range(1, 4)]
    tok = vlm_tokenizer(["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                         "<global-img>", *tiles], pad_token="<|endoftext|>", bos_token="<|im_start|>",
                        eos_token="<end_of_utterance>", image_token="<image>")
    processor = Idefics3Processor(Idefics3ImageProcessorPil(size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                                                            do_image_splitting=True),
                                  tok, image_seq_len=4, chat_template=IDEFICS3_TEMPLATE)
    config = Idefics3Config(vision_config=_small_vision(), text_config=_llama(tok),
                            image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2)
    torch.manual_seed(seed)
    return _save_vlm(folder, Idefics3ForConditionalGeneration(config), processor)


def build_instructblip(folder: Path, language_model: str, seed: int = 16) -> Path:
    """A tiny random InstructBlipForConditionalGeneration over a Llama (Vicuna's kind) or a T5 language model, with
    a BERT Q-Former tokenizer that reads the prompt words."""
    from tokenizers import pre_tokenizers
    from transformers import (
        BertTokenizer,
        BlipImageProcessorPil,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
    )

    folder.mkdir(parents=True, exist_ok=True)
    if language_model == "llama":
        tok = vlm_tokenizer(["<pad>", "<s>", "</s>", "<image>"], pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                            bos_first=True)
        text = _llama(tok)
    else:
        tok, text = _tiny_t5()
    words = sorted({w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(VLM_PROMPT_TEXT.lower())}
                   - set(WORDS) - set(BLIP_SPECIALS))
    qformer = BertTokenizer(vocab={t: i for i, t in enumerate(BLIP_SPECIALS + WORDS + words)}, do_lower_case=True)
    config = InstructBlipConfig(vision_config=_small_vision(),
                                qformer_config=dict(vocab_size=len(qformer), hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64,
                                                    encoder_hidden_size=32, cross_attention_frequency=1,
                                                    max_position_embeddings=64, pad_token_id=0, initializer_range=0.2),
                                text_config=text, num_query_tokens=4,
                                image_token_index=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(seed)
    model = InstructBlipForConditionalGeneration(config)
    _distinct_queries(model).eval().save_pretrained(folder)
    tok.save_pretrained(folder)
    qformer.save_pretrained(folder / "qformer_tokenizer")
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


# One tiny checkpoint per scorer family (and both BLIP-2 language-model kinds), by name: (family, builder).
TINY_CHECKPOINTS = {
    "blip-retrieval": ("blip-retrieval", lambda folder: build_blip(folder, "itm", seed=2)),
    "blip-captioning": ("blip-captioning", lambda folder: build_blip(folder, "clm", seed=1)),
    "blip2-retrieval": ("blip2-retrieval", build_blip2_retrieval),
    "blip2-captioning-opt": ("blip2-captioning", lambda folder: build_blip2_captioning(folder, "opt")),
    "blip2-captioning-t5": ("blip2-captioning", lambda folder: build_blip2_captioning(folder, "t5")),
    "clip": ("clip", build_clip),
    "siglip": ("siglip", build_siglip),
    "llava": ("llava", build_llava),
    "llava-onevision": ("llava-onevision", build_llava_onevision),
    "qwen2.5-vl": ("qwen2.5-vl", build_qwen25_vl),
    "paligemma": ("paligemma", build_paligemma),
    "idefics3": ("idefics3", build_idefics3),
    "instructblip-llama": ("instructblip", lambda folder: build_instructblip(folder, "llama")),
    "instructblip-t5": ("instructblip", lambda folder: build_instructblip(folder, "t5")),
}


def build_all(root: Path) -> dict[str, Path]:
    """Everything a smoke run of the three experiments needs, under root."""
    root = Path(root)
    return {"winoground": write_winoground_folder(root / "winoground"),
            "blip-clm": build_blip(root / "blip-clm", "clm", seed=1),
            "blip-itm": build_blip(root / "blip-itm", "itm", seed=2),
            "clip": build_clip(root / "clip"),
            "retrieval": write_retrieval_data(root / "retrieval")["blip"],
            "benchmarks": write_compositional_data(root / "benchmarks")["sugarcrepe"].parent.parent,
            "mlm": build_roberta(root / "mlm")}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/fixtures.py OUTPUT_FOLDER")
    for name, path in build_all(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
