"""The mashup stage (``rules/mashup.smk``): the mashability join (``join``), beat-aligned
RMS-balanced mixing (``mixing``), pitch shift and time stretch of accompaniment segments to
the vocal's key and tempo (``shift``) and the per-shard mix driver and recipe (``mix``).
"""
