"""The bottom layer: settings, the declared field table, modes, dates, names and language rules.

Nothing here imports any other package of the project.
"""

__version__ = "0.1.0"
