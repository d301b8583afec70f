"""councilqa: the command line, the roof over every layer (`councilqa index|serve|search|ask|ui|eval|up`)."""

from common import __version__

__all__ = ["__version__"]
