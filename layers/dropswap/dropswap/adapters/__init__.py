"""Adapters: the only code that talks to AWS (boto3) and AKOOL (requests). Each satisfies a port of
domain/ports.py; none imports a flow (import-linter)."""
