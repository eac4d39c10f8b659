"""Queue monitor: measures each traveller's wait (joined to served) from the Redis streams and
publishes rolling per-hall statistics (95th percentile, mean, share within the 25-minute target).

Entry points: ``QueueMonitor(redis, settings).run(stop)``, ``read_stats(redis, hall)``,
``MonitorSettings``; pure statistics in ``queue_monitor.waits``.
"""

from queue_monitor.service import QueueMonitor, read_stats, serve
from queue_monitor.settings import MonitorSettings

__all__ = ["MonitorSettings", "QueueMonitor", "read_stats", "serve"]
