import numpy
import serial

import fancy_tool
