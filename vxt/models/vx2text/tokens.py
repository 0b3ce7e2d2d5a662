"""``vxt tokenize``: the text tokenizer of a data dir, and the category tokens each classifier gives.

The category tokens are what a *frozen* classifier contributes to the
language model: per example and modality, the top-K category names (pooled
over the example's clips, ordered by time, then by confidence, exactly as the
model does at evaluation) with their probabilities. They are written per split
as ``DATA/tokens/<split>.jsonl``, readable by a person::

    {"id": "synth-train-00001-caption",
     "video": [{"name": "moves left", "p": 0.91}, ...],
     "audio": [{"name": "drum", "p": 0.88}, ...]}
"""

from __future__ import annotations

from pathlib import Path

from vxt.data.manifest import SPLITS, load_split, read_label_space
from vxt.errors import VxtError
from vxt.utils import progress, say_once, write_json, write_jsonl


def label_space(data_dir: Path, modality: str) -> list[str]:
    """The data dir's label space for ``modality``, else the paper's (Kinetics-400 / AudioSet)."""
    from vxt.modalities import load_label_space

    names = read_label_space(data_dir, modality)
    if names:
        return names
    return load_label_space("kinetics400" if modality == "video" else "audioset")


def train_data_tokenizer(data_dir: Path, vocab_size: int = 2000, force: bool = False) -> Path:
    """Train (or keep) ``DATA/tokenizer/`` on the training texts and every category name."""
    import shutil

    from vxt.models.vx2text import text as textlib

    out = data_dir / textlib.TOKENIZER_DIRNAME
    if force and out.exists():
        shutil.rmtree(out)
    names = [*label_space(data_dir, "video"), *label_space(data_dir, "audio")]
    textlib.data_tokenizer(data_dir, names, vocab_size)
    return out


def category_tokens(data_dir: Path, *, classifiers: dict[str, str], weights: dict[str, str | None],
                    k: dict[str, int], splits=SPLITS, batch_size: int = 16) -> dict[str, int]:
    """Write ``tokens/<split>.jsonl`` for each split; returns the number of rows per split."""
    import torch

    from vxt.data.cache import DecodeSettings, MediaCache
    from vxt.data.loader import dataset_meta
    from vxt.modalities import create_classifier
    from vxt.models.vx2text.tokenization import select_categories

    models = {}
    for m, name in classifiers.items():
        clf = create_classifier(name, labels=label_space(data_dir, m), weights=weights.get(m))
        clf.eval()
        models[m] = clf
    settings = DecodeSettings.from_dict(dataset_meta(data_dir).get("decode"))
    cache = MediaCache(data_dir, settings)
    counts = {}
    for split in splits:
        if not (data_dir / f"{split}.jsonl").exists():
            continue
        examples = [ex for ex in load_split(data_dir, split) if "video" in ex or "audio" in ex]
        by_key: dict[str, list[dict]] = {}
        for ex in examples:
            by_key.setdefault(cache.media_key(ex), []).append(ex)
        rows_by_id: dict[str, dict] = {}
        keys = list(by_key)
        with progress() as bar:
            tid = bar.add_task(f"tokens {split}", total=len(keys))
            for key in keys:
                ex = by_key[key][0]
                media = cache.get(ex)
                row: dict = {}
                with torch.no_grad():
                    for m, clf in models.items():
                        arr = media.get(m)
                        if arr is None:
                            continue
                        x = clf.preprocess(arr)
                        x = x if (m == "audio" or x.dim() == 5) else x.unsqueeze(0)
                        x = x.unsqueeze(0) if m == "audio" else x
                        log_p = clf.log_probs(clf(x)).unsqueeze(0)  # [1, N, C]
                        mask = torch.ones(log_p.shape[:2], dtype=torch.bool)
                        top, pooled, _ = select_categories(log_p, mask, k[m])  # as the model does at evaluation
                        top = top[0].tolist()
                        probs = pooled[0].exp().tolist()
                        row[m] = [{"name": clf.labels[i], "p": round(probs[i], 4)} for i in top]
                for e in by_key[key]:
                    rows_by_id[e["id"]] = {"id": e["id"], **row}
                bar.update(tid, advance=1)
        write_jsonl(data_dir / "tokens" / f"{split}.jsonl", [rows_by_id[ex["id"]] for ex in examples])
        counts[split] = len(examples)
    write_json(data_dir / "tokens" / "settings.json", {"classifiers": classifiers, "weights": weights, "k": k})
    return counts


def tokenize(data_dir: str | Path, *, backbone: str | None = None, vocab_size: int = 2000, force: bool = False,
             video_classifier: str = "tiny-video", audio_classifier: str = "tiny-audio",
             video_weights: str | None = None, audio_weights: str | None = None,
             k_video: int = 12, k_audio: int = 6, splits=SPLITS, tokens: bool = True) -> dict:
    data_dir = Path(data_dir)
    if not (data_dir / "train.jsonl").exists():
        raise VxtError("no train.jsonl here: run `vxt prepare` first", path=str(data_dir))
    result: dict = {}
    if backbone:
        from vxt.models.vx2text import text as textlib

        if not textlib.has_tokenizer(Path(backbone)):
            raise VxtError("the text backbone has no tokenizer files", path=backbone)
        say_once(f"the text backbone {backbone} brings its own tokenizer: none trained")
        result["tokenizer"] = backbone
    else:
        result["tokenizer"] = str(train_data_tokenizer(data_dir, vocab_size, force))
    if tokens:
        result["tokens"] = category_tokens(
            data_dir, classifiers={"video": video_classifier, "audio": audio_classifier},
            weights={"video": video_weights, "audio": audio_weights},
            k={"video": k_video, "audio": k_audio}, splits=splits,
        )
    return result
