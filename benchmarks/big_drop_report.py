"""The big-drop benchmark's markdown section, from the figures benchmarks.big_drop measured."""

from __future__ import annotations

from typing import Any

DLQ_TARGET = 0
THROTTLE_TARGET = 0.05
UTILISATION_TARGET = 0.95  # issue 20 (issue 10 asked 0.9)
WEBHOOK_P99_TARGET = 1.0
DESIGNS = {
    "before": "S3 → SubmitFunction (async invoke, Lambda retries, failure queue); webhook finalises inline",
    "main": "S3 → SubmitQueue → SubmitFunction (MaximumConcurrency = SubmitConcurrency, AKOOL pacing: waits "
            "for room, then prepares and submits); webhook → FinaliseQueue → FinaliseFunction",
    "after": "as `main`, but a submission prepares its swap (checks, staging, detection) before it waits for "
             "a slot, and waits by reading the slot item every 50 ms (issue 20)",
}


def _num(value: Any, fmt: str = ".2f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _at_most(value: float | None, target: float) -> str:
    return _verdict(None if value is None else value <= target)


def _at_least(value: float | None, target: float) -> str:
    return _verdict(None if value is None else value >= target)


def _intro(r: dict[str, Any]) -> str:
    d, opts = r.get("drop") or {}, r["options"]
    setup = r.get("setup") or {}
    emu = setup.get("emulator") or {}
    return (
        f"{opts['photos']} photos with sidecars uploaded by {opts['upload_threads']} threads as fast as "
        "they go, into the local stack (template.yaml on MiniStack). AKOOL emulator: realistic mode, "
        f"passthrough engine, each job {emu.get('queue_seconds')} s queued + "
        f"{emu.get('processing_seconds')} s processing (≈{d.get('job_seconds')} s in an account slot), "
        f"account limits concurrent_jobs={emu.get('concurrent_jobs')}, "
        f"requests_per_second={emu.get('requests_per_second')}. MiniStack settings: "
        f"{setup.get('ministack_env')}. Uploads took {_num(d.get('upload_seconds'), '.1f', ' s')}; the "
        f"wait ended: {d.get('ended')} (limit {_num(d.get('wait_limit_seconds'), '.0f', ' s')}); the "
        f"whole run took {_num(r.get('total_seconds', 0) / 60, '.1f', ' min')}. Started "
        f"{r.get('started')} on {_machine(r)}." + (f" {r['note']}" if r.get("note") else "")
    )


def _machine(r: dict[str, Any]) -> str:
    m = r.get("machine") or {}
    load = (f"; 1-minute load average {m['load_average_start']} at the start, {m.get('load_average_end')} "
            "at the end" if "load_average_start" in m else "")
    return f"{m.get('cores')} cores, {m.get('ram_mib')} MiB RAM{load}"


def _table(r: dict[str, Any]) -> list[str]:
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    big = r.get("big_results") or {}
    st = d.get("statuses") or {}
    slots = (r.get("setup") or {}).get("emulator", {}).get("concurrent_jobs")
    failed_msgs = sum(q["visible"] + q["in_flight"] for q in d.get("queues", []) if q["failure_queue"])
    ratio = a.get("throttled_submits_per_accepted")
    util = a.get("utilisation")
    p99 = big.get("p99_seconds")
    all_ok = st.get("SUCCEEDED") == r["options"]["photos"]
    t_min = _num(d.get("theoretical_minimum_seconds"), ".0f", " s")
    return [
        "| figure | measured | target | |",
        "|---|---|---|---|",
        f"| jobs SUCCEEDED / FAILED / REJECTED / not finished | {st.get('SUCCEEDED')} / {st.get('FAILED')} / "
        f"{st.get('REJECTED')} / {st.get('not finished')} | all SUCCEEDED | {_verdict(all_ok)} |",
        f"| messages in DLQs / failure queues | {failed_msgs} | {DLQ_TARGET} | "
        f"{_verdict(failed_msgs == DLQ_TARGET)} |",
        f"| AKOOL 1005 per accepted submission | {_num(ratio, '.3f')} ({a.get('throttled_submits')} 1005s "
        f"on submit, {a.get('accepted_submissions')} accepted; all routes {a.get('throttled_all_routes')}) "
        f"| ≤ {THROTTLE_TARGET} | {_at_most(ratio, THROTTLE_TARGET)} |",
        f"| AKOOL utilisation (slot time ÷ {slots} × first→last submission, "
        f"{_num(a.get('window_seconds'), '.0f', ' s')}) | {_num(util)} | ≥ {UTILISATION_TARGET} | "
        f"{_at_least(util, UTILISATION_TARGET)} |",
        f"| time to last result ÷ theoretical minimum ({t_min}) | "
        f"{_num(d.get('time_to_last_result_ratio'))} (last result "
        f"{_num(d.get('time_to_last_result_seconds'), '.0f', ' s')} after the first upload) | near 1 | |",
        f"| webhook answer, 50 MB result, p50 / p99 | {_num(big.get('p50_seconds'), '.2f', ' s')} / "
        f"{_num(p99, '.2f', ' s')} ({big.get('final_callback_attempts', 0)} POSTs) | "
        f"p99 ≤ {WEBHOOK_P99_TARGET} s | {_at_most(p99, WEBHOOK_P99_TARGET)} |",
    ]


def _details(r: dict[str, Any]) -> list[str]:
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    f = d.get("functions") or {}
    workers = f.get("peak_workers") or {}
    lines = [
        f"Function concurrency: SubmitFunction peaked at {f.get('submit_peak_overlapping_invocations')} "
        f"overlapping invocations (from the start and end of each of its {f.get('submit_invocations')} "
        f"invocations, by their REPORT log lines) and {workers.get('SubmitFunction')} worker processes "
        "(MiniStack spawns one only when every worker of the function is busy). Peak worker processes of "
        f"all functions: {workers}; their peak RSS {f.get('peak_workers_rss_mib')} MiB; least memory "
        f"available {f.get('min_available_mib')} MiB.",
        "",
        f"AKOOL: {a.get('submit_requests')} submit requests, {a.get('jobs_accepted')} jobs accepted "
        f"({_num(a.get('jobs_accepted_per_photo'))} per photo), at most {a.get('peak_in_flight')} in flight, "
        f"1005s by limit {a.get('throttled_by_limit')}; utilisation over first→last *accepted* submission "
        f"{_num(a.get('utilisation_accepted_window'))}.",
        "",
        *_handover(a.get("handover")),
    ]
    for q in d.get("queues", []):
        kind = "failure queue" if q["failure_queue"] else "queue"
        why = f"; why: {q.get('reasons')}; events: {q.get('events')}" if q["failure_queue"] else ""
        lines.append(f"- {q['output']} ({kind}): {q['visible']} visible, {q['in_flight']} in flight{why}")
    big = r.get("big_results")
    src = r.get("big_results_from")
    if big:
        lines += [
            "",
            (f"50 MB phase measured in a separate run (label {src['label']}, commit {src['commit']}): "
             f"{src['why']}. " if src else "")
            + f"50 MB phase (account limits off; {big.get('jobs_with_big_result')} jobs with results of "
            f"{big.get('result_bytes')} bytes): final-callback answers {big.get('final_callback_answers')}, "
            f"seconds {big.get('final_callback_seconds')}; the same jobs' status-2 callbacks p50/p99 "
            f"{_num(big.get('processing_callback_p50_seconds'), '.2f', ' s')} / "
            f"{_num(big.get('processing_callback_p99_seconds'), '.2f', ' s')}.",
        ]
    return lines


def _handover_cell(h: dict[str, Any] | None) -> str:
    if not h or not h.get("count"):
        return "n/a (not measured)"
    return (f"{_num(h.get('gap_p50'), '.2f', ' s')} / {_num(h.get('gap_p90'), '.2f', ' s')} "
            f"({_num(h.get('callback_p50'), '.2f', ' s')})")


def _handover(h: dict[str, Any] | None) -> list[str]:
    """The hand-over of a freed slot, split at the webhook's answer to the final callback."""
    if not h or not h.get("count"):
        return []
    return [
        f"Hand-over of a freed AKOOL slot to the next job ({h['count']} hand-overs), p50 / p90: "
        f"{_num(h.get('gap_p50'), '.2f', ' s')} / {_num(h.get('gap_p90'), '.2f', ' s')} from AKOOL's end "
        f"of a job to its next acceptance; of which the final callback's trip to the webhook's answer "
        f"(the slot is released just before it) {_num(h.get('callback_p50'), '.2f', ' s')} / "
        f"{_num(h.get('callback_p90'), '.2f', ' s')}, and from that answer to the next acceptance "
        f"{_num(h.get('after_callback_p50'), '.2f', ' s')} / "
        f"{_num(h.get('after_callback_p90'), '.2f', ' s')}.",
        "",
    ]


def markdown(r: dict[str, Any]) -> str:
    return "\n".join([f"## Big drop ({r['label']})", "", _intro(r), "", *_table(r), "", *_details(r)]) + "\n"


def _figures(r: dict[str, Any]) -> dict[str, str]:
    """One run's headline figures, as the comparison table shows them."""
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    big = r.get("big_results") or {}
    st = d.get("statuses") or {}
    failed = sum(q["visible"] + q["in_flight"] for q in d.get("queues", []) if q["failure_queue"])
    f = d.get("functions") or {}
    submit_workers = (f.get("peak_workers") or {}).get("SubmitFunction")
    return {
        "design": DESIGNS.get(r["label"], r["label"]),
        "code (commit)": str(r.get("commit")),
        "SubmitFunction concurrency (peak overlapping invocations / worker processes)":
            f"{f.get('submit_peak_overlapping_invocations')} / {submit_workers}",
        "jobs SUCCEEDED / FAILED / REJECTED / not finished":
            f"{st.get('SUCCEEDED')} / {st.get('FAILED')} / {st.get('REJECTED')} / "
            f"{st.get('not finished')}",
        "messages left in DLQs / failure queues (target 0)": str(failed),
        f"AKOOL 1005 per accepted submission (target ≤ {THROTTLE_TARGET})":
            f"{_num(a.get('throttled_submits_per_accepted'), '.3f')} ({a.get('throttled_submits')} / "
            f"{a.get('accepted_submissions')})",
        f"AKOOL utilisation (target ≥ {UTILISATION_TARGET})": _num(a.get("utilisation")),
        "freed slot → next acceptance, p50 / p90 (of which the final callback's trip, p50)":
            _handover_cell(a.get("handover")),
        "time to last result ÷ theoretical minimum (no target of its own)":
            f"{_num(d.get('time_to_last_result_ratio'))} (minimum "
            f"{_num(d.get('theoretical_minimum_seconds'), '.0f', ' s')}; run ended: {d.get('ended')})",
        f"webhook answer, 50 MB result, p50 / p99 (target p99 ≤ {WEBHOOK_P99_TARGET} s)":
            f"{_num(big.get('p50_seconds'), '.2f', ' s')} / {_num(big.get('p99_seconds'), '.2f', ' s')}",
        "whole run": _num(r.get("total_seconds", 0) / 60, ".1f", " min"),
    }


def verdicts(r: dict[str, Any]) -> dict[str, bool | None]:
    """Each big-drop target: met (True), missed (False) or not measured (None)."""
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    big = r.get("big_results") or {}
    failed = sum(q["visible"] + q["in_flight"] for q in d.get("queues", []) if q["failure_queue"])
    ratio, util, p99 = a.get("throttled_submits_per_accepted"), a.get("utilisation"), big.get("p99_seconds")
    return {
        "all SUCCEEDED": (d.get("statuses") or {}).get("SUCCEEDED") == r["options"]["photos"],
        "no DLQ message": failed == DLQ_TARGET,
        "1005 per submission": None if ratio is None else ratio <= THROTTLE_TARGET,
        "utilisation": None if util is None else util >= UTILISATION_TARGET,
        "webhook p99": None if p99 is None else p99 <= WEBHOOK_P99_TARGET,
    }


def comparison(before: dict[str, Any], after: dict[str, Any], main: dict[str, Any] | None = None) -> str:
    """The REPORT.md "Big drop" section: the design before issue 10, the queued design as issue 10 left it
    (`main`, when measured), and this tree's (`after`)."""
    runs = [r for r in (before, main, after) if r is not None]
    figures = [_figures(r) for r in runs]
    lines = ["## Big drop", "",
             "`python -m benchmarks.big_drop` (a `make bench` section): the same drop against the design "
             "before the queue (label `before`, measured once on that commit and kept in "
             "benchmarks/big_drop_before.json), "
             + ("the queued design as issue 10 left it (label `main`, measured on that commit and kept in "
                "benchmarks/big_drop_main.json), " if main is not None else "")
             + "and this tree's (label `after`, measured by this `make bench`).", "",
             "| figure | " + " | ".join(r["label"] for r in runs) + " |",
             "|---|" + "---|" * len(runs)]
    lines += [f"| {k} | " + " | ".join(f[k] for f in figures) + " |" for k in figures[-1]]
    lines.append("")
    for r in runs[1:]:
        met = verdicts(r)
        lines.append(f"Targets on `{r['label']}`: " + ", ".join(f"{k} {_verdict(v)}" for k, v in met.items())
                     + ".")
    lines.append("")
    misses = _misses(after, verdicts(after))
    if misses:
        lines += ["### Where this tree misses a target, and what would reach it", "", *misses, ""]
    for r in runs:
        lines += [f"### Run: {r['label']}", "", _intro(r), "", *_details(r), ""]
    return "\n".join(lines[:-1]) + "\n"


def _misses(r: dict[str, Any], met: dict[str, bool | None]) -> list[str]:
    """Why each missed target is missed (as far as the figures show) and what would reach it."""
    d = r.get("drop") or {}
    a = d.get("akool") or {}
    out: list[str] = []
    util, slot = a.get("utilisation"), d.get("job_seconds")
    if met.get("utilisation") is False and util and slot:
        gap = float(slot) * (1 / float(util) - 1)
        h = a.get("handover") or {}
        out.append(
            f"- **AKOOL utilisation {util:.2f} (target {UTILISATION_TARGET}).** Each job holds an AKOOL slot "
            f"for {float(slot):.1f} s, so {util:.2f} means about {gap:.2f} s per job between AKOOL finishing "
            "one job and accepting the next on that slot (measured: p50 "
            f"{_num(h.get('gap_p50'), '.2f', ' s')}, p90 {_num(h.get('gap_p90'), '.2f', ' s')}). Of that, "
            "the final callback's trip to the "
            f"webhook's answer (the slot is released just before it) took p50 "
            f"{_num(h.get('callback_p50'), '.2f', ' s')} / p90 {_num(h.get('callback_p90'), '.2f', ' s')}, "
            f"and the rest (the waiting submitter's next look, its take, the credit count, the submit "
            f"request) p50 {_num(h.get('after_callback_p50'), '.2f', ' s')} / p90 "
            f"{_num(h.get('after_callback_p90'), '.2f', ' s')}. The target allows "
            f"{float(slot) * (1 / UTILISATION_TARGET - 1):.2f} s on average, so the tail counts as much as "
            "the median: on this shared 2-core machine a MiniStack worker or the server process waiting for "
            "a core adds tenths of a second to a callback or a submit. What would reach it: a shorter "
            "callback trip (WebhookFunction with provisioned concurrency, so no final callback waits for a "
            "worker to start) and fewer calls between the look and the submit (the credit counted while "
            "the swap waits for its slot, given back if none comes)."
        )
    p99 = (r.get("big_results") or {}).get("p99_seconds")
    if met.get("webhook p99") is False and p99 is not None:
        out.append(
            f"- **Webhook answer p99 {p99} s for a 50 MB result (target {WEBHOOK_P99_TARGET} s).** The "
            "answer does not depend on the result's size (the webhook verifies and enqueues; "
            "FinaliseFunction downloads), so a slow answer is most likely a cold start: MiniStack starts "
            "a worker when every WebhookFunction worker is busy. On AWS, provisioned concurrency for "
            "WebhookFunction keeps cold starts out of the answer."
        )
    return out
