"""AWS DR Pipelines: policy, planners, resource kinds and Airflow glue."""
