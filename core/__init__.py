"""The search core: typed queries in, typed results out; no web framework, no terminal.

`Engine` (core.engine) is the one entry point the shells (API, CLI, evaluation) use.
"""
