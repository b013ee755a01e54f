"""The deterministic numeric core, numpy only: the networks at run time (float and exact
integer), pixel conversion, quantization, the coders (one table, ``coders.CODERS``) and
the residual layer. Nothing here reads files or knows where a model comes from.
"""
