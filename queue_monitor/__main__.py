"""``python -m queue_monitor``: run one monitor until SIGINT/SIGTERM."""

from queue_monitor.service import main

main()
