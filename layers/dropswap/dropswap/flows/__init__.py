"""What each Lambda function does, one module or package per function (submit, webhook, finalise,
reconcile), over the domain's ports. `common/` holds the steps more than one flow runs (ending a job,
finalising, pacing, a queue batch). Flows never import each other (import-linter).
"""
