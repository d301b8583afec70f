"""councilqa: semantic search and cited answers over UK local council papers."""

__version__ = "0.1.0"
