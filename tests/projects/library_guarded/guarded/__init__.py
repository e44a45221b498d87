from .core import run
from .utils import is_bnb_available

if is_bnb_available():
    from .bnb import fast_linear
