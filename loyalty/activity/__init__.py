"""Activity points: registration, profile, birthday, surveys, daily check-in."""
