"""cfn-lint on template.yaml after the SAM transform: what CloudFormation actually receives.

`cfn-lint template.yaml` (make lint) checks the template as written; the transform's output is what
CloudFormation validates, so intrinsics inside SAM-expanded policies are only checked here. Runs in the
dev venv (cfn-lint is not in the python3.13 unit venv).
"""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from tests.unit.sam_transform import NO_EXTRA_BUCKETS, REGION, TWO_EXTRA_BUCKETS, transformed_template


@pytest.mark.parametrize(
    "extra_source_buckets", [NO_EXTRA_BUCKETS, TWO_EXTRA_BUCKETS], ids=["no-extra", "two-extra"]
)
def test_given_transformed_template_when_linted_then_no_errors_or_warnings(extra_source_buckets: str) -> None:
    # Given template.yaml as CloudFormation receives it, with and without ExtraSourceBuckets
    body = json.dumps(transformed_template(extra_source_buckets))
    # When cfn-lint checks it
    matches = lint(body, config=ManualArgs(regions=[REGION]))
    # Then it finds nothing worse than informational
    problems = [m for m in matches if m.rule.severity in ("error", "warning")]
    assert not problems, "\n".join(str(m) for m in problems)


def test_given_a_function_in_a_join_delimiter_then_the_lint_reports_it() -> None:
    # The defect issue 9 found (E1018/E1022: Fn::Join takes only a literal delimiter) is one this catches.
    template = json.loads(json.dumps(transformed_template(NO_EXTRA_BUCKETS)))
    statements = template["Resources"]["SubmitFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    joined = {"Fn::Join": [{"Fn::Sub": "/*,arn:${AWS::Partition}:s3:::"}, {"Ref": "ExtraSourceBuckets"}]}
    statements["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Split": [
        ",", {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Joined}/*", {"Joined": joined}]}]}})
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert any(m.rule.severity == "error" and "Fn::Sub" in str(m) for m in matches), [str(m) for m in matches]
