"""``python -m awsdr.policy [--schema] [PATH]``."""

import sys

from awsdr.policy.cli import main

sys.exit(main())
