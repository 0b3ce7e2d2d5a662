"""The ``vxt`` command line: one Typer app, one thin module per stage.

Command modules must not import torch, transformers or av at module level:
``vxt --help`` has to answer in well under a second.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

app = typer.Typer(
    name="vxt",
    help="vxt: video and what comes with it (audio, speech, subtitles, questions, dialog) to text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Each entry is a module under vxt.commands exposing ``register(app)``.
# A command is listed here only once it does its job.
COMMANDS: tuple[str, ...] = ("prepare", "tokenize", "train", "decode", "score")


def _register_all() -> None:
    for name in COMMANDS:
        importlib.import_module(f"vxt.commands.{name}").register(app)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from vxt import __version__

        typer.echo(f"vxt {__version__}")
        raise typer.Exit()


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app, turning user errors into one line and an exit code."""
    from vxt.errors import VxtError

    _register_all()
    try:
        app(args=argv, prog_name="vxt", standalone_mode=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return code
    except VxtError as e:
        print(f"vxt: error: {e.format()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("vxt: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("VXT_DEBUG"):
            raise
        print(
            f"vxt: error: {type(e).__name__}: {e} (set VXT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


def run() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
