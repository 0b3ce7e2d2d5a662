"""``vxt train --task T``: train a model (or pre-train a modality classifier) on a data dir."""

from __future__ import annotations

from typing import List, Optional

import typer

from vxt.commands._bounds import real


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        task: str = typer.Option(..., "--task", help="caption | qa | dialog | dense | classify (the task registry)"),
        data: str = typer.Option("data/synth", "--data", help="A data dir made by `vxt prepare`."),
        model: Optional[str] = typer.Option(None, "--model", help="A model registry name serving the task (default: the task's: vx2text-tiny for caption/qa/dialog, classifier for classify; dense: bmt, bmt-tiny, mdvc or mdvc-tiny)."),
        strategy: Optional[str] = typer.Option(None, "--strategy", help="A training strategy instead of the model's own: plain | warmup_linear | meta (meta-learning over the manifest's domains: --set source_domains=a,b,c; --stage adapt --set target_domain=d --ckpt E)."),
        tokenization: Optional[str] = typer.Option(None, "--tokenization", help="gumbel (default) | frozen | feature"),
        head: Optional[str] = typer.Option(None, "--head", help="QA head: generative (default) | discriminative"),
        objective: Optional[str] = typer.Option(None, "--objective", help="QA objective: qa (default) | qa+qg | cycle"),
        modalities: Optional[str] = typer.Option(None, "--modalities", help="Inputs to keep, comma-separated: video,audio,subtitles,history,question,candidates"),
        modality: Optional[str] = typer.Option(None, "--modality", help="With --task classify: video | audio"),
        domains: Optional[str] = typer.Option(None, "--domains", help="With --task classify: train on these visual domains only, comma-separated (e.g. photo; examples without a domain are photo)."),
        train_fraction: float = typer.Option(1.0, "--train-fraction", callback=real(0, 1, low_open=True), help="Train on this seeded fraction of the training set (0 < f <= 1)."),
        epochs: int = typer.Option(10, "--epochs", min=1),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after this many optimizer steps (overrides --epochs)."),
        batch_size: int = typer.Option(8, "--batch-size", min=1, help="Global batch size (split over --nproc processes)."),
        lr: Optional[float] = typer.Option(None, "--lr", callback=real(0, low_open=True), help="Adam learning rate (> 0); default 1e-4, divided by 10 at 50% and 75% of training. A model with its own rule uses it unless --lr is given (SpecVQGAN's sampler: 5e-6 x batch size)."),
        seed: int = typer.Option(0, "--seed", min=0),
        out: Optional[str] = typer.Option(None, "--out", help="Experiment dir (default: exp/<data>-<task>-<model>-...-seed<N>)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the experiment dir's last checkpoint."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Train into an --out that holds a trained model, replacing its checkpoints (without it: an error)."),
        save_every: int = typer.Option(0, "--save-every", min=0, help="Also checkpoint every N steps (0: per epoch only)."),
        nproc: int = typer.Option(1, "--nproc", min=1, help="Processes for DDP on this machine (gloo on CPU, NCCL on GPU)."),
        video_weights: Optional[str] = typer.Option(None, "--video-weights", help="Local weights of the video classifier (a file or a `vxt train --task classify` dir)."),
        audio_weights: Optional[str] = typer.Option(None, "--audio-weights", help="Local weights of the audio classifier."),
        eval_beam: int = typer.Option(1, "--eval-beam", min=1, help="Beam width for validation during training (1: greedy)."),
        eval_limit: int = typer.Option(200, "--eval-limit", min=0, help="Validate on at most this many examples (0: all)."),
        patience: Optional[int] = typer.Option(None, "--patience", min=1, help="Early stopping: end the run after N validations (one per epoch) in a row without a new best on the validation metric; best/ keeps the best (SpecVQGAN's sampler: 2)."),
        device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
        stage: Optional[str] = typer.Option(None, "--stage", help="--task dense: captioner | proposals | both (default: both, captioner first); the meta strategy (TAVT, --strategy meta): meta (default) | adapt."),
        features: Optional[str] = typer.Option(None, "--features", help="--task dense: a folder of pre-extracted features in BMT's layout (default: extract with vxt's backbones); --task sound: SpecVQGAN's visual features (<clip>.pkl/.npy; DIR/*/KIND per class; RGB:FLOW concatenated)."),
        ckpt: Optional[str] = typer.Option(None, "--ckpt", help="A trained experiment to start from (TAVT --stage adapt: the meta-trained model)."),
        set_: Optional[List[str]] = typer.Option(None, "--set", help="Override any model config field: key=value (JSON values, dotted keys)."),
    ) -> None:
        """Train a model on a data dir; writes an experiment dir (checkpoints, metrics.jsonl)."""
        from vxt.registry import TASKS, parse_overrides
        from vxt.train.loop import TrainOptions, train as run_train
        from vxt.utils import console

        TASKS.get(task)  # an unknown task: one line listing the known ones
        if strategy is not None:
            from vxt.registry import STRATEGIES

            STRATEGIES.get(strategy)  # an unknown strategy: one line listing the known ones
        overrides = parse_overrides(set_)
        for key, value in (("tokenization", tokenization), ("head", head), ("objective", objective),
                           ("video_weights", video_weights), ("audio_weights", audio_weights),
                           ("stage", stage), ("features", features), ("ckpt", ckpt)):
            if value is not None:
                overrides[key] = value
        if modalities:
            overrides["modalities"] = [m.strip() for m in modalities.split(",") if m.strip()]
        if domains:
            overrides["domains"] = [d.strip() for d in domains.split(",") if d.strip()]
        opts = TrainOptions(
            task=task, data=data, model=model, strategy=strategy, overrides=overrides, out=out, epochs=epochs, max_steps=max_steps,
            batch_size=batch_size, lr=TrainOptions.lr if lr is None else lr, lr_given=lr is not None, train_fraction=train_fraction, seed=seed, resume=resume, overwrite=overwrite,
            save_every=save_every, nproc=nproc, modality=modality, eval_beam=eval_beam,
            eval_limit=eval_limit or None, device=device, patience=patience,
        )
        try:
            summary = run_train(opts)
        except KeyboardInterrupt:
            from vxt.errors import Interrupted

            where = f" --out {opts.out}" if opts.out else ""
            raise Interrupted(f"interrupted; to continue from the last checkpoint, run the same command with --resume"
                              f"{where}") from None
        if summary:
            best = summary.get("best")
            best_s = "n/a" if best is None else f"{best:.4f}"
            console().print(f"trained {summary['exp']}: {summary['steps']} steps in {summary['seconds']} s, best val {summary['metric']} {best_s}")
            if summary.get("early_stop"):
                console().print(f"stopped early at epoch {summary['early_stop']['epoch']} (--patience {patience})")
