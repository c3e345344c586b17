"""Customer analytics: churn risk, segmentation, lifetime value and recommendations.

Import the engines from their modules (``quantlib.customers.churn``, ``.segments``,
``.clv``, ``.recommend``); each follows scikit-learn's estimator contract.
"""
