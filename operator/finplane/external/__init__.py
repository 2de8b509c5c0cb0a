"""The one place that imports boto3 (ECR, STS, S3)."""
