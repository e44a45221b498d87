import sys

sys.path.insert(0, "..")
import helpers  # the project root's helpers.py
import mylib
import sklearn.svm
