"""Report views of model monitoring: model cards, metrics over time and the monthly review's appendix."""

from quantlib.monitor.views.appendix import ModelCardSection, model_card_section
from quantlib.monitor.views.cards import MODEL_DESCRIPTIONS, metric_history, model_cards

__all__ = ["MODEL_DESCRIPTIONS", "ModelCardSection", "metric_history", "model_card_section", "model_cards"]
