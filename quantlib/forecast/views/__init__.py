"""Forecast report views (:mod:`.report`) and the forecast notebooks' parameters (:mod:`.parameters`)."""
