"""The report stage (``rules/report.smk``): figures (``figures``), the self-contained HTML
report (``html``) and the input accounting table (``accounting``).
"""
