"""vxt: video and what comes with it, to text.

The package is importable without the CLI; heavy dependencies (torch,
transformers, av) are imported inside the functions that need them so that
``import vxt`` and ``vxt --help`` stay fast.
"""

__version__ = "0.1.0.dev0"

from vxt.errors import VxtError  # noqa: E402,F401
