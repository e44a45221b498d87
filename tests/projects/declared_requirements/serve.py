import numpy
import requests
import torch
import exampletool
