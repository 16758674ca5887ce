"""The mashup stage (``rules/mashup.smk``): the mashability join (``join``), beat-aligned
RMS-balanced mixing (``mixing``) and the per-shard mix driver and recipe (``mix``).
"""
