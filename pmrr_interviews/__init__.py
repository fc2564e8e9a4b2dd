"""pmrr_interviews package."""
