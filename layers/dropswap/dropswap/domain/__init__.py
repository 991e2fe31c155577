"""The domain: what a job, a manifest, a face and a drop-folder key are, and the rules over them.

Pure: no boto3, no requests, no Powertools (import-linter's contracts in pyproject.toml hold it). The ports
(ports.py) are the Protocols through which the flows reach AWS and AKOOL.
"""
