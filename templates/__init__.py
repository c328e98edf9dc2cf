"""Default templates (the theme), shipped inside the package."""
