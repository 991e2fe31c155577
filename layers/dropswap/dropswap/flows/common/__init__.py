"""Steps shared by more than one flow: ending a job (job_end), applying AKOOL's word (finaliser), pacing
submissions to AKOOL's limits (pacing) and running a batch of SQS messages (queue_batch)."""
