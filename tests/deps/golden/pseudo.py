#!/usr/bin/env python3
# pseudo.py: converted from the notebook pseudo.ipynb by `freight convert`.
# It runs under plain python: IPython syntax was translated, or commented out where it has
# no plain-Python equivalent. Cells are marked `# %% cell N` (N counts every cell from 1).


# %% cell 1 [markdown]
# A notebook with a cell of pseudo-code and one of Python 2.


# %% cell 2
import math
radius = 2.0


# %% cell 3
# freight: commented out, line 1 is not valid Python (invalid syntax)
# for each sample in dataset:
#     compute loss
#     update weights


# %% cell 4
# freight: commented out, line 1 is not valid Python (Missing parentheses in call to 'print'. Did you mean print(...)?)
# print "area", math.pi * radius ** 2


# %% cell 5
# freight: commented out, line 5 is not valid Python (unindent does not match any outer indentation level)
# import os
# print(math.pi * radius ** 2)
# while True:
#     %time x = 1
#   break


# %% cell 6
print(round(math.pi * radius ** 2, 2))
