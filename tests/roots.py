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


# ---------------------------------------------------------------- avcap's real benchmarks (test_recipe_avcap_real.py)
# The media are the real sample videos of ../shared/data/videos (symlinked under each benchmark's names); the
# annotation files follow each benchmark's published format (ActivityNet's are its real lines), with captions
# written here for what the videos show: a dog and a child on a scooter, a weight lifter, a women's long jump.

DOG, LIFTER, JUMP = "v_ZNVhz7ctTq0", "v_GGSY1Qvo990", "women_long_jump"  # 14.0 s, 18.2 s, 35.1 s


def link_video(shared_data: Path, name: str, target: Path) -> Path:
    """``target`` (parents made) as a symlink to the real sample video ``name``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(shared_data / "videos" / f"{name}.mp4")
    return target


def _asr(start: float, step: float, lines: list[str]) -> dict:
    starts = [round(start + i * step, 2) for i in range(len(lines))]
    return {"start": starts, "end": [round(s + step, 2) for s in starts], "text": lines}


#: HowTo100M video id -> (sample video, split it lands in: val by the id's CRC-32, test by the split list)
HOWTO100M_VIDEOS = {"kQ9mVtRz2bU": (DOG, "train"), "Jd7mPq2LwXa": (JUMP, "train"), "XmI63JozGw8": (LIFTER, "val"),
                    "Tq1nB8sVx0c": (DOG, "test")}


def howto100m_root(shared_data: Path, root: Path) -> Path:
    """A HowTo100M root: ``caption.json`` (ASR sentences, the release's format), ``videos/<id>.mp4`` and
    ``test_list.txt`` (the test video id)."""
    dog = ["so today we are going to walk the dog", "with my little one on the scooter",
           "keep the leash nice and loose", "let him go first on the sidewalk",
           "and the scooter follows right behind him"]
    asr = {"kQ9mVtRz2bU": _asr(0.0, 2.7, dog),
           "Jd7mPq2LwXa": _asr(0.5, 5.5, ["okay now watch her run up", "she keeps her speed all the way to the board",
                                          "then she takes off from one foot", "and swings both legs forward",
                                          "landing in the sand pit like this", "that is how you do a long jump"]),
           "XmI63JozGw8": _asr(0.0, 4.4, ["grab the bar with both hands", "keep your back straight and lift",
                                          "bring it up to your chest", "and then press it over your head"]),
           "Tq1nB8sVx0c": _asr(1.0, 2.5, dog[::-1])}
    for vid, (name, _) in HOWTO100M_VIDEOS.items():
        link_video(shared_data, name, root / "videos" / f"{vid}.mp4")
    (root / "caption.json").write_text(json.dumps(asr))
    (root / "test_list.txt").write_text("".join(v + "\n" for v, (_, s) in HOWTO100M_VIDEOS.items() if s == "test"))
    return root


def youcook2_root(shared_data: Path, root: Path) -> Path:
    """A YouCook2 root: ``youcookii_annotations_trainval.json`` and ``raw_videos/<subset>/<recipe>/<id>.mp4``."""
    videos = {"GLd3aX16zBg": (DOG, "training", "101", [[0.0, 6.0, "walk the dog along the sidewalk"],
                                                     [6.5, 13.5, "ride the scooter behind the dog"]]),
              "xHr8X2Wpmno": (JUMP, "training", "102", [[1.0, 12.0, "run fast down the track"],
                                                      [12.0, 22.0, "jump from the board into the sand"],
                                                      [22.0, 34.0, "get up and walk out of the pit"]]),
              "0O4bxhpFX9o": (LIFTER, "validation", "201", [[0.0, 3.0, "bend the knees and grab the bar"],
                                                         [3.0, 8.0, "lift the bar to the chest"],
                                                         [8.0, 18.0, "press the bar over the head and drop it"]])}
    db = {}
    for vid, (name, subset, recipe, segs) in videos.items():
        link_video(shared_data, name, root / "raw_videos" / subset / recipe / f"{vid}.mp4")
        db[vid] = {"duration": {DOG: 14.05, LIFTER: 18.16, JUMP: 35.1}[name], "subset": subset, "recipe_type": recipe,
                   "video_url": f"https://www.youtube.com/watch?v={vid}",
                   "annotations": [{"segment": [s, e], "id": k, "sentence": t} for k, (s, e, t) in enumerate(segs)]}
    (root / "youcookii_annotations_trainval.json").write_text(json.dumps({"database": db}))
    return root


def vatex_root(shared_data: Path, root: Path) -> Path:
    """A VATEX root: the three JSON lists and the videos, trimmed clips (``<videoID>.mp4``) and one whole video
    (``<ytid>.mp4``, its window taken from the id)."""
    files = {"vatex_training_v1.0.json": [
                 ("ZNVhz7ctTq0_000000_000010", DOG, ["A fluffy dog walks down a sidewalk.",
                                                     "A child rides a scooter behind a dog.",
                                                     "A dog and a kid on a scooter move along the street."]),
                 ("jump7Qa2Lw0_000005_000015", JUMP, ["A woman runs down a track and jumps into the sand.",
                                                      "An athlete does a long jump in a stadium."])],
             "vatex_validation_v1.0.json": [
                 ("GGSY1Qvo990_000002_000012", LIFTER, ["A woman lifts a heavy barbell over her head.",
                                                        "A weight lifter raises a barbell and drops it."])],
             "vatex_public_test_english_v1.1.json": [
                 ("lift0Zq9Kx1_000000_000010", LIFTER, ["A female athlete lifts weights in a gym.",
                                                        "A woman bends down and picks up a barbell."])]}
    for fname, entries in files.items():
        for vid, name, _ in entries:
            stem = vid.rsplit("_", 2)[0] if name == JUMP else vid  # the long jump: the whole YouTube video
            link_video(shared_data, name, root / "videos" / f"{stem}.mp4")
        rows = [{"videoID": v, "enCap": caps, "chCap": ["一个人在视频里。"] * len(caps)} for v, _, caps in entries]
        (root / fname).write_text(json.dumps(rows, ensure_ascii=False))
    return root


def msrvtt_real_root(shared_data: Path, root: Path) -> Path:
    """An MSR-VTT root with the real sample videos as clips (``TrainValVideo/``, ``TestVideo/``) and an ``.srt``
    transcript beside two of them."""
    clips = {"video0": (JUMP, "train", 3, ["a woman is doing a long jump", "an athlete jumps into the sand pit"]),
             "video1": (DOG, "train", 13, ["a dog is walking with a kid on a scooter", "a kid rides a scooter"]),
             "video2": (LIFTER, "validate", 3, ["a woman lifts a barbell", "a girl is lifting weights"]),
             "video7010": (DOG, "test", 13, ["a dog walks on the sidewalk", "a child follows a dog on a scooter"])}
    info = {"info": {"year": 2016, "version": "1.0"}, "videos": [], "sentences": []}
    for i, (vid, (name, split, cat, caps)) in enumerate(clips.items()):
        folder = "TestVideo" if split == "test" else "TrainValVideo"
        link_video(shared_data, name, root / folder / f"{vid}.mp4")
        info["videos"].append({"video_id": vid, "category": cat, "url": f"https://www.youtube.com/watch?v=x{i}",
                               "start time": 10.0, "end time": 20.0, "split": split, "id": i})
        info["sentences"] += [{"video_id": vid, "caption": c, "sen_id": len(info["sentences"]) + k}
                              for k, c in enumerate(caps)]
    (root / "TrainValVideo" / "video1.srt").write_text(
        "1\n00:00:00,500 --> 00:00:03,000\ncome on buddy walk with the scooter\n\n"
        "2\n00:00:04,000 --> 00:00:07,000\ngood dog\n")
    (root / "TestVideo" / "video7010.srt").write_text("1\n00:00:01,000 --> 00:00:04,000\nthe dog walks and I ride\n")
    (root / "videodatainfo.json").write_text(json.dumps(info))
    return root


def anet_paragraph_root(shared_data: Path, root: Path) -> Path:
    """An ActivityNet Captions root: the real annotation lines of the two sample videos (``train.json`` the dog's,
    ``val_1.json`` and ``val_2.json`` the lifter's) and ``videos/<id>.mp4``."""
    for vid in (DOG, LIFTER):
        link_video(shared_data, vid, root / "videos" / f"{vid}.mp4")
    for fname, vid in (("train", DOG), ("val_1", LIFTER), ("val_2", LIFTER)):
        ann = json.loads((shared_data / "anet" / f"{fname}.json").read_text())
        (root / f"{fname}.json").write_text(json.dumps({vid: ann[vid]}))
    return root
