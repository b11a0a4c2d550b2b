"""jaxlab: JAX research code for deep-learning theory and robust/efficient training.

Subpackages are imported explicitly, e.g. ``from jaxlab import data, models, training``.
"""

__version__ = "0.1.0"
