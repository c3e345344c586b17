"""Field operations optimisation on OR-Tools: routing, re-routing, weekly scheduling,
skill matching, capacity (queueing) and resource allocation.

Every optimiser takes a plain problem object and returns a plan with ``validate()`` and KPIs.
"""
