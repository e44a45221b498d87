def main():
    import pandas

    import lazylib
