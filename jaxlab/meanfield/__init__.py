"""Mean-field and finite-width dynamics studies: the scaled deep ResNet (paper 7) and the shallow
encoder-only Transformer (paper 10).

  from jaxlab.meanfield import resnet, transformer
"""
