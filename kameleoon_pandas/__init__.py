"""kameleoon-pandas: the Kameleoon Data API in pandas and Jupyter."""

__version__ = "0.1.0"
