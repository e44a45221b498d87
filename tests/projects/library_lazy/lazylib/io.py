def load(path):
    import h5py

    return h5py.File(path)
