"""Traffic like production: a traffic model (families per quantity and role), fitted from
an export, drawn from by the generator's people, and the proof that a run followed it.
Pure: no Locust, no gevent.
"""
