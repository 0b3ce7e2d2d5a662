"""Tiny benchmark roots built from the real annotation samples in ../shared/data, with generated stand-in media.

Used by tests/test_adapters.py (one adapter at a time) and tests/test_recipes.py (a recipe end to end). The
annotation lines are real (TVQA/TVC public samples) or follow the benchmark's published format (AVSD, MSR-VTT,
which have no sample here); only the media are stand-ins: small JPEG frame folders at 3 fps and short mp4s.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from badmedia import make_test_video  # noqa: E402

TVQA_SAMPLE = "tvqa/tvqa_test_public.sample.jsonl"
TVC_SAMPLE = "tvc/tvc_test_public_release.sample.jsonl"
TVC_VAL_SAMPLE = "tvc/sample_val_predictions.sample.jsonl"


def frames(folder: Path, n: int) -> None:
    """``n`` small JPEG frames ``00001.jpg ...`` (TVQA/TVC's 3 fps frame folder layout)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        img = np.full((12, 16, 3), (i * 7) % 256, dtype=np.uint8)
        Image.fromarray(img).save(folder / f"{i:05d}.jpg", quality=80)


def _end(ts) -> float:
    return float(ts.split("-")[1]) if isinstance(ts, str) else float(ts[1])


def tv_frames_and_subs(root: Path, lines: list[dict]) -> None:
    """Frame folders (up to each moment's end + 2 s) and a subtitle JSONL for the videos of ``lines``."""
    seen: dict[str, float] = {}
    for x in lines:
        seen[x["vid_name"]] = max(seen.get(x["vid_name"], 0.0), _end(x["ts"]))
    subs = []
    for vid, end in seen.items():
        folder = root / "frames" / "show_frames" / vid
        if not folder.exists():
            frames(folder, math.ceil(end * 3) + 6)
        subs.append({"vid_name": vid, "sub": [
            {"start": 0.0, "end": 1.0, "text": "UNRELATED: before the moment"},
            {"start": end - 1.0, "end": end + 0.5, "text": "SPEAKER: inside the moment"},
        ]})
    (root / "tvqa_preprocessed_subtitles.jsonl").write_text("".join(json.dumps(s) + "\n" for s in subs))


def tv_root(shared_data: Path, tmp_path: Path, sample: str, name: str, n_lines: int):
    """A TVQA/TVC root holding the first ``n_lines`` of ``sample`` as ``name``; the last line's frames are missing."""
    root = tmp_path / "root"
    root.mkdir()
    lines = [json.loads(x) for x in (shared_data / sample).read_text().splitlines()[:n_lines]]
    (root / name).write_text("".join(json.dumps(x) + "\n" for x in lines))
    tv_frames_and_subs(root, lines[:-1])
    return root, lines


def tvqa_recipe_root(shared_data: Path, root: Path, n_train: int = 4, n_val: int = 2, n_test: int = 2) -> Path:
    """A TVQA root with train/val/test: real public-test questions, answers assigned for train/val (answer_idx)."""
    root.mkdir(parents=True)
    lines = [json.loads(x) for x in (shared_data / TVQA_SAMPLE).read_text().splitlines()[: n_train + n_val + n_test]]
    parts = {"tvqa_train.jsonl": lines[:n_train], "tvqa_val.jsonl": lines[n_train : n_train + n_val],
             "tvqa_test_public.jsonl": lines[n_train + n_val :]}
    for name, rows in parts.items():
        if "test" not in name:
            rows = [{**r, "answer_idx": i % 5} for i, r in enumerate(rows)]
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    tv_frames_and_subs(root, lines)
    return root


def tvc_recipe_root(shared_data: Path, root: Path, n_train: int = 4, n_val: int = 2, n_test: int = 2) -> Path:
    """A TVC root: train/val moments from TVC's sample (val) prediction lines (their captions as references),
    the public test lines (no captions) as test."""
    root.mkdir(parents=True)
    val = [json.loads(x) for x in (shared_data / TVC_VAL_SAMPLE).read_text().splitlines()[: n_train + n_val]]
    test = [json.loads(x) for x in (shared_data / TVC_SAMPLE).read_text().splitlines()[:n_test]]
    parts = {"tvc_train_release.jsonl": val[:n_train], "tvc_val_release.jsonl": val[n_train:],
             "tvc_test_public_release.jsonl": test}
    for name, rows in parts.items():
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    tv_frames_and_subs(root, val + test)
    return root


def avsd_root(root: Path, with_val: bool = False) -> Path:
    """An AVSD root in the DSTC7 layout: one train dialog (3 turns), one whose video is missing, one test dialog,
    and with ``with_val`` a validation dialog."""
    (root / "videos").mkdir(parents=True)
    train = {"dialogs": [{"image_id": "ABC12", "summary": "a man opens a door.", "caption": "A person opens a door and sits.",
                          "dialog": [{"question": "is there a man?", "answer": "yes, one man"},
                                     {"question": "what does he do?", "answer": "he opens a door"},
                                     {"question": "does he talk?", "answer": "no, he does not"}]},
                         {"image_id": "GONE1", "summary": "", "caption": "",
                          "dialog": [{"question": "q?", "answer": "a"}]}]}
    test = {"dialogs": [{"image_id": "XYZ34", "summary": "", "caption": "someone cooks.",
                         "dialog": [{"question": "is it a kitchen?", "answer": "yes"},
                                    {"question": "what is cooked?", "answer": [f"reference {k}" for k in range(6)]}]}]}
    (root / "train_set4DSTC7-AVSD.json").write_text(json.dumps(train))
    (root / "test_set4DSTC7-AVSD.json").write_text(json.dumps(test))
    make_test_video(root / "videos" / "ABC12.mp4", seconds=1.0, size=(32, 24))
    make_test_video(root / "videos" / "XYZ34.mp4", seconds=1.0, size=(32, 24))
    if with_val:
        val = {"dialogs": [{"image_id": "VAL56", "summary": "a woman reads.", "caption": "A woman reads a book.",
                            "dialog": [{"question": "is she reading?", "answer": "yes, a book"},
                                       {"question": "does she stand?", "answer": "no, she sits"}]}]}
        (root / "valid_set4DSTC7-AVSD.json").write_text(json.dumps(val))
        make_test_video(root / "videos" / "VAL56.mp4", seconds=1.0, size=(32, 24))
    return root


def msrvtt_root(root: Path, splits: tuple[str, ...] = ("train", "validate", "test", "train"),
                missing: tuple[int, ...] = (3,)) -> Path:
    """An MSR-VTT root: ``videodatainfo.json`` (one video per entry of ``splits``, two captions each) and 1 s clips
    in ``TrainValVideo/`` (the videos in ``missing`` have no clip)."""
    (root / "TrainValVideo").mkdir(parents=True)
    n = len(splits)
    info = {
        "info": {"year": 2016},
        "videos": [{"video_id": f"video{i}", "category": i, "start time": 10.0 + i, "end time": 20.0 + i, "split": s, "id": i}
                   for i, s in enumerate(splits)],
        "sentences": [{"video_id": f"video{j % n}", "caption": f"caption {j} of video {j % n}", "sen_id": j}
                      for j in range(2 * n)],
    }
    (root / "videodatainfo.json").write_text(json.dumps(info))
    for i in range(n):
        if i not in missing:
            make_test_video(root / "TrainValVideo" / f"video{i}.mp4", seconds=1.0, size=(32, 24))
    return root


def vggsound_root(shared_data: Path, root: Path) -> Path:
    """A VGGSound root: the 4 real sample clips under ``video/`` (symlinks), a ``vggsound.csv`` naming them (two
    sparse classes) plus one clip that is missing, and the real ``picked_sparse_classes.tsv``."""
    (root / "video").mkdir(parents=True)
    for f in sorted((shared_data / "vggsound" / "video").glob("*.mp4")):
        (root / "video" / f.name).symlink_to(f)
    rows = ['-1pRmoJIGQc,10,dog barking,test', '-Qowmc0P9ic,34,"people marching, drums",train',
            '0nib7bMm8BA,15,playing tennis,train', '1aDnyPubxdY,118,lions roaring,test', 'GONE0000000,5,dog barking,test']
    (root / "vggsound.csv").write_text("\n".join(rows) + "\n")
    (root / "picked_sparse_classes.tsv").symlink_to(shared_data / "vggsound" / "picked_sparse_classes.tsv")
    return root


def vas_root(shared_data: Path, root: Path) -> Path:
    """A VAS root: the real sample clips under ``videos/<class>/``, ``vas_valid.txt`` the real sample list (of which
    only baby/video_01951 is here), ``vas_train.txt`` the other sample clips."""
    root.mkdir(parents=True)
    (root / "videos").symlink_to(shared_data / "vas" / "videos")
    (root / "vas_valid.txt").symlink_to(shared_data / "vas" / "vas_valid.sample.txt")
    train = sorted(p.relative_to(shared_data / "vas" / "videos").with_suffix("").as_posix()
                   for p in (shared_data / "vas" / "videos").glob("*/*.mp4"))
    (root / "vas_train.txt").write_text("\n".join(t for t in train if t != "baby/video_01951") + "\n")
    return root
