import sphinx_rtd_theme

extensions = []
