"""Agents: what answers a finished user turn (native model, cascade, test agents)."""
