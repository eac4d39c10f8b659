"""The officer lane console: the page, its live feed, desks and lane-command prompts."""
