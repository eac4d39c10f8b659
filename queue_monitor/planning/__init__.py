"""Queue planning: scenarios, arrival curves, Erlang C, the fluid forecaster, the lane controller,
the staffing policies and the SimPy hall simulator that compares them.

Everything here is pure (no I/O, no clock) except ``scenario.load_scenario`` (reads a file) and
``report.plot`` (writes a PNG). The live monitor can call ``controller.decide`` with a
``HallSnapshot`` built from Redis; the simulator calls the very same function.
"""
