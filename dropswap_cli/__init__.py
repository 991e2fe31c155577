"""dropswap's command-line tool: drop photos into a dropswap stack's bucket and bring the results back.

A client of the stack, installed with `pip install .` (or pipx) from the repository; nothing deployed
imports it. It talks to S3 (and CloudFormation, to find the bucket) with the standard AWS credential chain.
"""

__version__ = "0.1.0"
