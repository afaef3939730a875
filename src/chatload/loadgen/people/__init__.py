"""Who the simulated people are and what they do: the abstract chat user, the personas,
their identities and their shares of a run.
"""
