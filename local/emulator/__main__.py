"""CLI: `python -m local.emulator --port 0 --client-id ID --api-key KEY` prints the URL, runs until Ctrl-C.

The API key can come from $AKOOL_EMULATOR_API_KEY instead of the command line (keeps it out of `ps`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from local.emulator.config import (
    DEFAULT_ALLOWED_HOSTS,
    DEFAULT_CONCURRENT_JOBS,
    DEFAULT_REQUESTS_PER_SECOND,
    ENGINES,
    MODES,
    EmulatorConfig,
)
from local.emulator.server import start_emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.emulator", description="AKOOL API emulator")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--api-key", default=os.environ.get("AKOOL_EMULATOR_API_KEY"))
    parser.add_argument("--mode", choices=MODES, default="realistic")
    parser.add_argument("--engine", choices=ENGINES, default="real")
    parser.add_argument("--credits", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=EmulatorConfig.workers)
    parser.add_argument("--concurrent-jobs", type=int, default=DEFAULT_CONCURRENT_JOBS,
                        help="account limit: jobs in flight at once, past it 1005 (0 = unlimited)")
    parser.add_argument("--requests-per-second", type=int, default=DEFAULT_REQUESTS_PER_SECOND,
                        help="account limit: API requests per second, past it 1005 (0 = unlimited)")
    parser.add_argument("--webhook-retries", type=int, default=5)
    parser.add_argument(
        "--allow-host",
        action="append",
        default=None,
        help=f"host or network to fetch from / call back (repeatable; default {DEFAULT_ALLOWED_HOSTS})",
    )
    parser.add_argument("--public-url", default=None, help="base URL written into result and crop URLs")
    parser.add_argument("--tls-cert", default=None, help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    parser.add_argument("--ca-bundle", default=None, help="CA bundle trusted for downloads and webhooks")
    parser.add_argument("--execute-api-endpoint", default=None,
                        help="local API Gateway that stands in for *.execute-api.<region>.amazonaws.com")
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error("--api-key (or $AKOOL_EMULATOR_API_KEY) is required")
    try:
        config = EmulatorConfig(
            client_id=args.client_id,
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            mode=args.mode,
            engine=args.engine,
            credits=args.credits,
            workers=args.workers,
            concurrent_jobs=args.concurrent_jobs,
            requests_per_second=args.requests_per_second,
            webhook_retries=args.webhook_retries,
            allowed_hosts=tuple(args.allow_host) if args.allow_host else DEFAULT_ALLOWED_HOSTS,
            public_url=args.public_url,
            tls_cert_file=args.tls_cert,
            tls_key_file=args.tls_key,
            ca_bundle=args.ca_bundle,
            execute_api_endpoint=args.execute_api_endpoint,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with start_emulator(config) as running:
        print(running.url, flush=True)  # first line of output: scripts read the URL from here
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
