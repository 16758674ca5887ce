"""The analysis stage (``rules/analysis.smk``): energy singing-voice detection (``voicing``),
tempo and beats (``tempo``), the vocal beat grid (``beat_grid``), Krumhansl-Schmuckler keys
(``keys``, ``key_sections``), the per-shard driver (``stage``) and scoring against ground
truth (``scoring``).
"""
