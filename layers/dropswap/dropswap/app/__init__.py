"""The composition root: the one place that builds each function's object graph from its validated settings.

One module per function (submit, webhook, finalise, reconcile), so a handler imports only the flow it runs
(cold start, and each role's grants follow the code it can run). Each module has `settings()` (read once at
cold start, failing by name: settings.for_function), a factory over ports (`submitter(...)`, `finaliser(...)`
…, which the tests call with fakes at the AWS/AKOOL boundary) and `build(...)`, which gives that factory the
real adapters (parts.Parts). Handlers, the local stack, the benchmarks and the tests all build through here.
"""
