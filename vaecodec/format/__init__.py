"""Bytes <-> plain dataclasses: the ``.vaez`` container (``container``).

No numpy, no models, no torch: reading a header needs msgpack and zstandard only, and
every size is capped before anything is allocated.
"""
