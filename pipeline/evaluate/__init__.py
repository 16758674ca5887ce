"""The evaluation stage (``rules/evaluate.smk``): singer identification and query-by-singer
protocol (``protocol``), metric definitions (``metrics``), the GMM-UBM baseline
(``gmm_ubm``) and embedding of a user's own audio (``embed``).
"""
