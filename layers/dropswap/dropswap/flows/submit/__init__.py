"""SubmitFunction's flow: an upload under inbox/ becomes a job at AKOOL, or WAITING, REJECTED or FAILED.

submitter (which jobs an upload concerns, the claim) → input_gate (are the inputs there and usable) →
submission (what the claim holder does) → staging (pinned copies), akool_swap (detect, then swap) or
faces_mode (detection only).
"""
