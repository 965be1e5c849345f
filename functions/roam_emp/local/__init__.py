"""The embedded default: the whole system on one machine, no AWS account.

moto's server stands in for AWS (boto3 follows ``AWS_ENDPOINT_URL``), a local HTTP gateway turns
requests into API Gateway proxy events for the very same handlers, local timers play the
EventBridge schedules and a poller feeds SQS batches to queue consumers. Everything listens on
127.0.0.1 only.
"""
