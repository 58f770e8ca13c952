"""``python -m awsdr.policy [--schema] [PATH]``."""

import sys

from awsdr.policy import main

sys.exit(main())
