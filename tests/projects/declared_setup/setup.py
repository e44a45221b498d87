from setuptools import find_packages, setup

REQUIRES = ["numpy>=1.20", "pyserial"]

setup(
    name="fancy-tool",
    packages=find_packages(),
    install_requires=REQUIRES,
    extras_require={"plot": ["matplotlib"]},
)
