"""Referrals: every traveller an e-gate sends to an officer, until the officer decides."""
