"""The device under test: capabilities, the factory that builds them, the strategy that moves it."""
