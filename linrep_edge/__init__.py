"""linrep-edge: linear representation of conv kernels (a·T[idx] + b) packed for microcontrollers."""

__version__ = "0.1.0"
