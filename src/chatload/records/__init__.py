"""Microsecond records and chatload's CSV exports, with no Locust and no gevent."""
