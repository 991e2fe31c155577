"""AWS cost per 1,000 single-swap jobs, from the calls the warm benchmark counted and AWS's public prices.

`cost_per_1000_jobs` is pure arithmetic on a job's measured figures (AWS calls by operation, handler ms and
invocations by function) and the template's memory sizes; `PRICES` is the dated price table it uses and
`Assumptions` holds every figure that is not measured, each with the line the report prints for it.
List prices of us-east-1 on PRICES_AS_OF, lowest-volume tier, free tier excluded (a bill with the free tier
left would be lower); AKOOL's own charges excluded (AKOOL bills credits per swap under its own plans).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

PRICES_AS_OF = "2026-12-01"
REGION = "us-east-1"
SECTION_TITLE = "AWS cost per 1,000 jobs"
TARGET_USD_PER_1000 = 0.50
TARGET_WHY = (
    "why this target: $0.0005 per job keeps the AWS side of a swap a small fraction of a cent, noise next "
    "to a paid AI face swap; it sits above the request-priced lines together (a few cents per 1,000), so "
    "it is missed only by what scales with the photos (storage, transfer to AKOOL) or by a design that "
    "doubles its calls and compute"
)
GIB = 2**30
SQS_CHUNK_BYTES = 64 * 1024  # SQS and EventBridge bill each 64 KiB of payload as one request / event
_MILLION = 1_000_000

# Which functions a job's messages reach, and how (template.yaml): SQS event source mappings feed these two,
# API Gateway (a REST API, AWS::Serverless::Api) feeds the webhook.
QUEUE_FED_FUNCTIONS = ("SubmitFunction", "FinaliseFunction")
API_FED_FUNCTIONS = ("WebhookFunction",)


@dataclass(frozen=True)
class Price:
    usd: float  # USD per `per` units
    per: int
    unit: str
    item: str  # what is billed, as the pricing page names it
    url: str  # the public AWS pricing page
    checked: str  # where the figure was seen again on PRICES_AS_OF, or "not re-checked"

    @property
    def usd_per_unit(self) -> float:
        return self.usd / self.per


PRICES: dict[str, Price] = {
    "lambda_gb_second": Price(
        0.0000133334, 1, "GB-second", "Lambda duration, Arm (first 7.5 billion GB-s/month)",
        "https://aws.amazon.com/lambda/pricing/",
        "cloudchipr.com/blog/aws-lambda-pricing (us-east-1 Arm tier table)"),
    "lambda_request": Price(
        0.20, _MILLION, "request", "Lambda requests", "https://aws.amazon.com/lambda/pricing/",
        "cloudchipr.com/blog/aws-lambda-pricing"),
    "sqs_request": Price(
        0.40, _MILLION, "request (64 KiB chunk)", "SQS standard queue requests (first 100 billion/month)",
        "https://aws.amazon.com/sqs/pricing/",
        "cloudburn.io/blog/amazon-sqs-pricing (March 2026), 64 KiB chunking"),
    "dynamodb_wru": Price(
        0.625, _MILLION, "write request unit", "DynamoDB on-demand writes (after the Nov 2024 cut)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "airbyte.com/data-engineering-resources/dynamodb-pricing (after the Nov 2024 50% cut)"),
    "dynamodb_rru": Price(
        0.125, _MILLION, "read request unit", "DynamoDB on-demand reads (after the Nov 2024 cut)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "airbyte.com/data-engineering-resources/dynamodb-pricing"),
    "s3_put": Price(
        0.005, 1000, "request", "S3 Standard PUT, COPY, POST, LIST requests",
        "https://aws.amazon.com/s3/pricing/", "devnotes.tech S3 pricing breakdown"),
    "s3_get": Price(
        0.0004, 1000, "request", "S3 Standard GET, SELECT and all other requests (HEAD)",
        "https://aws.amazon.com/s3/pricing/", "devnotes.tech S3 pricing breakdown"),
    "s3_storage": Price(
        0.023, 1, "GB-month", "S3 Standard storage (first 50 TB/month)",
        "https://aws.amazon.com/s3/pricing/", "devnotes.tech S3 pricing breakdown"),
    "data_transfer_out": Price(
        0.09, 1, "GB", "data transfer out to the internet (up to 10 TB/month)",
        "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer",
        "wring.co/blog/aws-data-transfer-pricing-guide"),
    "apigw_rest_request": Price(
        3.50, _MILLION, "request", "API Gateway REST API calls (first 333 million/month)",
        "https://aws.amazon.com/api-gateway/pricing/",
        "docs.aws.amazon.com whitepaper best-practices-api-gateway-private-apis-integration, Table 4"),
    "eventbridge_event": Price(
        1.00, _MILLION, "event (64 KiB chunk)", "EventBridge custom events published to an event bus",
        "https://aws.amazon.com/eventbridge/pricing/", "cloudburn.io/blog/amazon-eventbridge-pricing"),
    "secrets_api": Price(
        0.05, 10_000, "API call", "Secrets Manager API calls",
        "https://aws.amazon.com/secrets-manager/pricing/",
        "hivebook.wiki AWS Secrets Manager overview"),
    "logs_ingestion": Price(
        0.50, 1, "GB", "CloudWatch Logs ingestion, Standard log class",
        "https://aws.amazon.com/cloudwatch/pricing/",
        "c3x.dev/blog/cloudwatch-logs-cost-optimization (us-east-1, June 2026)"),
    "xray_trace": Price(
        5.00, _MILLION, "trace recorded", "X-Ray traces recorded", "https://aws.amazon.com/xray/pricing/",
        "aws.amazon.com/de/xray/pricing"),
}


@dataclass(frozen=True)
class Assumptions:
    """What the warm run does not measure; `lines()` is what the report says about each."""

    item_kb: float = 1.5  # a job item (key, state, inputs, AKOOL ids, metadata)
    index_wru_per_write: float = 2.0
    s3_events_per_job: int = 2  # image + sidecar uploads notify SubmitQueue
    sqs_message_bytes: int = 4096
    event_bytes: int = 4096
    photo_bytes: int = 2_000_000
    source_bytes: int = 250_000
    result_bytes: int = 2_000_000
    report_bytes: int = 4096
    akool_fetches_per_job: int = 2  # AKOOL GETs the staged photo and source by presigned URL
    staging_days: float = 1.0  # staging/ lifecycle rule
    result_days: float = 30.0
    log_bytes_per_invocation: int = 1536
    jobs_per_cold_start: int = 100  # per function that a job invokes
    init_ms: float = 1000.0
    traces_per_invocation: float = 1.0

    def lines(self) -> list[str]:
        return [
            f"DynamoDB: a job item of ~{self.item_kb:g} KB, so a write (conditional UpdateItem) costs "
            f"{_wru(self.item_kb):g} WRU and a strongly consistent GetItem {_rru(self.item_kb):g} RRU; "
            "a Query is taken as 1 RRU (an upper bound: a GSI Query of < 4 KB is 0.5); each write also costs "
            f"{self.index_wru_per_write:g} WRU in the indexes (open-jobs projects ALL attributes, so an open "
            "job's update rewrites its index entry; an index entry whose key changes is a delete and a put).",
            f"SQS: each message < 64 KiB (~{self.sqs_message_bytes / 1024:g} KiB), so one request per send; "
            f"{self.s3_events_per_job} S3 event notifications per job (image, sidecar) are sends too; each "
            "invocation of a queue-fed function is one ReceiveMessage and one DeleteMessageBatch (one "
            "message per batch as in the one-at-a-time run: the upper bound; batches of 5 share them). The "
            "event source's empty long polls are a fixed cost per queue, not per job.",
            "Lambda: duration = the measured handler ms (MiniStack's Duration, the round trip to its worker "
            "included: above what Lambda bills) × the function's memory; one cold start per function per "
            f"{self.jobs_per_cold_start} jobs, billed for ~{self.init_ms:g} ms of INIT (billed since August "
            "2025) and one GetSecretValue; a warm worker's re-read of the secret (at most every 5 minutes, "
            "dropswap.adapters.credentials.CACHE_SECONDS) is a cost per worker-hour, not per job.",
            f"S3: AKOOL fetches {self.akool_fetches_per_job} staged inputs per job by presigned GET "
            f"(photo ~{self.photo_bytes / 1e6:g} MB, source ~{self.source_bytes / 1e6:g} MB), which also "
            f"leave AWS as data transfer out; the result (~{self.result_bytes / 1e6:g} MB) and report "
            f"(~{self.report_bytes / 1024:g} KiB) are stored {self.result_days:g} days, the staging copies "
            f"{self.staging_days:g} day; the user's own uploads under inbox/ and their downloads are theirs.",
            f"Logs and traces: ~{self.log_bytes_per_invocation / 1024:g} KiB of CloudWatch Logs per "
            "invocation (START/END/REPORT lines plus one or two Powertools JSON lines: an estimate, not "
            "measured); "
            f"{self.traces_per_invocation:g} X-Ray trace per invocation (Tracing: Active; at low rates the "
            "default sampling rule records every request: an upper bound).",
            "EventBridge: one event per events:PutEvents call (one entry each, < 64 KiB).",
        ]


DEFAULT_ASSUMPTIONS = Assumptions()

EXCLUDED = (
    "Not per job, so not counted: the Secrets Manager secret ($0.40 a month), ReconcileFunction's runs every "
    "5 minutes, the SQS event sources' empty long polls, CloudWatch alarms and custom metrics, log and "
    "DynamoDB storage, PITR. Free tiers excluded; AKOOL's credits excluded."
)


@dataclass(frozen=True)
class LineItem:
    service: str
    what: str
    quantity: float  # per 1,000 jobs, in the price's unit
    price_key: str
    usd: float  # per 1,000 jobs


@dataclass(frozen=True)
class CostBreakdown:
    lines: tuple[LineItem, ...] = field(default_factory=tuple)

    @property
    def total_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.service] = out.get(line.service, 0.0) + line.usd
        return out


_S3_PUT_CLASS = {"PutObject", "CopyObject", "PostObject", "ListObjects", "ListObjectsV2", "ListBucket",
                 "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_S3_GET_CLASS = {"GetObject", "HeadObject", "HeadBucket"}
_S3_FREE = {"DeleteObject", "DeleteObjects"}
_DDB_WRITES = {"UpdateItem", "PutItem", "DeleteItem"}
_SQS_SENDS = {"SendMessage", "SendMessageBatch"}  # billed per 64 KiB chunk of the messages
_SQS_OTHER = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
              "ChangeMessageVisibilityBatch"}


# What SubmitFunction does per single-swap job beyond the warm figures REPORT.md last measured
# (tests/unit/test_submit_calls.py counts the same). Issue 18's live states: the QUEUED and PROCESSING reports
# (a PutObject each, each with the free DeleteObject of an older job's swapped image), the two HEADs before
# PROCESSING (is it still the photo's latest job: latest.py) and the `Job Submitted` event; a job that waits
# for an AKOOL slot writes its WAITING once (claim, marker, release), not per retry. And the webhook's token
# armed on the record right before the swap is sent (one conditional UpdateItem: submission.py `_arm`), so
# a callback that outruns the SUBMITTED write is verified rather than refused.
CALLS_ADDED_PER_JOB: dict[str, float] = {
    "Submit s3:PutObject": 2.0,
    "Submit s3:DeleteObject": 2.0,
    "Submit s3:HeadObject": 2.0,
    "Submit events:PutEvents": 1.0,
    "Submit dynamodb:UpdateItem": 1.0,
}


def with_calls_added(calls_by_operation: Mapping[str, float]) -> dict[str, float]:
    """A warm run's calls per job as measured before, with the calls added since (CALLS_ADDED_PER_JOB)."""
    out = dict(calls_by_operation)
    for name, n in CALLS_ADDED_PER_JOB.items():
        out[name] = out.get(name, 0.0) + n
    return out


def sqs_billed_requests(payload_bytes: int) -> int:
    """SQS bills each 64 KiB chunk of a request's payload as one request (an empty payload is one)."""
    return max(1, math.ceil(payload_bytes / SQS_CHUNK_BYTES))


def _wru(item_kb: float) -> int:
    return max(1, math.ceil(item_kb))  # 1 WRU per KB written, rounded up


def _rru(item_kb: float) -> int:
    return max(1, math.ceil(item_kb / 4))  # strongly consistent: 1 RRU per 4 KB read, rounded up


def cost_per_1000_jobs(calls_by_operation: Mapping[str, float], ms_by_function: Mapping[str, float],
                       invocations_by_function: Mapping[str, float], memory_mb_by_function: Mapping[str, int],
                       assumptions: Assumptions = DEFAULT_ASSUMPTIONS) -> CostBreakdown:
    """USD per 1,000 jobs by line item. Inputs are per job, as benchmarks/run.py's warm section gives them:
    calls keyed "<Function short name> <service>:<CloudTrail operation>" (e.g. "Submit dynamodb:GetItem"),
    handler ms and invocations keyed by function logical id. An operation without a price raises ValueError
    (a new call must be priced deliberately, not dropped)."""
    a = assumptions
    ops: dict[str, float] = {}
    for name, n in calls_by_operation.items():
        op = name.split(" ", 1)[-1]
        ops[op] = ops.get(op, 0.0) + n

    s3_put = s3_get = ddb_writes = ddb_gets = ddb_queries = sqs_calls = events = secrets = 0.0
    for op, n in ops.items():
        service, _, action = op.partition(":")
        if service == "s3" and action in _S3_PUT_CLASS:
            s3_put += n
        elif service == "s3" and action in _S3_GET_CLASS:
            s3_get += n
        elif service == "s3" and action in _S3_FREE:
            pass
        elif service == "dynamodb" and action in _DDB_WRITES:
            ddb_writes += n
        elif service == "dynamodb" and action == "GetItem":
            ddb_gets += n
        elif service == "dynamodb" and action == "Query":
            ddb_queries += n
        elif service == "sqs" and action in _SQS_SENDS:
            sqs_calls += n * sqs_billed_requests(a.sqs_message_bytes)
        elif service == "sqs" and action in _SQS_OTHER:
            sqs_calls += n
        elif service == "events" and action == "PutEvents":
            events += n * sqs_billed_requests(a.event_bytes)  # the same 64 KiB chunking
        elif service == "secretsmanager" and action == "GetSecretValue":
            secrets += n
        else:
            raise ValueError(f"no price for AWS operation {op!r}")

    per_job = [name for name, n in invocations_by_function.items() if n > 0]
    cold_starts = len(per_job) / a.jobs_per_cold_start
    gb_s = sum(ms_by_function.get(f, 0.0) / 1000 * memory_mb_by_function[f] / 1024 for f in per_job)
    init_gb_s = sum(a.init_ms / 1000 * memory_mb_by_function[f] / 1024 / a.jobs_per_cold_start
                    for f in per_job)
    invocations = sum(invocations_by_function.values())
    queue_invocations = sum(invocations_by_function.get(f, 0.0) for f in QUEUE_FED_FUNCTIONS)
    api_requests = sum(invocations_by_function.get(f, 0.0) for f in API_FED_FUNCTIONS)
    sqs = sqs_calls + a.s3_events_per_job * sqs_billed_requests(a.sqs_message_bytes) + 2 * queue_invocations
    inputs_gib = (a.photo_bytes + a.source_bytes) / GIB
    stored_gib_months = ((a.result_bytes + a.report_bytes) / GIB * a.result_days / 30
                         + inputs_gib * a.staging_days / 30)

    def item(service: str, what: str, quantity_per_job: float, key: str) -> LineItem:
        q = quantity_per_job * 1000
        return LineItem(service, what, q, key, q * PRICES[key].usd_per_unit)

    return CostBreakdown((
        item("Lambda", "duration (handler)", gb_s, "lambda_gb_second"),
        item("Lambda", "duration (INIT of cold starts, amortised)", init_gb_s, "lambda_gb_second"),
        item("Lambda", "requests", invocations, "lambda_request"),
        item("API Gateway", "REST API requests (AKOOL's callbacks)", api_requests, "apigw_rest_request"),
        item("SQS", "send + receive + delete requests", sqs, "sqs_request"),
        item("DynamoDB", "write request units (table + indexes)",
             ddb_writes * (_wru(a.item_kb) + a.index_wru_per_write), "dynamodb_wru"),
        item("DynamoDB", "read request units", ddb_gets * _rru(a.item_kb) + ddb_queries, "dynamodb_rru"),
        item("S3", "PUT/COPY/POST/LIST requests", s3_put, "s3_put"),
        item("S3", "GET/HEAD requests (AKOOL's presigned GETs included)", s3_get + a.akool_fetches_per_job,
             "s3_get"),
        item("S3", "storage (result + report a month, staging copies a day)", stored_gib_months,
             "s3_storage"),
        item("Data transfer", "out to the internet (AKOOL fetching the inputs)", inputs_gib,
             "data_transfer_out"),
        item("EventBridge", "custom events", events, "eventbridge_event"),
        item("Secrets Manager", "GetSecretValue (one per cold start, amortised)", secrets + cold_starts,
             "secrets_api"),
        item("CloudWatch Logs", "ingestion", invocations * a.log_bytes_per_invocation / GIB,
             "logs_ingestion"),
        item("X-Ray", "traces recorded", invocations * a.traces_per_invocation, "xray_trace"),
    ))


def _usd(x: float) -> str:
    return f"${x:.4f}" if x < 1 else f"${x:.2f}"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _price(p: Price) -> str:
    per = {1: "", 1000: " per 1,000", 10_000: " per 10,000", _MILLION: " per million"}[p.per]
    return "$" + f"{p.usd:.10f}".rstrip("0").rstrip(".") + per


def summary_row(columns: Mapping[str, CostBreakdown]) -> str:
    worst = max(b.total_usd for b in columns.values())
    measured = ", ".join(f"{_usd(b.total_usd)} ({label})" for label, b in columns.items())
    verdict = "met" if worst <= TARGET_USD_PER_1000 else "**missed**"
    return (f"| AWS cost per 1,000 single-swap jobs ≤ ${TARGET_USD_PER_1000:.2f} (AKOOL's credits excluded; "
            f"list prices of {PRICES_AS_OF}, {REGION}) | {measured} | {verdict} |")


def markdown(columns: Mapping[str, CostBreakdown], assumptions: Assumptions = DEFAULT_ASSUMPTIONS) -> str:
    """The REPORT.md section: line items per column, the total against the target, the dated price table
    and every assumption in one line."""
    labels = list(columns)
    first = columns[labels[0]]
    out = [f"## {SECTION_TITLE}", "",
           "From the warm figures above (AWS calls per job by operation, handler ms and invocations per job "
           "by function) and the functions' memory in template.yaml (arm64), at AWS's public list prices of "
           f"{PRICES_AS_OF} in {REGION} (benchmarks/aws_cost.py). Free tiers excluded; AKOOL's own charges "
           "excluded (AKOOL bills credits per swap under its own plans). GB = 2^30 bytes, as AWS bills.", "",
           "| service | what | " + " | ".join(f"{label}: quantity | USD" for label in labels) + " |",
           "|---|---|" + "---|---|" * len(labels)]
    for i, line in enumerate(first.lines):
        cells = []
        for label in labels:
            li = columns[label].lines[i]
            cells.append(f"{_num(li.quantity)} {PRICES[li.price_key].unit} | {_usd(li.usd)}")
        out.append(f"| {line.service} | {line.what} | " + " | ".join(cells) + " |")
    out.append("| **total** | | " + " | ".join(f"| **{_usd(columns[label].total_usd)}**" for label in labels)
               + " |")
    worst = max(b.total_usd for b in columns.values())
    verdict = "met" if worst <= TARGET_USD_PER_1000 else "**missed**"
    out += ["", f"Target ≤ ${TARGET_USD_PER_1000:.2f} per 1,000 single-swap jobs: {verdict} (worst "
            f"{_usd(worst)}); {TARGET_WHY}.", "",
            f"Prices (us-east-1, list prices as of {PRICES_AS_OF}, lowest-volume tier; \"seen on\" = the "
            "public page, third-party unless on aws.amazon.com, where the same figure was found again that "
            "day; \"not re-checked\" = taken from the AWS page as known before):", "",
            "| item | price | unit | source | seen on |", "|---|---|---|---|---|"]
    for p in PRICES.values():
        out.append(f"| {p.item} | {_price(p)} | {p.unit} | {p.url} | {p.checked} |")
    out += ["", "Assumptions:", ""]
    out += [f"- {line}" for line in assumptions.lines()]
    out += [f"- {EXCLUDED}", ""]
    return "\n".join(out)
