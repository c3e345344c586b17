"""KPI report views: the tables and series of the company reports (:mod:`.report`)."""
