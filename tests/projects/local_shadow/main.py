"""A script next to a folder of images called tensorflow: tensorflow is still needed."""
import tensorflow as tf

import helpers
import mylib.models
from mylib import layers

from . import sibling  # relative: always local

print(tf, helpers, mylib, layers, sibling)
