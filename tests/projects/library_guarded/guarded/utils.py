from importlib.util import find_spec


def is_bnb_available():
    return find_spec("bitsandbytes") is not None


def helper():
    return 1
