"""The manager dashboard: live waits, the forecast, lanes and alerts per hall, served by the
backend (``/dashboard``, ``/ws/dashboard``, ``/v1/alerts``, ``/v1/exports``).

- ``store``: the day's wait samples and alerts (with their acknowledgements) in the records store;
- ``forecast``: the next hours per hall from the schedule, with the queue monitor's planning code;
- ``live``: the background loops (sampler, alert recorder, live relay, forecaster) and the hub
  that fans their messages out to the open dashboards;
- ``routes``: the page, the websocket and the JSON and CSV endpoints.
"""
