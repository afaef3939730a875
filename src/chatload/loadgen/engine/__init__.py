"""The process engine: the options of a run, what one Locust process shares between
its users (the runtime), its garbage-collector policy and what its people write."""
