"""Retrieval test sets: both annotation formats, the hub's parquet layout, BLIP's caption cleaning, bad input."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
from fixtures import write_retrieval_data

from benchmarks.retrieval import first_stage_order, hits, load_retrieval, pre_caption, recalls, reranked
from common.errors import InputError


@pytest.fixture
def annotations(tmp_path):
    return write_retrieval_data(tmp_path / "retrieval")


def test_both_formats_give_the_same_test_set(annotations):
    blip, karpathy = (load_retrieval(str(annotations[f])) for f in ("blip", "karpathy"))
    entries = json.loads(annotations["blip"].read_text())
    assert blip.captions == karpathy.captions == [pre_caption(c) for e in entries for c in e["caption"]]
    assert blip.caption_image == karpathy.caption_image
    assert blip.caption_image[:5] == [0, 0, 0, 1, 1]  # image-major: image 0 has three captions
    assert [r["image"]["path"] for r in blip.images] == [r["image"]["path"] for r in karpathy.images]
    assert len(blip.images) == 8 and blip.image_captions[1] == [3, 4]  # the train images are skipped


def test_limit_and_image_root(annotations, tmp_path):
    moved = tmp_path / "elsewhere.json"
    moved.write_text(annotations["blip"].read_text())
    with pytest.raises(InputError, match="8 of 8 images under .* are missing or unreadable .*--image-root"):
        load_retrieval(str(moved))
    data = load_retrieval(str(moved), image_root=str(annotations["blip"].parent), limit=2)
    assert len(data.images) == 2 and data.caption_image == [0, 0, 0, 1, 1]


def test_pre_caption_is_blips_cleaning():
    assert pre_caption("A dog (brown)  runs: FAST!\n") == "a dog brown runs fast"
    assert pre_caption(" ".join(f"w{k}" for k in range(40))) == " ".join(f"w{k}" for k in range(30))
    assert pre_caption("it's a man's hat, isn't it?") == "it's a man's hat, isn't it?"  # only .!"()*#:;~ go


@pytest.mark.parametrize("content,message", [
    ('{"annotations": []}', "no annotation format this loader knows"),
    ('[{"image": "images/im_0.png"}]', "lacks the field 'caption'"),
    ('{"images": [{"filename": "a.png", "split": "train", "sentences": []}]}', "holds no test images"),
    ('[{"image": "images/im_0.png", "caption": []}]', "has no captions"),
    ("not json", "cannot read .* as JSON"),
])
def test_wrong_annotation_format_is_one_line(annotations, content, message):
    bad = annotations["blip"].parent / "bad.json"
    bad.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        load_retrieval(str(bad))
    assert "\n" not in str(e.value)


def test_every_missing_or_unreadable_image_is_named(annotations):
    folder = annotations["blip"].parent
    (folder / "images" / "im_2.png").unlink()
    (folder / "images" / "im_5.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match=r"2 of 8 images .* \(images/im_2.png, images/im_5.png\)"):
        load_retrieval(str(annotations["blip"]))


def test_hub_parquet_conversion_layout(annotations, tmp_path):
    # As nlphuji/flickr_1k_test_image_text_retrieval's conversion: image, caption (list), split, filename.
    entries = json.loads(annotations["blip"].read_text())
    folder = annotations["blip"].parent
    table = {"image": [{"bytes": (folder / e["image"]).read_bytes(), "path": None} for e in entries] +
                      [{"bytes": (folder / "images" / "train.png").read_bytes(), "path": None}],
             "caption": [e["caption"] for e in entries] + [["a train"]],
             "split": ["test"] * len(entries) + ["train"], "filename": [e["image"] for e in entries] + ["t.png"]}
    path = tmp_path / "0000.parquet"
    datasets.Dataset.from_dict(table, features=datasets.Features({
        "image": datasets.Image(), "caption": datasets.Sequence(datasets.Value("string")),
        "split": datasets.Value("string"), "filename": datasets.Value("string")})).to_parquet(path)

    class ConvertedOnly:
        def list_files(self, repo_id, revision):
            return ["default/test/0000.parquet"] if revision == "refs/convert/parquet" else ["flickr.py"]

        def download(self, repo_id, filename, revision):
            assert revision == "refs/convert/parquet"
            return str(path)

    data = load_retrieval("nlphuji/flickr_1k_test_image_text_retrieval", hub=ConvertedOnly())
    assert data.captions == load_retrieval(str(annotations["blip"])).captions
    assert len(data.images) == len(entries)


def test_ranking_helpers_by_hand():
    similarity = np.array([[0.1, 0.9, 0.5, 0.5], [0.3, 0.2, 0.1, 0.0]])
    order = first_stage_order(similarity, 3)
    assert order.tolist() == [[1, 2, 3], [0, 1, 2]]  # ties keep candidate order
    assert reranked(order[:, :2], np.array([[1.0, 2.0], [5.0, 5.0]]), True).tolist() == [[2, 1], [0, 1]]
    assert reranked(order[:, :2], np.array([[1.0, 2.0], [5.0, 5.0]]), False).tolist() == [[1, 2], [0, 1]]
    flags = hits(np.array([[2, 1, 3], [0, 1, 2]]), [[1, 7], [2]], 2)
    assert flags.tolist() == [True, False]
    r = recalls({1: np.array([True, False]), 5: np.array([True, True]), 10: np.array([True, True])},
                {1: np.array([False, False]), 5: np.array([True, False]), 10: np.array([True, True])})
    assert r["txt_r1"] == 50.0 and r["img_r5"] == 50.0 and r["txt_r_mean"] == round(250 / 3, 2)
    assert r["r_mean"] == round((250 / 3 + 50) / 2, 2)


def test_an_image_listed_twice_is_refused(annotations):
    entries = json.loads(annotations["blip"].read_text())
    bad = annotations["blip"].parent / "twice.json"
    bad.write_text(json.dumps(entries + [{"image": entries[2]["image"], "caption": ["another caption"]}]))
    with pytest.raises(InputError, match="repeats the image.* images/im_2.png: each image must be listed once"):
        load_retrieval(str(bad))


@pytest.mark.parametrize("caption,message", [(None, "is null, not a caption"), ("", "no visible character"),
                                             ("\u200b\u200b", "no visible character"),
                                             ("...!", "empty after BLIP's cleaning")])
def test_bad_captions_are_named(annotations, caption, message):
    entries = json.loads(annotations["blip"].read_text())
    entries[1]["caption"] = [entries[1]["caption"][0], caption]
    bad = annotations["blip"].parent / "bad_caption.json"
    bad.write_text(json.dumps(entries))
    with pytest.raises(InputError, match=message):
        load_retrieval(str(bad))


def test_fingerprint_follows_an_added_caption(annotations):
    from benchmarks.retrieval import retrieval_fingerprint

    entries = json.loads(annotations["blip"].read_text())
    first = retrieval_fingerprint(load_retrieval(str(annotations["blip"])))
    entries[0]["caption"].append("one more caption")
    more = annotations["blip"].parent / "more.json"
    more.write_text(json.dumps(entries))
    assert retrieval_fingerprint(load_retrieval(str(more))) != first
