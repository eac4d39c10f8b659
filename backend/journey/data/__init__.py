"""Data shipped with the journey package (the weekly timetable)."""
