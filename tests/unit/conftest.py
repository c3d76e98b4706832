import os

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
