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


_REGISTERED: set[str] = set()


def _register_all() -> None:
    # once per command: main() runs many times in one process (the tests), and a command registered
    # again is another entry Typer has to build on every call
    for name in COMMANDS:
        if name not in _REGISTERED:
            importlib.import_module(f"vxt.commands.{name}").register(app)
            _REGISTERED.add(name)


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

    from typer import Abort, Exit
    from typer.exceptions import TyperException  # Typer's Click: UsageError, BadParameter, NoSuchOption, ...

    _register_all()
    dash = _dash_file_hint(sys.argv[1:] if argv is None else list(argv))
    if dash:
        print(f"vxt: error: {dash}", file=sys.stderr)
        return 2
    try:
        # not standalone: Click's own usage errors come here, to be said in one line like ours
        rv = app(args=argv, prog_name="vxt", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            if rv == 130:  # Typer turns Ctrl-C into a silent Exit(130)
                print("vxt: interrupted", file=sys.stderr)
            return rv  # typer.Exit(code) / --help / --version
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return code
    except Exit as e:
        return e.exit_code
    except TyperException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `vxt` alone: the help
            e.show()
            return e.exit_code
        # a bad option value, an unknown option, a missing argument: one line, exit 2, with where to look
        message = " ".join(e.format_message().split())
        ctx = getattr(e, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"vxt: error: {message}{hint}", file=sys.stderr)
        return 2
    except Abort:
        print("vxt: interrupted", file=sys.stderr)
        return 130
    except VxtError as e:
        if e.exit_code == 130:  # vxt.errors.Interrupted: Ctrl-C, said with what to do next
            print(f"vxt: {e.format()}", file=sys.stderr)
            return e.exit_code
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


#: what a file argument that starts with "-" usually is (VGGSound ids: -1pRmoJIGQc_10000_20000.mp4)
_FILE_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wav", ".mp3", ".flac",
                  ".ogg", ".m4a", ".aac", ".opus", ".srt", ".vtt", ".json", ".jsonl")


def _dash_file_hint(args: list[str]) -> str | None:
    """One line for a file name that starts with "-" where Click sees an option (it would say "no such
    option"); None when every such argument is an option of the command."""
    from pathlib import Path

    if len(args) < 2 or not any(a.startswith("-") and len(a) > 1 for a in args[1:]):
        return None
    try:
        group = typer.main.get_command(app)
        cmd = group.commands.get(args[0]) if hasattr(group, "commands") else None
    except Exception:  # noqa: BLE001 - the hint is a nicety; Click still reports the error
        return None
    if cmd is None:
        return None
    known, takes_value = {"--help"}, set()
    for p in cmd.params:
        known.update([*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])])
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "is_flag", False) \
                and not getattr(p, "count", False):
            takes_value.update(getattr(p, "opts", []))
    prev = None
    for a in args[1:]:
        if a == "--":
            return None
        if a.startswith("-") and len(a) > 1 and prev not in takes_value and a.split("=", 1)[0] not in known \
                and (a.lower().endswith(_FILE_SUFFIXES) or Path(a).exists()):
            return (f"{a} starts with '-', so it is read as an option: pass the file as ./{a} "
                    f"(or put -- before it: vxt {args[0]} ... -- {a})")
        prev = a
    return None


def run() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
