"""Test-session settings."""

import logging
import os

# Prefect's ephemeral server logs "Stopping temporary server" at interpreter exit, after pytest
# has closed its captured streams; logging would print a traceback for that harmless write.
logging.raiseExceptions = False
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
