"""The `dropswap` command: argument parsing, the stack, and errors as one-line messages."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    SSLError,
)
from rich.console import Console

from dropswap_cli import __version__, doctor, faces, plan, stack, status, swap, sync
from dropswap_cli.errors import USAGE, CliError
from dropswap_cli.printable import printable

_BAD_CREDENTIALS = {"InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                    "ExpiredTokenException", "UnrecognizedClientException", "AuthFailure"}


def parser() -> argparse.ArgumentParser:
    # The stack options go with every subcommand, so they can be written anywhere after it.
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which stack (default: the local stack's .dropswap/local.json)")
    where.add_argument("--stack", metavar="NAME", help="a deployed stack's CloudFormation name "
                       "(or DROPSWAP_STACK); its DropBucketName output is the bucket")
    where.add_argument("--region", help="the stack's region (default: AWS_REGION or the profile's)")
    where.add_argument("--local", type=Path, metavar="FILE",
                       help="the local stack's description (or DROPSWAP_LOCAL; default: .dropswap/local.json "
                            "in this folder or a parent)")
    common.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    top = argparse.ArgumentParser(
        prog="dropswap", description="Face-swap photos with a dropswap stack: upload, wait, download.")
    top.add_argument("--version", action="version", version=f"dropswap {__version__}")
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (swap, faces, plan, status, sync, doctor):
        module.add_parser(commands, common)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out, err = Console(), Console(stderr=True)
    try:
        # Each command checks its own input first, then connects: a missing file is reported before
        # any AWS setting is looked at.
        code: int = args.run(args, lambda: stack.find(args.stack, args.region, args.local), out, err)
        return code
    except KeyboardInterrupt:
        _fail("interrupted (uploaded jobs go on in the stack: see `dropswap status`)")
        return 130
    except CliError as exc:
        _fail(str(exc))
        return exc.code
    except Exception as exc:
        if args.debug:
            raise
        _fail(explain(exc))
        return USAGE if isinstance(exc, BotoCoreError | ClientError) else 1


def explain(exc: Exception) -> str:
    """An AWS or unexpected error as one line saying what to check."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no AWS credentials found: configure them (aws configure, aws sso login, AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use the local stack (make up)")
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION (the stack's region)"
    if isinstance(exc, SSLError):
        return f"TLS error talking to AWS ({exc}); for a private CA, set AWS_CA_BUNDLE"
    if isinstance(exc, ConnectionError):
        return f"cannot reach AWS ({exc}); for the local stack, is `make up` running?"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        operation = exc.operation_name
        if code in _BAD_CREDENTIALS:
            return f"AWS rejected the credentials ({code}: {message}); check AWS_PROFILE or log in again"
        if code in ("AccessDenied", "AccessDeniedException", "403"):
            return (f"access denied ({operation}): these credentials may not use the stack's bucket; "
                    f"ask for s3:ListBucket, s3:GetObject and s3:PutObject on it")
        if code in ("NoSuchBucket", "404"):
            return f"the stack's bucket is not there ({operation}: {code}); is the stack deployed?"
        return f"AWS error in {operation}: {code}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"AWS error: {exc}"
    if isinstance(exc, OSError):
        return f"{exc.filename or 'file'}: {exc.strerror or exc}"
    return f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for details)"


def _fail(message: str) -> None:
    # Messages may quote a key or a report (printable.py).
    print(f"dropswap: error: {printable(message)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
