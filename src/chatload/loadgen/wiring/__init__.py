"""chatload inside Locust: the plugin on Locust's events, dispatch, shapes, the capacity
search's shape, the embedded server, pre-flight and the fixes around Locust's own
machinery.
"""
