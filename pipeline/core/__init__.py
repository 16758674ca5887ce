"""Foundations every stage uses: the segment definition, audio decoding, config loading and
validation, errors, atomic writes, key and pitch names, hashing, seeded per-item random streams
and small signal helpers.  Imports nothing else from ``pipeline``.
"""
