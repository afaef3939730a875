"""Performance history: every run's figures kept, and the commit where one changed."""
