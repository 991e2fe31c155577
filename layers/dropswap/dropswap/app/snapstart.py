"""SnapStart's runtime hooks (template parameter SnapStart; docs/snapstart.md).

With SnapStart, Lambda runs a function's init once per published version, snapshots the process, and
starts every new instance from a copy of that snapshot. So nothing the process holds may be unique to one
instance: each restored copy would share it. Before the snapshot and after each restore, the process-wide
state is dropped and rebuilt on first use:
- the AKOOL HTTP session (pooled TLS connections, useless or shared in a copy) and the request spacer
  (a deadline on the snapshot's monotonic clock);
- the boto3 clients and boto3's default session (connections and resolved credentials); only the service
  models, loaded before the snapshot, are kept;
- the cached AKOOL secret and its Secrets Manager client (a key is never kept in a snapshot);
- `random`'s global state, reseeded after each restore: copies of one snapshot would otherwise draw the same
  backoff jitter and retry in lockstep. Webhook tokens and lease owners come from `secrets`/`uuid4`
  (os.urandom, read per call), so no token or nonce exists before a job does.

`install()` registers the hooks with the Lambda runtime's `snapshot_restore_py` (python3.12+ runtimes);
outside Lambda, or on a runtime without it, it does nothing, and so do the hooks without SnapStart.
"""

from __future__ import annotations

import random
import sys

from dropswap.adapters import aws
from dropswap.app.parts import forget_connections


def before_snapshot() -> None:
    # The boto3 service models go into the snapshot (restored copies skip reading them); nothing else
    # per-process does (init builds none of it today; this keeps it so).
    aws.load_models()
    _forget_process_state()


def after_restore() -> None:
    _forget_process_state()
    random.seed()  # from os.urandom: each restored copy its own jitter


def install() -> bool:
    """Register the hooks when the runtime has SnapStart's hook registry; whether it had."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True


def _forget_process_state() -> None:
    forget_connections()
    aws.forget_clients()
    # The secret's cache exists only once the credentials module was loaded (on first need): importing it
    # here would put Powertools Parameters on every cold start (tests/unit/test_cold_imports.py).
    credentials = sys.modules.get("dropswap.adapters.credentials")
    if credentials is not None:
        credentials.forget_cached()
