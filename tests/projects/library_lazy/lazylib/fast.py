import numba
