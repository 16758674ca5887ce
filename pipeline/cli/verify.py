"""Verify a dataset directory: recompute shard sha256, check shapes and rows against card.json.

Exit status 0 when intact, 1 with one line per problem otherwise.
"""

import sys

from ..dataset.verify import verify


def add_arguments(parser):
    parser.add_argument("dataset", help="dataset directory (datasets/<version>)")


def run(args) -> int:
    problems = verify(args.dataset)
    for p in problems:
        print(f"verify: {p}", file=sys.stderr)
    if problems:
        print(f"verify: {args.dataset}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"verify: {args.dataset}: ok")
    return 0
