import numpy
import pydantic
import pydantic_core

from .utils import helper
