"""Customer-analytics views: churn risk (:mod:`.churn`), segments (:mod:`.segments`), lifetime value
(:mod:`.value`) and the monthly review's customer section (:mod:`.review`), with their notebook
parameters."""
