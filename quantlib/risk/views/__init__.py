"""Views of the risk package: the risk register, indicator trends and the success scorecard as report tables."""
