"""The anti-piracy core: what the Lambda functions, the operator CLI and the local deployment share.

Layers, each importing only the ones before it:
- `domain`: plain values and rules (job states, reports, the wait schedule, notifications, the WAF rule layout);
  no I/O, no boto3.
- `ports`: the small typed interfaces the services need of the outside world.
- `adapters`: those interfaces over AWS (DynamoDB, S3, Step Functions, SNS, SQS, WAF, CloudFormation).
- `services`: the product's use cases (submit, track, report, revoke, wake, register), taking ports as arguments.
- `wiring`: the one module that builds the adapters for a Lambda process and hands them to the services.
The handlers in functions/ parse their event (`events`), call a service through `wiring`, and return.
"""
