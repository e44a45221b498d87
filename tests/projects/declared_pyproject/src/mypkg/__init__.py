import click
import numpy

from mypkg import core
