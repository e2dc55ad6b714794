"""The RelayPoint reference application."""
