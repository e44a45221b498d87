"""`freight deps` and `freight convert`: the commands of the dependency stage."""

from __future__ import annotations
