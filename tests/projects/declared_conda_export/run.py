import numpy
import torch
import yaml
