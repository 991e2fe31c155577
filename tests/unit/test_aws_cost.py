"""benchmarks/aws_cost.py: AWS cost per 1,000 jobs from the warm figures and the dated price table."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from benchmarks import aws_cost
from benchmarks.aws_cost import PRICES, Assumptions, CostBreakdown, cost_per_1000_jobs, with_calls_added

MEMORY = {"SubmitFunction": 1024, "WebhookFunction": 512, "FinaliseFunction": 512}
# Nothing that is not measured: no inputs, results, logs, traces, S3 events or cold starts to price.
BARE = Assumptions(s3_events_per_job=0, photo_bytes=0, source_bytes=0, result_bytes=0, report_bytes=0,
                   akool_fetches_per_job=0, log_bytes_per_invocation=0, jobs_per_cold_start=10**12,
                   traces_per_invocation=0.0)


def _line(b: CostBreakdown, service: str, what_starts: str) -> aws_cost.LineItem:
    (found,) = [li for li in b.lines if li.service == service and li.what.startswith(what_starts)]
    return found


def test_given_one_gb_second_per_job_then_1000_jobs_cost_1000_gb_seconds_at_the_arm_price() -> None:
    # Given one invocation per job of 1,000 ms at 1,024 MB (1 GB-second)
    b = cost_per_1000_jobs({}, {"SubmitFunction": 1000.0}, {"SubmitFunction": 1.0}, MEMORY, BARE)
    # Then 1,000 jobs are 1,000 GB-seconds at $0.0000133334 and 1,000 requests at $0.20 per million
    duration = _line(b, "Lambda", "duration (handler)")
    assert duration.quantity == pytest.approx(1000.0)
    assert duration.usd == pytest.approx(0.0133334)
    assert _line(b, "Lambda", "requests").usd == pytest.approx(0.0002)


def test_given_half_a_gb_function_then_its_gb_seconds_are_halved() -> None:
    b = cost_per_1000_jobs({}, {"WebhookFunction": 1000.0}, {"WebhookFunction": 1.0}, MEMORY, BARE)
    assert _line(b, "Lambda", "duration (handler)").usd == pytest.approx(0.0066667)


def test_given_a_million_requests_then_each_request_price_is_the_tables() -> None:
    # Given 1,000 webhook invocations per job: 1 million per 1,000 jobs
    b = cost_per_1000_jobs({}, {}, {"WebhookFunction": 1000.0}, MEMORY, BARE)
    # Then Lambda bills $0.20 and API Gateway (REST) $3.50 for them
    assert _line(b, "Lambda", "requests").usd == pytest.approx(0.20)
    assert _line(b, "API Gateway", "REST").usd == pytest.approx(3.50)


def test_given_dynamodb_calls_then_writes_cost_item_and_index_units_and_reads_one_unit() -> None:
    # Given one conditional UpdateItem, one GetItem and one Query per job, a 1.5 KB item, 2 index WRU a write
    calls = {"Submit dynamodb:UpdateItem": 1.0, "Webhook dynamodb:GetItem": 1.0, "Submit dynamodb:Query": 1.0}
    b = cost_per_1000_jobs(calls, {}, {}, MEMORY, BARE)
    # Then 1,000 jobs write (2 + 2) × 1,000 WRU at $0.625/M and read 2,000 RRU at $0.125/M
    assert _line(b, "DynamoDB", "write").quantity == pytest.approx(4000)
    assert _line(b, "DynamoDB", "write").usd == pytest.approx(0.0025)
    assert _line(b, "DynamoDB", "read").usd == pytest.approx(0.00025)


def test_given_s3_calls_then_put_class_and_get_class_are_priced_apart() -> None:
    calls = {"Finalise s3:PutObject": 2.0, "Submit s3:CopyObject": 2.0, "Submit s3:HeadObject": 2.0,
             "Submit s3:GetObject": 3.0}
    b = cost_per_1000_jobs(calls, {}, {}, MEMORY, BARE)
    assert _line(b, "S3", "PUT").usd == pytest.approx(4000 * 0.005 / 1000)
    assert _line(b, "S3", "GET").usd == pytest.approx(5000 * 0.0004 / 1000)


def test_sqs_bills_each_64_kib_chunk_as_one_request() -> None:
    # Given message sizes around SQS's 64 KiB billing chunk / Then each started chunk is one request
    assert aws_cost.sqs_billed_requests(0) == 1
    assert aws_cost.sqs_billed_requests(64 * 1024) == 1
    assert aws_cost.sqs_billed_requests(64 * 1024 + 1) == 2
    assert aws_cost.sqs_billed_requests(256 * 1024) == 4


def test_given_queued_messages_then_send_receive_and_delete_are_counted() -> None:
    # Given 2 SendMessage calls and 2 S3 events per job, and 2 invocations of a queue-fed function
    b = cost_per_1000_jobs({"Webhook sqs:SendMessage": 2.0}, {}, {"FinaliseFunction": 2.0}, MEMORY,
                           replace(BARE, s3_events_per_job=2))
    # Then 4 sends + 2 receives + 2 deletes per job: 8,000 requests at $0.40 per million
    assert _line(b, "SQS", "send").quantity == pytest.approx(8000)
    assert _line(b, "SQS", "send").usd == pytest.approx(0.0032)


def test_given_messages_over_64_kib_then_each_send_is_billed_per_chunk() -> None:
    # Given messages of ~100 KB (two 64 KiB chunks), one send per job
    big = replace(BARE, sqs_message_bytes=100_000)
    b = cost_per_1000_jobs({"Webhook sqs:SendMessage": 1.0}, {}, {}, MEMORY, big)
    # Then each send is billed as 2 requests
    assert _line(b, "SQS", "send").quantity == pytest.approx(2000)


def test_given_an_operation_without_a_price_then_it_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="kms:Decrypt"):
        cost_per_1000_jobs({"Submit kms:Decrypt": 1.0}, {}, {}, MEMORY, BARE)


def test_given_the_default_assumptions_then_inputs_leave_aws_and_results_are_stored() -> None:
    # Given a 2 MB photo and a 0.25 MB source fetched by AKOOL, a 2 MB result and 4 KiB report kept a month
    b = cost_per_1000_jobs({}, {}, {}, MEMORY)
    gib = 2**30
    assert _line(b, "Data transfer", "out").usd == pytest.approx(2_250_000 / gib * 1000 * 0.09)
    stored = (2_004_096 / gib + 2_250_000 / gib / 30) * 1000
    assert _line(b, "S3", "storage").usd == pytest.approx(stored * 0.023)


def test_total_is_the_sum_of_the_line_items() -> None:
    # Given a job with messages, an event and compute / When priced / Then the total is its lines' sum
    b = cost_per_1000_jobs({"Webhook sqs:SendMessage": 2.0, "Finalise events:PutEvents": 1.0},
                           {"SubmitFunction": 200.0}, {"SubmitFunction": 2.0}, MEMORY)
    assert b.total_usd == pytest.approx(sum(li.usd for li in b.lines))
    assert _line(b, "EventBridge", "custom").usd == pytest.approx(0.001)


def test_the_report_section_lists_every_price_with_its_date_and_url() -> None:
    # Given a priced job / When the section is written / Then every price has its date, URL and source
    b = cost_per_1000_jobs({}, {"SubmitFunction": 100.0}, {"SubmitFunction": 1.0}, MEMORY)
    text = aws_cost.markdown({"largest face": b, "face by index": b})
    assert text.startswith(f"## {aws_cost.SECTION_TITLE}\n")
    assert aws_cost.PRICES_AS_OF in text
    for p in PRICES.values():
        (row,) = [r for r in text.splitlines() if r.startswith(f"| {p.item} |")]
        assert p.url in row
        assert re.search(r"\$[0-9.]+", row)
        assert p.checked in row
    for line in Assumptions().lines():
        assert f"- {line}" in text


def test_the_summary_row_says_met_under_the_target_and_missed_over_it() -> None:
    # Given a cost under and one over the target / Then the Summary row says met, or missed for the worst
    cheap = CostBreakdown((aws_cost.LineItem("S3", "x", 1.0, "s3_put", 0.10),))
    dear = CostBreakdown((aws_cost.LineItem("S3", "x", 1.0, "s3_put", 0.60),))
    assert aws_cost.summary_row({"a": cheap}).endswith("| met |")
    assert aws_cost.summary_row({"a": cheap, "b": dear}).endswith("| **missed** |")
    assert aws_cost.PRICES_AS_OF in aws_cost.summary_row({"a": cheap})


def test_the_bench_prices_both_warm_columns_with_the_templates_memory() -> None:
    # Given the bench's warm figures of one job (the bench imports the local stack, whose emulator needs
    # cv2: in the dev venv only, not the 3.13 one) / Then both columns priced with the template's memory
    pytest.importorskip("cv2")
    from benchmarks import run
    from devkit.template import functions, load_template

    memory = functions(load_template())["SubmitFunction"]["MemorySize"]
    job = {"aws_calls_by_operation_per_job": {}, "handler_ms_per_job": {"SubmitFunction": 1000.0},
           "invocations_per_job": {"SubmitFunction": 1.0}}
    costs = run.aws_costs({"single": job, "indexed": job})
    assert list(costs) == ["largest face", "face by index"]
    assert _line(costs["largest face"], "Lambda", "duration (handler)").quantity == pytest.approx(
        1000 * memory / 1024)


def test_every_aws_operation_the_code_calls_has_a_price() -> None:
    # Given the boto3 calls the layer makes (its adapters name their clients _s3, _ddb, _sqs, _events)
    from devkit.template import ROOT

    services = {"s3": "s3", "ddb": "dynamodb", "sqs": "sqs", "events": "events"}
    local_only = {"generate_presigned_url", "upload_file"}  # no request / a PutObject or multipart upload
    found = set()
    for path in (ROOT / "layers" / "dropswap" / "dropswap").rglob("*.py"):
        for client, method in re.findall(r"\b_(s3|ddb|sqs|events)\.([a-z0-9_]+)\(", path.read_text("utf-8")):
            if method not in local_only:
                pascal = "".join(part.capitalize() if not part[0].isdigit() else part.upper()
                                 for part in method.split("_"))
                found.add(f"{services[client]}:{pascal}")
    assert {"s3:GetObject", "dynamodb:UpdateItem", "sqs:SendMessage", "events:PutEvents"} <= found
    # When each is priced, Then none is refused (the bench would otherwise fail when it writes REPORT.md)
    for op in sorted(found):
        cost_per_1000_jobs({f"X {op}": 1.0}, {}, {}, MEMORY, BARE)


# The warm run's AWS calls per job by operation in benchmarks/REPORT.md (largest face), measured before the
# live states (issue 18).
MEASURED_BEFORE_LIVE_STATES = {
    "Finalise dynamodb:GetItem": 2.0, "Finalise dynamodb:UpdateItem": 4.0, "Finalise events:PutEvents": 1.0,
    "Finalise s3:HeadObject": 2.0, "Finalise s3:PutObject": 2.0, "Submit dynamodb:GetItem": 1.0,
    "Submit dynamodb:Query": 1.0, "Submit dynamodb:UpdateItem": 2.0, "Submit s3:GetObject": 7.0,
    "Submit s3:HeadObject": 2.0, "Submit s3:PutObject": 2.0, "Webhook dynamodb:GetItem": 2.0,
    "Webhook dynamodb:UpdateItem": 1.0, "Webhook sqs:SendMessage": 2.0,
}


def test_given_the_calls_added_since_measured_then_they_cost_their_requests_and_one_write_per_job() -> None:
    # Given the measured calls per job, priced without and with what the live states and the armed webhook
    # token add
    before = cost_per_1000_jobs(MEASURED_BEFORE_LIVE_STATES, {}, {}, MEMORY, BARE)
    after = cost_per_1000_jobs(with_calls_added(MEASURED_BEFORE_LIVE_STATES), {}, {}, MEMORY, BARE)
    # Then the difference is their request prices (S3 DELETE is free) and one DynamoDB write per job, of
    # the job's item and its index entries
    requests = 2000 * PRICES["s3_put"].usd_per_unit + 2000 * PRICES["s3_get"].usd_per_unit + 1000 * PRICES[
        "eventbridge_event"].usd_per_unit
    write = (math.ceil(BARE.item_kb) + BARE.index_wru_per_write) * PRICES["dynamodb_wru"].usd_per_unit
    assert after.total_usd - before.total_usd == pytest.approx(requests + 1000 * write)
    assert after.by_service()["DynamoDB"] - before.by_service()["DynamoDB"] == pytest.approx(1000 * write)
