"""Least-privilege IAM for the runner and vault roles, generated from the policy (``make iam``)."""
