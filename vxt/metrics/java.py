"""Finding Java and the jars pycocoevalcap ships (PTB tokenizer, METEOR 1.5).

The PTB tokenizer and METEOR are Java programs; published captioning numbers
come from them, so ``vxt score`` checks for Java before it reads anything and
says how to get it when it is missing.

``VXT_JAVA`` overrides the ``java`` found on ``PATH`` (a path or a command
name); setting it to something that does not exist makes Java "missing", which
is how the tests exercise that path without uninstalling anything.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from vxt.errors import VxtError

INSTALL_HINT = "apt-get install default-jre-headless"

JAVA_MISSING = (
    "Java was not found; the PTB tokenizer and METEOR 1.5 need it "
    f"(install it with `{INSTALL_HINT}`, or set VXT_JAVA to a java binary), "
    "or pass --no-java for BLEU, ROUGE-L and CIDEr with a pure-Python tokenizer "
    "(not comparable to published numbers)"
)


class JavaMissingError(VxtError):
    """Java is needed (PTB tokenizer, METEOR) and is not there."""

    exit_code = 3


def find_java() -> str | None:
    """The java executable to run, or None: ``$VXT_JAVA`` if set, else ``java`` on PATH."""
    override = os.environ.get("VXT_JAVA")
    if override is not None and override.strip():
        override = override.strip()
        if os.sep in override:
            return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
        return shutil.which(override)
    return shutil.which("java")


def java_available() -> bool:
    """Whether a Java runtime can be started (the PTB tokenizer and METEOR need one)."""
    return java_version() is not None


def require_java() -> str:
    """Return the java executable or raise :class:`JavaMissingError` with the install hint."""
    java = find_java()
    if java is None or java_version() is None:
        raise JavaMissingError(JAVA_MISSING)
    return java


def java_version() -> str | None:
    """The first line of ``java -version`` (e.g. 'openjdk version "17.0.15" 2025-04-15'), or None."""
    java = find_java()
    if java is None:
        return None
    return _java_version(java)


@functools.lru_cache(maxsize=8)
def _java_version(java: str) -> str | None:
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def pycocoevalcap_dir() -> Path:
    """The installed pycocoevalcap package folder (holds the jars)."""
    import importlib.util

    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise VxtError("pycocoevalcap is not installed (pip install pycocoevalcap==1.2)")
    return Path(list(spec.submodule_search_locations)[0])


def ptb_jar() -> Path:
    return pycocoevalcap_dir() / "tokenizer" / "stanford-corenlp-3.4.1.jar"


def meteor_jar() -> Path:
    return pycocoevalcap_dir() / "meteor" / "meteor-1.5.jar"


def tool_versions() -> dict[str, str | None]:
    """Versions recorded beside every score: vxt, pycocoevalcap, java (and sacrebleu when installed)."""
    from importlib import metadata

    import vxt

    out: dict[str, str | None] = {"vxt": vxt.__version__}
    for pkg in ("pycocoevalcap", "sacrebleu", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["java"] = java_version()
    return out
