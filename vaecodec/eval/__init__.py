"""Measuring codecs: metrics, a model's or a level's figures through the real codec, and
the rate-distortion benchmark against the classical codecs."""
