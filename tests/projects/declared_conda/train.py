import numpy
import sklearn
import torch
import transformers
