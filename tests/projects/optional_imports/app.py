import contextlib
import importlib
import sys
from importlib.util import find_spec
from typing import TYPE_CHECKING

import numpy as np

try:
    import ujson as json
except ImportError:
    import json

try:
    import numpy.linalg
except ModuleNotFoundError:
    pass

if TYPE_CHECKING:
    from pandas import DataFrame

if find_spec("cupy") is not None:
    import cupy

with contextlib.suppress(ImportError):
    import orjson

if sys.version_info < (3, 11):
    import tomli
else:
    import tomllib

if sys.platform == "win32":
    import win32api

yaml = importlib.import_module("yaml")
requests = __import__("requests")


def lazy():
    import scipy.stats

    return scipy.stats
