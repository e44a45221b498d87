import mypkg

try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
