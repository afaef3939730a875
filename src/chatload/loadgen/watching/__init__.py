"""The run observed and judged while it goes: generator health, clock offsets, the live
figures, SLO gates, Prometheus and the web UI's tabs.
"""
