"""Kernel methods: the spectral calculus every kernel solve in jaxlab shares.

  from jaxlab.kernels import spectral
"""

from jaxlab.kernels import spectral

__all__ = ["spectral"]
