import bitsandbytes

from . import core
