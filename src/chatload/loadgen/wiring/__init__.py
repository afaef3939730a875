"""chatload inside Locust: options, the process's shared runtime, dispatch, shapes,
the embedded server, pre-flight and the fixes around Locust's own machinery.
"""
