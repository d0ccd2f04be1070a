"""The pytest fixtures that run the provider simulators (`simulators/`), and their own tests."""
